"""The "Connected receivers" section: what is connected, and what each receiver did."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models.signals import post_init, post_save
from django.dispatch import Signal

from signal_tracing import recording
from signal_tracing.conf import Config
from signal_tracing.panels import connected
from signal_tracing.panels.connected import ConnectedRow, read_connections
from signal_tracing.panels.stats import build_stats
from signal_tracing.records import Policy
from tests.panels.orders import audit, order_paid, quiet, restock, stock_low
from tests.testapp.models import Author

#: Never sent and never connected: the section names it among signals without receivers.
order_refunded = Signal()


class Courier:
    """A sender class (labelled by its dotted path)."""


PAID = "tests.panels.orders.order_paid"


def rows_of(signal_path: str, **config: Any) -> list[ConnectedRow]:
    signals, _unconnected = connected.connected_section(
        read_connections(), (), (), {}, Config(**config)
    )
    for signal in signals:
        if signal["signal_path"] == signal_path:
            return signal["receivers"]
    return []


def test_each_receiver_is_listed_as_connect_stored_it(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    connect(order_paid, audit, sender=Author)
    order_paid.connect(restock, weak=False, dispatch_uid="restock-once")
    try:
        rows = rows_of(PAID)
    finally:
        order_paid.disconnect(dispatch_uid="restock-once")
    line = quiet.__code__.co_firstlineno
    assert rows[0] == ConnectedRow(
        receiver="tests.panels.orders.quiet",
        location=f"tests/panels/orders.py:{line}",
        file_path=quiet.__code__.co_filename,
        line=line,
        sender="",
        weak=True,
        is_async=False,
        dispatch_uid="",
        tracing="traced",
        calls=0,
        counted=0,
        not_recorded=0,
    )
    assert [
        (r["receiver"], r["sender"], r["weak"], r["is_async"], r["dispatch_uid"]) for r in rows[1:]
    ] == [
        ("tests.panels.orders.audit", "testapp.Author", True, True, ""),
        ("tests.panels.orders.restock", "", False, False, "restock-once"),
    ]


def test_signals_without_receivers_are_named() -> None:
    _signals, unconnected = connected.connected_section(read_connections(), (), (), {}, Config())
    assert {"signal": "order_refunded", "signal_path": f"{__name__}.order_refunded"} in unconnected


def test_signals_named_by_the_toolbars_extra_signals_are_listed() -> None:
    # The toolbar's own Signals panel imports EXTRA_SIGNALS; so does this one, to list them.
    paths = [
        signal.path for signal in read_connections(["tests.panels.extra_signals.shipment_lost"])
    ]
    assert "tests.panels.extra_signals.shipment_lost" in paths
    # A path that does not import is left out, as the toolbar's panel would fail on it.
    assert read_connections(["tests.panels.no_such_module.signal"]) == read_connections()


def test_the_listing_is_read_again_only_when_connections_change() -> None:
    first = read_connections()
    assert read_connections() is first

    def on_paid(sender: Any, **kwargs: Any) -> None:
        return None

    order_paid.connect(on_paid)
    with_receiver = read_connections()
    assert with_receiver is not first
    names = [r.name for s in with_receiver if s.name == "order_paid" for r in s.receivers]
    assert names == [f"{__name__}.{on_paid.__qualname__}"]
    # A weakly connected receiver that dies is gone from the next listing.
    del on_paid
    gc.collect()
    assert [s.receivers for s in read_connections() if s.name == "order_paid"] == [()]


def test_calls_are_matched_to_the_receiver_and_its_sender_filter(
    connect: Callable[..., None],
) -> None:
    connect(order_paid, quiet, sender=Courier)
    connect(order_paid, restock)
    connect(stock_low, quiet)
    with recording.recording() as active:
        order_paid.send(sender=Courier)
        order_paid.send(sender="outlet")
    stats = build_stats(active, Config(), connections=read_connections())
    used = {
        (signal["signal"], row["receiver"], row["sender"]): row["calls"]
        for signal in stats["connected"]
        for row in signal["receivers"]
    }
    courier = f"{__name__}.Courier"
    assert used[("order_paid", "tests.panels.orders.quiet", courier)] == 1
    assert used[("order_paid", "tests.panels.orders.restock", "")] == 2
    assert used[("stock_low", "tests.panels.orders.quiet", "")] == 2
    assert stats["receivers_run"] == 3
    assert stats["connected_receivers"] >= 3


@pytest.mark.django_db
def test_receivers_of_count_policy_signals_ran_for_each_counted_firing(
    connect: Callable[..., None],
) -> None:
    Author.objects.bulk_create(Author(name=f"a{index}") for index in range(4))
    connect(post_init, quiet, sender=Author)
    with recording.recording() as active:
        list(Author.objects.all())
    stats = build_stats(active, Config(), connections=read_connections())
    (signal,) = [s for s in stats["connected"] if s["signal"] == "post_init"]
    (row,) = signal["receivers"]
    assert (row["tracing"], row["calls"], row["counted"]) == ("counted", 0, 4)
    assert stats["receivers_run"] == 1


def test_firings_past_the_recording_limit_are_told_apart(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    active = recording.Recording(max_firings=2)
    token = recording.start(active)
    try:
        for _ in range(5):
            order_paid.send(sender="shop")
    finally:
        recording.stop(active, token)
    stats = build_stats(active, Config(), connections=read_connections())
    (signal,) = [s for s in stats["connected"] if s["signal"] == "order_paid"]
    (row,) = signal["receivers"]
    assert (row["calls"], row["not_recorded"]) == (2, 3)


def test_receivers_the_tracer_leaves_alone_say_why(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    connect(order_paid, audit, sender=Courier)
    assert [r["tracing"] for r in rows_of(PAID, exclude_senders=(f"{__name__}.*",))] == [
        "traced",
        "excluded",
    ]
    assert [r["tracing"] for r in rows_of(PAID, exclude_receivers=("*.quiet",))] == [
        "excluded",
        "traced",
    ]
    assert [r["tracing"] for r in rows_of(PAID, policies={PAID: Policy.OFF})] == ["off", "off"]
    # request_started and request_finished fire outside the panel's recording.
    started = rows_of("django.core.signals.request_started")
    assert started
    assert {row["tracing"] for row in started} == {"outside"}


@pytest.mark.django_db
def test_post_save_receivers_with_a_model_filter_are_labelled(connect: Callable[..., None]) -> None:
    connect(post_save, quiet, sender=Author)
    (row,) = [
        r for r in rows_of("django.db.models.signals.post_save") if r["receiver"].endswith("quiet")
    ]
    assert row["sender"] == "testapp.Author"
