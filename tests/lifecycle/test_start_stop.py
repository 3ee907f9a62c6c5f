"""``lifecycle.install()`` and ``uninstall()``: idempotent, switched by the settings, and
exact: every patched Django attribute goes back, open spans are ended, nothing leaks into the
next request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand
from django.test import Client, RequestFactory, SimpleTestCase

import signal_tracing
from signal_tracing import firings
from signal_tracing.instrumentation import apply_settings
from signal_tracing.lifecycle import patches
from signal_tracing.nesting import current_node
from tests.lifecycle.conftest import Tracing, in_a_new_thread

pytestmark = pytest.mark.urls("tests.lifecycle.urls")

PATCHED = (
    (BaseHandler, "get_response"),
    (BaseHandler, "get_response_async"),
    (ASGIHandler, "__call__"),
    (BaseCommand, "execute"),
    (SimpleTestCase, "__call__"),
)


def class_attributes() -> list[dict[str, Any]]:
    return [dict(vars(owner)) for owner, _name in PATCHED]


@pytest.fixture
def untraced() -> Iterator[None]:
    signal_tracing.uninstrument()
    yield
    apply_settings()


@pytest.mark.usefixtures("untraced")
def test_stop_puts_every_patched_django_attribute_back_exactly() -> None:
    before = class_attributes()
    for owner, name in PATCHED:
        function = vars(owner)[name]
        assert not hasattr(function, "__wrapped__"), f"{owner.__name__}.{name} is still wrapped"
        assert function.__module__.startswith("django."), function.__module__

    signal_tracing.instrument()
    for owner, name in PATCHED:
        assert vars(owner)[name].__wrapped__ is before[PATCHED.index((owner, name))][name]
    assert firings.has_hooks()

    signal_tracing.uninstrument()
    after = class_attributes()
    for (owner, name), was, now in zip(PATCHED, before, after):
        assert now[name] is was[name], f"{owner.__name__}.{name} was not restored"
        assert now.keys() == was.keys()
    assert not firings.has_hooks()


@pytest.mark.usefixtures("untraced")
def test_start_is_idempotent_and_never_wraps_twice() -> None:
    original = vars(BaseHandler)["get_response"]

    for _ in range(3):
        signal_tracing.instrument()
        apply_settings()

    assert vars(BaseHandler)["get_response"].__wrapped__ is original
    signal_tracing.uninstrument()
    signal_tracing.uninstrument()
    assert vars(BaseHandler)["get_response"] is original


@pytest.mark.usefixtures("untraced")
def test_a_wrapper_added_after_ours_is_kept_and_ours_passes_through() -> None:
    original = vars(BaseHandler)["get_response"]
    signal_tracing.instrument()
    ours = vars(BaseHandler)["get_response"]
    calls: list[str] = []

    def theirs(self: Any, request: Any) -> Any:
        calls.append("theirs")
        return ours(self, request)

    theirs.__wrapped__ = ours  # type: ignore[attr-defined]
    BaseHandler.get_response = theirs  # type: ignore[method-assign]
    try:
        signal_tracing.uninstrument()
        assert vars(BaseHandler)["get_response"] is theirs
        assert not patches.GET_RESPONSE.active
        assert Client().get("/plain/").status_code == 200
        assert calls == ["theirs"]

        signal_tracing.instrument()  # ours is switched back on, not wrapped a second time
        assert patches.GET_RESPONSE.active
        assert vars(BaseHandler)["get_response"] is theirs
        assert ours.__wrapped__ is original  # type: ignore[attr-defined]
    finally:
        signal_tracing.uninstrument()
        # Undo the other library's wrapper, then let ours restore Django's function.
        BaseHandler.get_response = ours  # type: ignore[method-assign]
        signal_tracing.instrument()
        signal_tracing.uninstrument()
    assert vars(BaseHandler)["get_response"] is original


def test_request_spans_setting_off_removes_the_request_hooks(tracing: Tracing) -> None:
    signal_tracing.instrument(request_spans=False)

    assert not hasattr(vars(BaseHandler)["get_response"], "__wrapped__")
    Client().get("/plain/")

    # The request's firings are there, each a root of its own, as without lifecycle.
    assert tracing.tree() == "\n".join(
        [
            "request_started tests.lifecycle.conftest.request_began",
            "request_finished tests.lifecycle.conftest.request_ended",
        ]
    )


def test_test_spans_setting_off_removes_the_test_case_patch(tracing: Tracing) -> None:
    signal_tracing.instrument(test_spans=False)

    assert not hasattr(vars(SimpleTestCase)["__call__"], "__wrapped__")


def start_response(status: str, headers: list[tuple[str, str]]) -> None:
    pass


def test_stopping_ends_an_open_request_span_and_the_next_request_is_clean(
    tracing: Tracing,
) -> None:
    def request(path: str) -> Any:
        return WSGIHandler()(RequestFactory().get(path).environ, start_response)

    def stop_during_a_request_then_serve_another() -> object:
        request("/plain/")  # never closed
        signal_tracing.uninstrument()
        stopped = [span.name for span in tracing.spans()]
        signal_tracing.instrument(tracer_provider=tracing.provider)
        request("/items/3/").close()
        return stopped, current_node.get()

    stopped, node_after = in_a_new_thread(stop_during_a_request_then_serve_another)

    assert stopped == ["request_started tests.lifecycle.conftest.request_began", "GET plain/"]
    assert tracing.named("GET items/<int:pk>/").parent is None
    assert node_after is None
