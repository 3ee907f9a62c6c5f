"""SignalTracingPanel inside a real django-debug-toolbar, through its own endpoints."""

from __future__ import annotations

import json
import re
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db.models.signals import post_save
from django.test import Client
from django.utils.html import escape
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from signal_tracing import nesting
from signal_tracing.panels.stats import MAX_FIRINGS
from tests.panels import hostile, views
from tests.panels.conftest import PANEL_ID, ToolbarClient
from tests.panels.html import connected_rows, tags_of, text_of, timeline_rows
from tests.panels.receivers import (
    SLOW_SECONDS,
    audit_payment,
    count_item,
    email_receipt,
    notify_warehouse,
    reserve_stock,
    thank_customer,
)
from tests.panels.store import CountingStore
from tests.testapp.models import Author, ExplodingRepr

pytestmark = pytest.mark.django_db


def test_render_panel_shows_every_firing_and_receiver_in_request_order(
    toolbar: ToolbarClient,
) -> None:
    html = toolbar.render_panel(toolbar.visit("/checkout/"))

    def called(receiver: Any) -> str:
        # The receiver's dotted name and file:line, as the tree column shows them.
        line = receiver.__code__.co_firstlineno
        return f"tests.panels.receivers.{receiver.__name__} tests/panels/receivers.py:{line}"

    assert timeline_rows(html) == [
        "checkout | shop | send | 2 receivers | ok",
        f"{called(reserve_stock)} | shop | send | sync | ok",
        f"{called(email_receipt)} | shop | send | sync | ok",
        "checkout re-entrant | shop | send | 2 receivers | ok",
        f"{called(reserve_stock)} | shop | send | sync | ok",
        f"{called(email_receipt)} | shop | send | sync | ok",
        "paid | shop | send_robust | 3 receivers | ok",
        f"{called(notify_warehouse)} | shop | send_robust | sync | handled by send_robust",
        f"{called(thank_customer)} | shop | send_robust | sync | ok",
        f"{called(audit_payment)} | shop | send_robust | async | ok",
    ]
    text = text_of(html)
    assert "Re-entrant dispatch: checkout from shop was sent again" in text
    assert "checkout (shop) → tests.panels.receivers.email_receipt → checkout (shop)" in text
    assert (
        "Receiver raised: tests.panels.receivers.notify_warehouse raised "
        "builtins.ConnectionError on paid (handled by send_robust)"
    ) in text
    # Exception messages may hold user data: only the type is shown.
    assert "builtins.ConnectionError" in text
    assert "warehouse unreachable" not in html


def test_nav_subtitle_gives_the_headline_numbers(toolbar: ToolbarClient, settings: Any) -> None:
    # No slow-receiver warning on a busy machine: the count of warnings is exact.
    settings.SIGNAL_TRACING = {"ENABLED": True, "SLOW_RECEIVER_MS": 0}
    response = toolbar.client.get("/checkout/")
    button = re.search(r'<li id="djdt-SignalTracingPanel".*?</li>', response.content.decode(), re.S)
    assert button is not None
    assert re.search(r"<small>3 firings · \d+\.\d\d ms · 2 warnings</small>", button.group())
    # The same headline goes to the browser's Server-Timing, like the SQL and timer panels'.
    assert re.search(
        r'SignalTracingPanel_receivers;dur=\d+\.\d+;desc="Signal receivers \(3 firings\)"',
        response.headers["Server-Timing"],
    )


def test_history_sidebar_re_renders_from_the_stored_stats(
    toolbar: ToolbarClient, settings: Any
) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": True, "SLOW_RECEIVER_MS": 0}
    first = toolbar.visit("/checkout/")
    toolbar.visit("/quiet/")
    response = toolbar.client.get(
        "/__debug__/history_sidebar/", {"request_id": first, "exclude_history": "True"}
    )
    assert response.status_code == 200
    snapshot = response.json()[PANEL_ID]
    assert re.search(r"3 firings · \d+\.\d\d ms · 2 warnings", snapshot["button"])
    # The switched-to snapshot's body is then fetched from the store, like any panel's.
    assert "tests.panels.receivers.reserve_stock" in toolbar.render_panel(first)
    assert "No traced signal with a connected receiver was sent" in toolbar.render_panel(
        toolbar.visit("/quiet/")
    )


