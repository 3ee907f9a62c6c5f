from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.dispatch import Signal
from django.test import AsyncClient, Client

from tests.panels.receivers import SLOW_SECONDS
from tests.panels.views import LEFT_CONNECTED

PANEL_ID = "SignalTracingPanel"
#: A slow-receiver threshold no receiver of these tests reaches.
NEVER_SLOW_MS = 60_000


class ToolbarClient:
    """A test client on a site with the toolbar showing, and readers for our panel."""

    def __init__(self, client: Client, async_client: AsyncClient) -> None:
        self.client = client
        self.async_client = async_client

    def visit(self, path: str, **params: Any) -> str:
        """GET ``path`` and return the toolbar's request id for it."""
        response = self.client.get(path, params)
        assert response.status_code == 200, response.content
        assert b'id="djDebug"' in response.content, "the toolbar was not inserted"
        return str(response.headers["djdt-request-id"])

    async def avisit(self, path: str) -> str:
        response = await self.async_client.get(path)
        assert response.status_code == 200, response.content
        return str(response.headers["djdt-request-id"])

    def render_panel(self, request_id: str) -> str:
        """Return the panel's HTML as the toolbar's render_panel endpoint serves it."""
        response = self.client.get(
            "/__debug__/render_panel/", {"request_id": request_id, "panel_id": PANEL_ID}
        )
        assert response.status_code == 200
        return str(response.json()["content"])

    def stored_stats(self, request_id: str) -> dict[str, Any]:
        """Return the panel's stats as the toolbar's store holds them (decoded JSON)."""
        from debug_toolbar.toolbar import DebugToolbar

        toolbar = DebugToolbar.fetch(request_id, PANEL_ID)
        assert toolbar is not None, f"request {request_id} is not in the toolbar's store"
        stats: dict[str, Any] = toolbar.get_panel_by_id(PANEL_ID).get_stats()
        return stats


@pytest.fixture
def toolbar(settings: Any) -> Iterator[ToolbarClient]:
    """The test site with DEBUG on, the toolbar middleware first and our panel enabled."""
    settings.DEBUG = True
    # No receiver here is slow unless a test makes it so (and sets its own threshold): on a
    # loaded machine a quick one can take 25 ms, which must not add a slow-receiver warning.
    settings.SIGNAL_TRACING = {"ENABLED": True, "SLOW_RECEIVER_MS": NEVER_SLOW_MS}
    settings.ROOT_URLCONF = "tests.panels.urls"
    settings.MIDDLEWARE = [
        "debug_toolbar.middleware.DebugToolbarMiddleware",
        *settings.MIDDLEWARE,
    ]
    yield ToolbarClient(Client(), AsyncClient())
    SLOW_SECONDS["reserve_stock"] = 0.0


@pytest.fixture
def connect() -> Iterator[Callable[..., None]]:
    """Connect receivers for one test; they are disconnected when it ends."""
    connected: list[tuple[Signal, Any, Any]] = []

    def connect(signal: Signal, receiver: Any, sender: Any = None) -> None:
        signal.connect(receiver, sender=sender)
        connected.append((signal, receiver, sender))

    yield connect
    for signal, receiver, sender in connected:
        signal.disconnect(receiver, sender=sender)


@pytest.fixture(autouse=True)
def _disconnect_what_views_left_connected() -> Iterator[None]:
    """The leaking views leave receivers connected on purpose; no later test must see them."""
    yield
    while LEFT_CONNECTED:
        LEFT_CONNECTED.pop()()
