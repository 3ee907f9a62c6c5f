"""Warnings: re-entrant dispatch, receivers that raised or were slow, model-instance floods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models.signals import post_init

from signal_tracing import recording
from signal_tracing.conf import Config
from signal_tracing.panels import findings
from signal_tracing.panels.stats import build_stats
from tests.panels.orders import NAP_SECONDS, fail, nap, order_paid, quiet, resend_once
from tests.panels.recorded import recorded
from tests.testapp.models import Author


def test_a_receiver_that_raised_is_reported_by_type(connect: Callable[..., None]) -> None:
    connect(order_paid, fail)
    connect(order_paid, quiet)

    def send() -> None:
        with pytest.raises(LookupError):
            order_paid.send(sender="shop")

    raised = [finding for finding in recorded(send)["findings"] if finding["kind"] == "raised"]
    assert [(f["receiver"], f["outcome"], f["error_type"]) for f in raised] == [
        ("tests.panels.orders.fail", "raised", "builtins.LookupError")
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
            "receiver": "tests.panels.orders.resend_once",
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
    # Half of nap's sleep: quiet stays under it however loaded the machine is.
    threshold = NAP_SECONDS * 1000 / 2
    stats = recorded(lambda: order_paid.send(sender="shop"), slow_receiver_ms=threshold)
    slow = [finding for finding in stats["findings"] if finding["kind"] == "slow"]
    assert [(f["receiver"], f["threshold"]) for f in slow] == [
        ("tests.panels.orders.nap", threshold)
    ]
    assert slow[0]["duration_ms"] >= NAP_SECONDS * 1000
    assert [row["slow"] for row in stats["rows"]] == [False, True, False]


def test_a_zero_slow_threshold_turns_the_warning_off(connect: Callable[..., None]) -> None:
    connect(order_paid, nap)
    stats = recorded(lambda: order_paid.send(sender="shop"), slow_receiver_ms=0)
    assert stats["findings"] == []


@pytest.mark.django_db
def test_init_floods_are_flagged_from_the_counts(connect: Callable[..., None]) -> None:
    Author.objects.bulk_create(Author(name=f"a{index}") for index in range(30))
    connect(post_init, quiet, sender=Author)

    def build() -> None:
        list(Author.objects.all())
        list(Author.objects.all())

    stats = recorded(build, init_flood_threshold=50)
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


def test_findings_beyond_the_cap_are_counted(connect: Callable[..., None]) -> None:
    connect(order_paid, nap)
    stats = recorded(lambda: [order_paid.send(sender="shop") for _ in range(3)], slow_receiver_ms=1)
    assert len(stats["findings"]) == 3
    kept, omitted = findings.capped(stats["findings"] * 10)
    assert (len(kept), omitted) == (findings.MAX_PER_KIND, 30 - findings.MAX_PER_KIND)


@pytest.mark.django_db
def test_init_floods_count_firings_past_the_recording_limit(
    connect: Callable[..., None], settings: Any
) -> None:
    settings.SIGNAL_TRACING = {
        "ENABLED": True,
        "POLICIES": {"django.db.models.signals.post_init": "span"},
    }
    Author.objects.bulk_create(Author(name=f"a{index}") for index in range(5))
    connect(post_init, quiet, sender=Author)
    active = recording.Recording(max_firings=2)
    token = recording.start(active)
    try:
        list(Author.objects.all())
    finally:
        recording.stop(active, token)
    found = build_stats(active, Config(init_flood_threshold=5, slow_receiver_ms=0))["findings"]
    assert [(f["kind"], f["count"]) for f in found] == [("init_flood", 5), ("not_recorded", 3)]