def test_live_and_stored_renderings_are_identical(toolbar: ToolbarClient, settings: Any) -> None:
    # RENDER_PANELS renders the body in the page from the in-memory stats; render_panel
    # renders it from the JSON the store decoded. Both must give the same HTML.
    settings.DEBUG_TOOLBAR_CONFIG = {"RENDER_PANELS": True}
    response = toolbar.client.get("/checkout/")
    page = response.content.decode()
    from debug_toolbar.store import get_store

    request_id = list(get_store().request_ids())[-1]
    stored = toolbar.render_panel(request_id)
    assert "tests.panels.receivers.reserve_stock" in stored
    assert stored in page


def test_a_snapshot_from_another_version_is_not_rendered(toolbar: ToolbarClient) -> None:
    from debug_toolbar.store import get_store

    request_id = toolbar.visit("/checkout/")
    stats = toolbar.stored_stats(request_id)
    get_store().save_panel(request_id, PANEL_ID, {**stats, "version": 0})
    html = toolbar.render_panel(request_id)
    assert "recorded by another version of signal_tracing" in text_of(html)
    assert "reserve_stock" not in html


def test_stats_are_recorded_once_per_request(toolbar: ToolbarClient, settings: Any) -> None:
    settings.DEBUG_TOOLBAR_CONFIG = {"TOOLBAR_STORE_CLASS": "tests.panels.store.CountingStore"}
    CountingStore.saves.clear()
    request_id = toolbar.visit("/checkout/")
    assert CountingStore.saves[(request_id, PANEL_ID)] == 1
    stats = toolbar.stored_stats(request_id)
    assert stats["firings"] == 3


def test_async_views_are_recorded_under_asgi(toolbar: ToolbarClient) -> None:
    request_id = async_to_sync(toolbar.avisit)("/checkout/async/")
    rows = timeline_rows(toolbar.render_panel(request_id))
    assert rows[0].startswith("checkout | shop | asend | 2 receivers")
    assert [row for row in rows if row.startswith("paid")] == [
        "paid | shop | asend_robust | 3 receivers | ok"
    ]
    assert any("audit_payment" in row and "| async |" in row for row in rows)
    assert any("notify_warehouse" in row and "handled by asend_robust" in row for row in rows)


