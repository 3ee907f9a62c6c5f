"""The panel's stats: real firings recorded by the core, turned into JSON-safe data once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db.models.signals import post_init, post_save
from django.dispatch import Signal

from signal_tracing import recording
from signal_tracing.conf import Config
from signal_tracing.panels import findings
from signal_tracing.panels.stats import PanelStats, build_stats, trace_url
from signal_tracing.panels.timeline import MIN_BAR_PCT, Window, short_path
from tests.testapp.models import Author, ExplodingRepr

order_paid = Signal()
stock_low = Signal()


def restock(sender: Any, **kwargs: Any) -> None:
    stock_low.send(sender=sender, sku="A1")


def count_stock(sender: Any, **kwargs: Any) -> None:
    return None


def resend_once(sender: Any, again: bool = False, **kwargs: Any) -> None:
    if not again:
        order_paid.send(sender=sender, again=True)


def fail(sender: Any, **kwargs: Any) -> None:
    raise LookupError("no such order")


#: How long ``nap`` sleeps, and the slow-receiver threshold the tests about slowness set: far
#: apart from a quick receiver's time, which on a loaded machine can reach tens of ms.
NAP_SECONDS = 0.15
SLOW_MS = 100
#: The threshold everywhere else: no receiver here is slow unless a test says so.
NEVER_SLOW_MS = 60_000


def nap(sender: Any, **kwargs: Any) -> None:
    time.sleep(NAP_SECONDS)


async def audit(sender: Any, **kwargs: Any) -> None:
    return None


async def restock_async(sender: Any, **kwargs: Any) -> None:
    await stock_low.asend(sender=sender, sku="B2")


def quiet(sender: Any, **kwargs: Any) -> None:
    return None


@pytest.fixture
def connect() -> Iterator[Callable[..., None]]:
    connected: list[tuple[Signal, Any, Any]] = []

    def connect(signal: Signal, receiver: Any, sender: Any = None) -> None:
        signal.connect(receiver, sender=sender)
        connected.append((signal, receiver, sender))

    yield connect
    for signal, receiver, sender in connected:
        signal.disconnect(receiver, sender=sender)


def recorded(action: Callable[[], object], **config: Any) -> PanelStats:
    config.setdefault("slow_receiver_ms", NEVER_SLOW_MS)
    with recording.recording() as active:
        action()
    return build_stats(active, Config(**config))


def tree(stats: PanelStats) -> str:
    """The waterfall as indented text: firings by signal and method, calls by receiver."""
    lines = []
    for row in stats["rows"]:
        if row["kind"] == "dispatch":
            text = f"{row['signal']} {row['method']} sender={row['sender']}"
            if row["reentrant"]:
                text += " reentrant"
        else:
            text = f"{row['receiver'].rsplit('.', 1)[-1]} {row['outcome']}"
            if row["is_async"]:
                text += " async"
        lines.append("  " * row["indent"] + text)
    return "\n".join(lines)


def test_rows_follow_request_order_nested_by_depth(connect: Callable[..., None]) -> None:
    connect(order_paid, restock)
    connect(order_paid, resend_once)
    connect(stock_low, count_stock)
    stats = recorded(lambda: order_paid.send(sender="shop"))
    assert tree(stats) == "\n".join(
        [
            "order_paid send sender=shop",
            "  restock ok",
            "    stock_low send sender=shop",
            "      count_stock ok",
            "  resend_once ok",
            "    order_paid send sender=shop reentrant",
            "      restock ok",
            "        stock_low send sender=shop",
            "          count_stock ok",
            "      resend_once ok",
        ]
    )
    assert stats["firings"] == 4
    assert stats["receiver_calls"] == 6


def test_firings_sent_by_concurrent_async_receivers_nest_under_their_firing(
    connect: Callable[..., None],
) -> None:
    # Django 6 runs a firing's async receivers in one shared context, so which of them sent a
    # nested firing is unknown: it is still drawn one level down, and its time counted once.
    connect(order_paid, restock_async)
    connect(order_paid, audit)
    connect(stock_low, count_stock)
    stats = recorded(lambda: async_to_sync(order_paid.asend)(sender="shop"))
    rows = stats["rows"]
    assert rows[0]["signal"] == "order_paid"
    assert rows[0]["indent"] == 0
    nested = [row for row in rows if row["signal"] == "stock_low"]
    assert [(row["kind"], row["indent"], row["depth"]) for row in nested] == [
        ("dispatch", 2, 1),
        ("receiver", 3, 1),
    ]
    top_level_calls = [row["duration_ms"] for row in rows if row["indent"] == 1]
    assert len(top_level_calls) == 2
    assert stats["receiver_ms"] == pytest.approx(sum(top_level_calls), abs=0.002)


def test_stats_survive_a_json_round_trip_unchanged(connect: Callable[..., None]) -> None:
    connect(order_paid, restock)
    connect(order_paid, fail)
    connect(order_paid, audit)
    connect(stock_low, count_stock)
    stats = recorded(lambda: order_paid.send_robust(sender="shop"), jaeger_url="http://j:16686")
    # Plain json (no default=) refuses anything but JSON types; equality after the round trip
    # rules out tuples and other values that would come back different from the store.
    assert json.loads(json.dumps(stats)) == stats
    assert stats["rows"]
    assert stats["findings"]


def test_receiver_rows_carry_location_mode_and_method(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    connect(order_paid, audit)
    stats = recorded(lambda: order_paid.send_robust(sender="shop"))
    dispatch, sync_call, async_call = stats["rows"]
    assert (dispatch["kind"], dispatch["method"], dispatch["receivers"]) == (
        "dispatch",
        "send_robust",
        2,
    )
    assert sync_call["receiver"] == "tests.test_panels_stats.quiet"
    assert sync_call["location"] == f"tests/test_panels_stats.py:{quiet.__code__.co_firstlineno}"
    assert sync_call["file_path"] == __file__
    assert (sync_call["is_async"], async_call["is_async"]) == (False, True)
    assert async_call["method"] == "send_robust"


def test_outcomes_of_failing_receivers(connect: Callable[..., None]) -> None:
    connect(order_paid, fail)
    connect(order_paid, quiet)
    robust = recorded(lambda: order_paid.send_robust(sender="shop"))
    assert [row["outcome"] for row in robust["rows"]] == ["ok", "handled", "ok"]

    def send() -> None:
        with pytest.raises(LookupError):
            order_paid.send(sender="shop")

    plain = recorded(send)
    assert [row["outcome"] for row in plain["rows"]] == ["raised", "raised", "not_run"]
    raised = [finding for finding in plain["findings"] if finding["kind"] == "raised"]
    assert [(f["receiver"], f["outcome"], f["error_type"]) for f in raised] == [
        ("tests.test_panels_stats.fail", "raised", "builtins.LookupError")
    ]


def test_reentrant_dispatch_is_reported_with_the_chain_that_led_to_it(
    connect: Callable[..., None],
) -> None:
    connect(order_paid, resend_once)
    stats = recorded(lambda: order_paid.send(sender="shop"))
    (finding,) = stats["findings"]
    assert finding["kind"] == "reentrant"
    assert finding["chain"] == [
        {
            "signal": "order_paid",
            "sender": "shop",
            "receiver": "tests.test_panels_stats.resend_once",
        },
        {"signal": "order_paid", "sender": "shop", "receiver": ""},
    ]
    reentrant_row = stats["rows"][finding["row"] - 1]
    assert (reentrant_row["kind"], reentrant_row["reentrant"], reentrant_row["depth"]) == (
        "dispatch",
        True,
        1,
    )


def test_slow_receivers_are_flagged_above_the_threshold(connect: Callable[..., None]) -> None:
    connect(order_paid, nap)
    connect(order_paid, quiet)
    stats = recorded(lambda: order_paid.send(sender="shop"), slow_receiver_ms=SLOW_MS)
    slow = [finding for finding in stats["findings"] if finding["kind"] == "slow"]
    assert [(f["receiver"], f["threshold"]) for f in slow] == [
        ("tests.test_panels_stats.nap", SLOW_MS)
    ]
    assert slow[0]["duration_ms"] >= SLOW_MS
    assert [row["slow"] for row in stats["rows"]] == [False, True, False]


def test_a_zero_slow_threshold_turns_the_warning_off(connect: Callable[..., None]) -> None:
    connect(order_paid, nap)
    stats = recorded(lambda: order_paid.send(sender="shop"), slow_receiver_ms=0)
    assert stats["findings"] == []


@pytest.mark.django_db
def test_count_policy_signals_are_totalled_and_floods_flagged(
    connect: Callable[..., None],
) -> None:
    Author.objects.bulk_create(Author(name=f"a{index}") for index in range(30))
    connect(post_init, quiet, sender=Author)

    def build() -> None:
        list(Author.objects.all())
        list(Author.objects.all())

    stats = recorded(build, init_flood_threshold=50)
    assert stats["rows"] == []
    assert stats["counts"] == [
        {
            "signal": "post_init",
            "signal_path": "django.db.models.signals.post_init",
            "sender": "testapp.Author",
            "count": 60,
            "ms": stats["counts"][0]["ms"],
        }
    ]
    assert stats["counted_signals"] == [
        {"signal": "post_init", "signal_path": "django.db.models.signals.post_init", "count": 60}
    ]
    assert stats["counted"] == 60
    (flood,) = stats["findings"]
    assert (flood["kind"], flood["signal"], flood["sender"], flood["count"]) == (
        "init_flood",
        "post_init",
        "testapp.Author",
        60,
    )
    assert recorded(build, init_flood_threshold=61)["findings"] == []
    assert recorded(build, init_flood_threshold=0)["findings"] == []


@pytest.mark.django_db
def test_init_floods_count_traced_init_firings_too(
    connect: Callable[..., None], settings: Any
) -> None:
    # Under the "span" policy post_init firings are rows, not counts: floods still count them.
    settings.SIGNAL_TRACING = {
        "ENABLED": True,
        "POLICIES": {"django.db.models.signals.post_init": "span"},
    }
    Author.objects.bulk_create(Author(name=f"a{index}") for index in range(3))
    connect(post_init, quiet, sender=Author)
    stats = recorded(lambda: list(Author.objects.all()), init_flood_threshold=3)
    assert stats["counted"] == 0
    assert [row["signal"] for row in stats["rows"] if row["kind"] == "dispatch"] == [
        "post_init"
    ] * 3
    (flood,) = stats["findings"]
    assert (flood["kind"], flood["sender"], flood["count"]) == ("init_flood", "testapp.Author", 3)


@pytest.mark.django_db
def test_stats_hold_labels_and_safe_attributes_never_field_values(
    connect: Callable[..., None],
) -> None:
    connect(post_save, quiet, sender=Author)
    connect(post_save, quiet, sender=ExplodingRepr)

    def save() -> None:
        Author.objects.create(name="Ada Lovelace, secret")
        ExplodingRepr.objects.create(name="boom")  # its str()/repr() raise if called

    stats = recorded(save)
    text = json.dumps(stats)
    assert "Ada Lovelace" not in text
    assert "boom" not in text
    assert [row["sender"] for row in stats["rows"] if row["kind"] == "dispatch"] == [
        "testapp.Author",
        "testapp.ExplodingRepr",
    ]
    attributes = dict(stats["rows"][0]["attributes"])
    assert attributes == {
        "django.signal.created": "True",
        "django.signal.instance.pk": str(Author.objects.get().pk),
        "django.signal.raw": "False",
        "django.signal.using": "default",
    }


def test_summary_counts_per_signal_and_sender(connect: Callable[..., None]) -> None:
    connect(order_paid, restock)
    connect(stock_low, count_stock)

    def send() -> None:
        order_paid.send(sender="shop")
        order_paid.send(sender="outlet")
        stock_low.send(sender="outlet")

    stats = recorded(send)
    assert [(t["signal"], t["firings"], t["calls"]) for t in stats["signals"]] == [
        ("stock_low", 3, 3),
        ("order_paid", 2, 2),
    ]
    assert stats["senders"] == [
        {"sender": "outlet", "firings": 3},
        {"sender": "shop", "firings": 2},
    ]


def test_receiver_time_counts_nested_firings_once(connect: Callable[..., None]) -> None:
    connect(order_paid, restock)
    connect(stock_low, nap)
    stats = recorded(lambda: order_paid.send(sender="shop"))
    outer_call = stats["rows"][1]
    assert stats["receiver_ms"] == outer_call["duration_ms"]
    assert 0 < stats["receiver_share"] <= 100
    assert stats["receiver_ms"] <= stats["request_ms"]


def test_rows_beyond_the_limit_are_counted_not_kept(connect: Callable[..., None]) -> None:
    from signal_tracing.panels import timeline

    connect(order_paid, quiet)
    with recording.recording() as active:
        for _ in range(5):
            order_paid.send(sender="shop")
    nesting = timeline.Nesting(active.dispatches)
    window = Window(active.started_ns, active.stopped_ns or 0)
    shown = timeline.build_timeline(nesting, window, None, limit=4)
    assert [row["kind"] for row in shown.rows] == ["dispatch", "receiver"] * 2
    assert shown.omitted == 6


def test_findings_beyond_the_cap_are_counted(connect: Callable[..., None]) -> None:
    connect(order_paid, nap)
    stats = recorded(lambda: [order_paid.send(sender="shop") for _ in range(3)], slow_receiver_ms=1)
    assert len(stats["findings"]) == 3
    kept, omitted = findings.capped(stats["findings"] * 10)
    assert (len(kept), omitted) == (findings.MAX_PER_KIND, 30 - findings.MAX_PER_KIND)


def test_firings_without_a_recorded_span_have_no_trace(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    stats = recorded(lambda: order_paid.send(sender="shop"), jaeger_url="http://j:16686")
    assert (stats["trace_id"], stats["trace_url"]) == ("", "")


def test_jaeger_links_need_both_a_url_and_a_trace() -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    assert trace_url("http://localhost:16686/", trace_id) == (
        f"http://localhost:16686/trace/{trace_id}"
    )
    assert trace_url(None, trace_id) == ""
    assert trace_url("http://localhost:16686", None) == ""


def test_bars_are_percentages_of_the_window_and_never_vanish() -> None:
    window = Window(1_000_000, 11_000_000)  # 10 ms
    assert window.bar(3_500_000, 2_000_000) == (25.0, 20.0)
    assert window.bar(1_000_000, 0) == (0.0, MIN_BAR_PCT)
    assert window.bar(11_000_000, 0) == (100.0 - MIN_BAR_PCT, MIN_BAR_PCT)
    assert window.bar(6_000_000, 50_000_000) == (50.0, 50.0)
    assert Window(5, 5).bar(5, 0) == (0.0, 0.0)
    assert window.offset_ms(3_500_000) == 2.5


def test_short_paths_are_relative_to_the_longest_import_root() -> None:
    roots = ["/srv/app", "/srv/app/src", ""]
    assert short_path("/srv/app/src/shop/receivers.py", roots) == "shop/receivers.py"
    assert short_path("/srv/app/manage.py", roots) == "manage.py"
    assert short_path("/opt/elsewhere/x.py", roots) == "/opt/elsewhere/x.py"
    assert short_path(None, roots) == ""
