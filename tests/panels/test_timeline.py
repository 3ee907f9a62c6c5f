"""The waterfall: rows in request order, nested by depth, with bars on the request's scale."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync

from signal_tracing import recording
from signal_tracing.panels import timeline
from signal_tracing.panels.timeline import MIN_BAR_PCT, Window
from tests.panels.orders import (
    audit,
    count_stock,
    fail,
    order_paid,
    quiet,
    resend_once,
    restock,
    restock_async,
    stock_low,
)
from tests.panels.recorded import recorded, tree


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
    assert sync_call["receiver"] == "tests.panels.orders.quiet"
    assert sync_call["location"] == f"tests/panels/orders.py:{quiet.__code__.co_firstlineno}"
    assert sync_call["file_path"] == quiet.__code__.co_filename
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


def test_rows_beyond_the_limit_are_counted_not_kept(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    with recording.recording() as active:
        for _ in range(5):
            order_paid.send(sender="shop")
    nesting = timeline.Nesting(active.dispatches)
    window = Window(active.started_ns, active.stopped_ns or 0)
    shown = timeline.build_timeline(nesting, window, None, limit=4)
    assert [row["kind"] for row in shown.rows] == ["dispatch", "receiver"] * 2
    assert shown.omitted == 6


def test_bars_are_percentages_of_the_window_and_never_vanish() -> None:
    window = Window(1_000_000, 11_000_000)  # 10 ms
    assert window.bar(3_500_000, 2_000_000) == (25.0, 20.0)
    assert window.bar(1_000_000, 0) == (0.0, MIN_BAR_PCT)
    assert window.bar(11_000_000, 0) == (100.0 - MIN_BAR_PCT, MIN_BAR_PCT)
    assert window.bar(6_000_000, 50_000_000) == (50.0, 50.0)
    assert Window(5, 5).bar(5, 0) == (0.0, 0.0)
    assert window.offset_ms(3_500_000) == 2.5
