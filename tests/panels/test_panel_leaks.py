"""The "Receiver left connected" warning, through a real toolbar and its endpoints."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.test import Client

from signal_tracing.panels.leak_watch import LeakWatch
from tests.panels import hostile, views
from tests.panels.conftest import ToolbarClient
from tests.panels.html import connected_rows, tags_of, text_of

pytestmark = pytest.mark.django_db

LEAKED = "tests.panels.views.leaky_view.<locals>.on_checkout"


def nav_subtitle(html: str) -> str:
    button = re.search(r'<li id="djdt-SignalTracingPanel".*?<small>(.*?)</small>', html, re.S)
    assert button is not None
    return button.group(1)


def test_a_receiver_connected_in_a_view_is_flagged(toolbar: ToolbarClient, settings: Any) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": True, "SLOW_RECEIVER_MS": 0}
    response = toolbar.client.get("/leaky/")
    assert nav_subtitle(response.content.decode()) == "0 firings · 0.00 ms · 1 warning"
    html = toolbar.render_panel(response.headers["djdt-request-id"])
    line = views.leaky_view.__code__.co_firstlineno + 2  # on_checkout
    assert (
        f"Receiver left connected: {LEAKED} was connected to checkout while this request ran "
        "and is still connected. Strong reference (weak=False): it stays connected, and keeps "
        "alive everything it refers to, until it is disconnected. "
        f"tests/panels/views.py:{line}"
    ) in text_of(html)
    # The same receiver among the connected ones, marked as this request's.
    assert f"{LEAKED} left connected by this request tests/panels/views.py:{line}" in "\n".join(
        connected_rows(html)
    )


def test_each_visit_flags_only_the_receiver_it_connected(toolbar: ToolbarClient) -> None:
    toolbar.visit("/leaky/")
    stats = toolbar.stored_stats(toolbar.visit("/leaky/"))
    assert [(leak["receiver"], leak["weak"]) for leak in stats["leaks"]] == [(LEAKED, False)]
    # Two closures of the same name are connected now; only the newer is this request's.
    checkout = next(s for s in stats["connected"] if s["signal"] == "checkout")
    assert [row["leaked"] for row in checkout["receivers"] if row["receiver"] == LEAKED] == [
        False,
        True,
    ]


def test_receivers_disconnected_before_the_response_are_not_flagged(
    toolbar: ToolbarClient,
) -> None:
    stats = toolbar.stored_stats(toolbar.visit("/tidy/"))
    assert stats["firings"] == 2  # the temporary receiver ran
    assert (stats["leaks"], stats["leaks_omitted"]) == ([], 0)
    assert "left connected" not in toolbar.render_panel(toolbar.visit("/tidy/"))


def test_the_toolbars_own_panels_leave_nothing_connected(toolbar: ToolbarClient) -> None:
    # Every default panel connects and disconnects receivers of its own around the request.
    for _visit in range(2):
        stats = toolbar.stored_stats(toolbar.visit("/busy/"))
        assert stats["leaks"] == []


def test_leaks_are_flagged_with_tracing_off(toolbar: ToolbarClient, settings: Any) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": False}
    response = toolbar.client.get("/leaky/")
    assert nav_subtitle(response.content.decode()) == "tracing off · 1 warning"
    text = text_of(toolbar.render_panel(response.headers["djdt-request-id"]))
    assert "Signal tracing is off" in text
    assert f"Receiver left connected: {LEAKED} was connected to checkout" in text


def test_requests_running_at_the_same_time_are_said_to_share_the_list(
    toolbar: ToolbarClient,
) -> None:
    views.RENDEZVOUS[:] = [threading.Barrier(2), threading.Barrier(2)]
    request_ids: dict[str, str] = {}

    def visit(path: str) -> None:
        response = Client().get(path, {"wait": "1"})
        request_ids[path] = response.headers["djdt-request-id"]

    threads = [threading.Thread(target=visit, args=(path,)) for path in ("/leaky/", "/waiting/")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    views.RENDEZVOUS.clear()
    # The waiting view connected nothing, but a snapshot can't tell threads apart: it lists
    # the leak too, and says another request ran at the same time.
    for path in ("/leaky/", "/waiting/"):
        stats = toolbar.stored_stats(request_ids[path])
        assert [leak["receiver"] for leak in stats["leaks"]] == [LEAKED]
        assert stats["leaks_concurrent"] == 1
        assert (
            "1 other request ran at the same time: a receiver it connected and left connected "
            "is listed here too (connections are per process, not per request)."
        ) in text_of(toolbar.render_panel(request_ids[path]))
    # Alone again: no such sentence.
    assert "at the same time" not in toolbar.render_panel(toolbar.visit("/leaky/"))


def test_a_disabled_panel_takes_no_snapshot(
    toolbar: ToolbarClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[LeakWatch] = []
    real_start = LeakWatch.start

    def counting_start() -> LeakWatch:
        watch = real_start()
        started.append(watch)
        return watch

    monkeypatch.setattr(LeakWatch, "start", counting_start)
    toolbar.visit("/leaky/")
    assert len(started) == 1
    # The toolbar's own switch for a panel (a cookie): disabled panels are not instrumented.
    toolbar.client.cookies["djdtSignalTracingPanel"] = "off"
    toolbar.visit("/leaky/")
    assert len(started) == 1


def test_hostile_receiver_fields_render_as_text(toolbar: ToolbarClient) -> None:
    html = toolbar.render_panel(toolbar.visit("/hostile/leak/"))
    warning = re.search(r'<li class="[^"]*djdt-st-finding-leaked">.*?</li>', html, re.S)
    assert warning is not None
    assert tags_of(warning.group()) == {"li", "strong", "code", "span"}
    text = text_of(warning.group())
    name = f"tests.panels.hostile.{hostile.QUALNAME}"
    assert f"Receiver left connected: {name} was connected to parcel_scanned" in text
    assert f"(sender {hostile.SENDER})" in text
    assert f"dispatch_uid {hostile.DISPATCH_UID} #" in text
    assert text.endswith(f"{hostile.FILE_NAME}:1")
    assert "<script>" not in html
    assert "<img" not in html
