"""Totals: firings per signal and per sender, count-policy signals, time in receivers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db.models.signals import post_init

from signal_tracing import recording
from signal_tracing.conf import Config
from signal_tracing.panels.stats import build_stats
from tests.panels.orders import count_stock, nap, order_paid, quiet, restock, stock_low
from tests.panels.recorded import recorded
from tests.testapp.models import Author


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
        {"sender": "outlet", "firings": 3, "not_recorded": 0},
        {"sender": "shop", "firings": 2, "not_recorded": 0},
    ]


@pytest.mark.django_db
def test_count_policy_signals_are_totalled_not_drawn(connect: Callable[..., None]) -> None:
    Author.objects.bulk_create(Author(name=f"a{index}") for index in range(30))
    connect(post_init, quiet, sender=Author)

    def build() -> None:
        list(Author.objects.all())
        list(Author.objects.all())

    stats = recorded(build)
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


def test_receiver_time_counts_nested_firings_once(connect: Callable[..., None]) -> None:
    connect(order_paid, restock)
    connect(stock_low, nap)
    stats = recorded(lambda: order_paid.send(sender="shop"))
    outer_call = stats["rows"][1]
    assert stats["receiver_ms"] == outer_call["duration_ms"]
    assert 0 < stats["receiver_share"] <= 100
    assert stats["receiver_ms"] <= stats["request_ms"]


def test_firings_past_the_recording_limit_count_in_the_totals(
    connect: Callable[..., None],
) -> None:
    connect(order_paid, restock)
    connect(stock_low, count_stock)
    active = recording.Recording(max_firings=3)
    token = recording.start(active)
    try:
        for sender in ("shop", "outlet", "outlet"):
            order_paid.send(sender=sender)
    finally:
        recording.stop(active, token)
    # No slow-receiver warning on a busy machine: the one finding is the limit's.
    stats = build_stats(active, Config(slow_receiver_ms=0))
    # Kept: order_paid and stock_low from "shop", order_paid from "outlet"; then only counted.
    assert (stats["firings"], stats["firings_not_recorded"], stats["receiver_calls"]) == (6, 3, 3)
    assert [
        (t["signal"], t["firings"], t["not_recorded"], t["calls"]) for t in stats["signals"]
    ] == [
        ("order_paid", 3, 1, 2),
        ("stock_low", 3, 2, 1),
    ]
    assert stats["senders"] == [
        {"sender": "outlet", "firings": 4, "not_recorded": 3},
        {"sender": "shop", "firings": 2, "not_recorded": 0},
    ]
    (finding,) = stats["findings"]
    assert (finding["kind"], finding["count"], finding["threshold"]) == ("not_recorded", 3, 3.0)