def test_concurrent_requests_never_mix(toolbar: ToolbarClient) -> None:
    views.RENDEZVOUS[:] = [threading.Barrier(2)]
    request_ids: dict[str, str] = {}

    def visit(who: str) -> None:
        response = Client().get("/concurrent/", {"who": who})
        request_ids[who] = response.headers["djdt-request-id"]

    threads = [threading.Thread(target=visit, args=(who,)) for who in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    views.RENDEZVOUS.clear()
    for who in ("alice", "bob"):
        stats = toolbar.stored_stats(request_ids[who])
        assert stats["senders"] == [{"sender": who, "firings": 3, "not_recorded": 0}]


def test_the_toolbars_own_activity_is_not_recorded(toolbar: ToolbarClient) -> None:
    def on_author_saved(sender: Any, **kwargs: Any) -> None:
        return None

    post_save.connect(on_author_saved, sender=Author)
    try:
        stats = toolbar.stored_stats(toolbar.visit("/busy/"))
    finally:
        post_save.disconnect(on_author_saved, sender=Author)
    # Every default panel ran (SQL, cache, static files, templates...) and the page's own
    # save is there, but nothing sent, received or rendered by the toolbar is.
    assert "post_save" in [row["signal"] for row in stats["rows"]]
    recorded = {key: value for key, value in stats.items() if "connected" not in key}
    assert "debug_toolbar" not in json.dumps(recorded)
    # Its receivers are still listed among the connected ones, as not traced.
    listed = {
        row["receiver"]: row["tracing"]
        for signal in stats["connected"]
        for row in signal["receivers"]
    }
    assert listed["debug_toolbar.settings.update_toolbar_config"] == "excluded"


def test_hostile_strings_render_as_text(toolbar: ToolbarClient) -> None:
    hostile = "<script>alert('sender')</script>"
    html = toolbar.render_panel(toolbar.visit("/hostile/", sender=hostile))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;sender&#x27;)&lt;/script&gt;" in html
    assert hostile in text_of(html)


@pytest.fixture
def hostile_receiver() -> Iterator[None]:
    hostile.connect()
    yield
    hostile.disconnect()


@pytest.mark.usefixtures("hostile_receiver")
def test_receiver_names_paths_uids_and_sender_filters_render_as_text(
    toolbar: ToolbarClient,
) -> None:
    html = toolbar.render_panel(toolbar.visit("/parcel/"))
    name = f"tests.panels.hostile.{hostile.QUALNAME}"
    for value in (hostile.SENDER, hostile.DISPATCH_UID, hostile.FILE_NAME, name):
        assert value not in html
        assert escape(value) in html
    # The panel's own markup only: none of the strings above became an element.
    assert not {"script", "img", "b"} & tags_of(html)
    (row,) = [row for row in connected_rows(html) if hostile.QUALNAME in row]
    assert row == (
        f"parcel_scanned | {name} {hostile.FILE_NAME}:1 | "
        f"{hostile.SENDER} | strong dispatch_uid {hostile.DISPATCH_UID} | sync | called 1 time"
    )
    assert f"{name} {hostile.FILE_NAME}:1 | {hostile.SENDER} | send | sync | ok" in (
        timeline_rows(html)
    )


def test_models_are_labelled_never_stringified(toolbar: ToolbarClient) -> None:
    def on_saved(sender: Any, **kwargs: Any) -> None:
        return None

    post_save.connect(on_saved, sender=Author)
    post_save.connect(on_saved, sender=ExplodingRepr)
    try:
        html = toolbar.render_panel(toolbar.visit("/exploding/"))
    finally:
        post_save.disconnect(on_saved, sender=Author)
        post_save.disconnect(on_saved, sender=ExplodingRepr)
    assert str(Author.objects.get()) == "<script>alert('model')</script>"
    rows = timeline_rows(html)
    assert "post_save | testapp.Author | send | 1 receiver | ok" in rows
    assert "post_save | testapp.ExplodingRepr | send | 1 receiver | ok" in rows
    # Neither instance's str() reaches the panel, escaped or not.
    assert "alert" not in html
    assert "bold" not in html


def test_the_panel_records_only_where_the_toolbar_shows(
    toolbar: ToolbarClient, settings: Any
) -> None:
    shown = toolbar.client.get("/recordings/")
    assert b"<p id='recordings'>1</p>" in shown.content
    settings.DEBUG = False
    hidden = Client().get("/recordings/")
    assert b"<p id='recordings'>0</p>" in hidden.content
    assert b"djDebug" not in hidden.content
    request_id = shown.headers["djdt-request-id"]
    response = Client().get(
        "/__debug__/render_panel/", {"request_id": request_id, "panel_id": PANEL_ID}
    )
    assert response.status_code == 404


def test_with_tracing_off_the_panel_says_how_to_turn_it_on(
    toolbar: ToolbarClient, settings: Any
) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": False}
    response = toolbar.client.get("/checkout/")
    assert re.search(r"<small>tracing off</small>", response.content.decode())
    html = toolbar.render_panel(response.headers["djdt-request-id"])
    assert "Signal tracing is off, so nothing was recorded." in text_of(html)


def test_slow_receivers_are_warned_about(toolbar: ToolbarClient, settings: Any) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": True, "SLOW_RECEIVER_MS": 5}
    SLOW_SECONDS["reserve_stock"] = 0.008
    text = text_of(toolbar.render_panel(toolbar.visit("/checkout/")))
    assert re.search(
        r"Slow receiver: tests\.panels\.receivers\.reserve_stock took \d+\.\d\d ms on "
        r"checkout \(threshold 5 ms\)",
        text,
    )


def test_model_floods_are_counted_not_traced(toolbar: ToolbarClient, settings: Any) -> None:
    from django.db.models.signals import post_init

    def on_init(sender: Any, **kwargs: Any) -> None:
        return None

    settings.SIGNAL_TRACING = {"ENABLED": True, "INIT_FLOOD_THRESHOLD": 1000}
    post_init.connect(on_init, sender=Author)
    try:
        response = toolbar.client.get("/authors/", {"count": 1000})
        html = toolbar.render_panel(response.headers["djdt-request-id"])
    finally:
        post_init.disconnect(on_init, sender=Author)
    button = re.search(
        r'<li id="djdt-SignalTracingPanel".*?<small>(.*?)</small>', response.content.decode(), re.S
    )
    assert button is not None
    nav_subtitle = " ".join(button.group(1).split())
    text = text_of(html)
    # bulk_create builds 1,000 instances and the listing 1,000 more.
    assert "Counted, not traced: 2,000 post_init" in text
    assert re.fullmatch(r"0 firings · 2000 counted · \d+\.\d\d ms · 1 warning", nav_subtitle)
    assert (
        "Many model instances: post_init fired 2,000 times for testapp.Author; is the page "
        "loading more rows than it shows?"
    ) in text
    # The timeline agrees with the headline and the warning: the firings were counted.
    assert (
        "Timeline Nothing to draw: the 2,000 firings of count-policy signals are totalled "
        "above and in the summary, not drawn row by row."
    ) in text
    assert "No traced signal" not in text


@pytest.fixture
def jaeger(settings: Any, exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    settings.SIGNAL_TRACING = {"ENABLED": True, "JAEGER_URL": "http://jaeger.test:16686/"}
    return exporter


def test_trace_id_links_to_jaeger(toolbar: ToolbarClient, jaeger: InMemorySpanExporter) -> None:
    request_id = toolbar.visit("/checkout/")
    stats = toolbar.stored_stats(request_id)
    traces = {
        span.name: format(span.context.trace_id, "032x") for span in jaeger.get_finished_spans()
    }
    # One trace for the whole request (the request span's), and the panel names it.
    assert traces["checkout send"] == traces["paid send_robust"] == stats["trace_id"]
    assert stats["trace_url"] == f"http://jaeger.test:16686/trace/{stats['trace_id']}"
    html = toolbar.render_panel(request_id)
    assert f'href="http://jaeger.test:16686/trace/{stats["trace_id"]}"' in html
    assert stats["rows"][0]["span_id"] in html


def test_spans_dropped_by_the_cap_are_reported(
    toolbar: ToolbarClient, settings: Any, exporter: InMemorySpanExporter
) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": True, "MAX_SPANS_PER_TRACE": 3}
    # An enclosing scope (as a command or test calling the client has) owns the span budget
    # that the request's firings draw from.
    scope = nesting.Scope("command", "checkout-twice", None)
    token = nesting.current_node.set(scope)
    try:
        request_id = toolbar.visit("/checkout/")
    finally:
        nesting.current_node.reset(token)
    dropped = toolbar.stored_stats(request_id)["spans_dropped"]
    # /checkout/ makes 3 firings and 7 receiver calls: far more than 3 spans.
    assert dropped > 0
    assert (
        f"Spans dropped: {dropped} spans were not exported because the trace "
        "reached MAX_SPANS_PER_TRACE."
    ) in text_of(toolbar.render_panel(request_id))


def test_firings_past_the_recording_limit_are_counted_and_said_so(
    toolbar: ToolbarClient,
) -> None:
    request_id = toolbar.visit("/inventory/", items=MAX_FIRINGS + 250)
    stats = toolbar.stored_stats(request_id)
    assert (stats["firings"], stats["firings_not_recorded"]) == (MAX_FIRINGS + 250, 250)
    assert stats["receiver_calls"] == MAX_FIRINGS
    text = text_of(toolbar.render_panel(request_id))
    assert "1,250 firings traced (250 only counted), 1,000 receiver calls" in text
    assert (
        "Recording limit: the first 1,000 firings were recorded; 250 more were only counted by "
        "signal and sender (see the summary): their receiver calls, times and warnings are not "
        "shown."
    ) in text
    assert [(t["signal"], t["firings"], t["not_recorded"]) for t in stats["signals"]] == [
        ("stock_checked", 1_250, 250)
    ]
    assert stats["senders"] == [{"sender": "warehouse", "firings": 1_250, "not_recorded": 250}]
    assert "Only counted" in text


@pytest.mark.parametrize("nested", [False, True], ids=["from the view", "from a receiver"])
def test_a_flood_of_firings_holds_a_bounded_amount_of_memory(
    toolbar: ToolbarClient, nested: bool
) -> None:
    # Measured inside the view, while the panel's recording holds what it kept: without the
    # bound every firing stays in memory until the request ends (about 0.8 kB each).
    views.HELD_BY_FIRINGS.clear()
    params = {"nested": "1"} if nested else {}
    tracemalloc.start()
    try:
        toolbar.visit("/inventory/", items=1_200, **params)
        toolbar.visit("/inventory/", items=3_200, **params)
    finally:
        tracemalloc.stop()
    few, many = views.HELD_BY_FIRINGS
    # 2,000 more firings: unbounded, they would hold about 1.6 MB more.
    assert many - few < 200_000, (few, many)


def test_connected_receivers_are_listed_with_what_each_did(toolbar: ToolbarClient) -> None:
    html = toolbar.render_panel(toolbar.visit("/checkout/"))
    rows = connected_rows(html)

    def row(receiver: Any, used: str, signal: str = "") -> str:
        line = receiver.__code__.co_firstlineno
        mode = "async" if receiver is audit_payment else "sync"
        return (
            f"{signal} | tests.panels.receivers.{receiver.__name__} "
            f"tests/panels/receivers.py:{line} | any sender | weak | {mode} | {used}"
        )

    checkout, paid = "checkout", "paid"
    # Each signal's dotted path is on its name, as in the summary.
    assert 'title="tests.panels.signals.checkout">checkout</strong>' in html
    index = rows.index(row(reserve_stock, "called 2 times", checkout))
    assert rows[index + 1] == row(email_receipt, "called 2 times")
    index = rows.index(row(notify_warehouse, "called 1 time", paid))
    assert rows[index + 1 : index + 3] == [
        row(thank_customer, "called 1 time"),
        row(audit_payment, "called 1 time"),
    ]
    assert row(count_item, "not called", "stock_checked") in rows
    started = [r for r in rows if "django.db.reset_queries" in r]
    assert started[0].endswith("| outside the panel's recording")
    text = text_of(html)
    assert re.search(
        r"Connected receivers \d+ receivers of \d+ signals connected when the request ended; "
        r"5 of them ran in it\.",
        text,
    )
    assert re.search(r"No receiver connected: .*\bpre_save\b", text)


def test_with_tracing_off_the_connected_receivers_are_still_listed(
    toolbar: ToolbarClient, settings: Any
) -> None:
    # Like the toolbar's own Signals panel, which this one can replace.
    settings.SIGNAL_TRACING = {"ENABLED": False}
    html = toolbar.render_panel(toolbar.visit("/checkout/"))
    line = reserve_stock.__code__.co_firstlineno
    assert (
        "checkout | tests.panels.receivers.reserve_stock "
        f"tests/panels/receivers.py:{line} | any sender | weak | sync"
    ) in connected_rows(html)
    assert "In this request" not in html
    assert "ran in it" not in html


def test_every_receiver_the_toolbars_signals_panel_lists_is_listed_here(
    toolbar: ToolbarClient,
) -> None:
    from debug_toolbar.toolbar import DebugToolbar

    request_id = toolbar.visit("/checkout/")
    builtin = DebugToolbar.fetch(request_id, "SignalsPanel")
    assert builtin is not None
    theirs = builtin.get_panel_by_id("SignalsPanel").get_stats()["signals"]
    ours = {
        signal["signal"]: [row["receiver"] for row in signal["receivers"]]
        for signal in toolbar.stored_stats(request_id)["connected"]
    }
    assert sum(len(receivers) for _name, receivers in theirs) > 10
    for signal_name, receivers in theirs:
        listed = ours.get(signal_name, [])
        # Theirs are short ("reset_queries", "Client.store_exc_info": the instance's class);
        # ours are dotted where the code is ("django.test.client.ClientMixin.store_exc_info").
        for receiver_name in receivers:
            function_name = receiver_name.rpartition(".")[2]
            assert any(name.endswith(f".{function_name}") for name in listed), (
                signal_name,
                receiver_name,
                listed,
            )
        assert len(listed) >= len(receivers), (signal_name, receivers, listed)


def documented_panels_without_the_signals_panel() -> list[str]:
    """Run the DEBUG_TOOLBAR_PANELS snippet of docs/panel.md's "Replacing" section."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "panel.md").read_text()
    section = page.split("### Replacing the toolbar's Signals panel", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet is not None
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)
    panels: list[str] = namespace["DEBUG_TOOLBAR_PANELS"]
    return panels


def test_the_documented_settings_replace_the_toolbars_signals_panel(
    toolbar: ToolbarClient, settings: Any
) -> None:
    from debug_toolbar.settings import PANELS_DEFAULTS

    panels = documented_panels_without_the_signals_panel()
    assert "debug_toolbar.panels.signals.SignalsPanel" in PANELS_DEFAULTS
    assert panels == [
        *(path for path in PANELS_DEFAULTS if not path.endswith(".SignalsPanel")),
        "signal_tracing.panels.SignalTracingPanel",
    ]
    settings.DEBUG_TOOLBAR_PANELS = panels
    response = toolbar.client.get("/checkout/")
    assert b'id="djdt-SignalsPanel"' not in response.content
    assert b'id="djdt-SignalTracingPanel"' in response.content
    html = toolbar.render_panel(response.headers["djdt-request-id"])
    assert "Connected receivers" in text_of(html)
