"""ReceiverCoverage: exact per-receiver call counts, cheap to keep, nothing else changed."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import reset_queries
from django.db.models.signals import post_init
from django.dispatch import Signal
from opentelemetry.sdk.trace import TracerProvider

from signal_tracing import _dispatch, call_counts, instrumentation
from signal_tracing.naming import ReceiverIdentity
from signal_tracing.records import DispatchRecord
from signal_tracing.testing.coverage import CoverageData, ReceiverCoverage, ReceiverKey
from tests.testapp.models import Author

parcel_sent = Signal()
parcel_paid = Signal()


class Refused(Exception):
    pass


def on_order(sender: Any, **kwargs: Any) -> None:
    pass


def refuse(sender: Any, **kwargs: Any) -> None:
    raise Refused


def after_refusal(sender: Any, **kwargs: Any) -> None:
    pass


def never_called(sender: Any, **kwargs: Any) -> None:
    pass


async def on_order_async(sender: Any, **kwargs: Any) -> None:
    pass


def on_author_init(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def coverage() -> Iterator[ReceiverCoverage]:
    running = ReceiverCoverage()
    running.start()
    try:
        yield running
    finally:
        if running.active:
            running.stop()


def key(signal_name: str, receiver: Any) -> ReceiverKey:
    code = receiver.__code__
    return ReceiverKey(
        f"tests.testing.test_coverage.{signal_name}",
        f"tests.testing.test_coverage.{receiver.__qualname__}",
        code.co_filename,
        code.co_firstlineno,
    )


def calls(data: CoverageData, signal_name: str, receiver: Any) -> int | None:
    return data.calls.get(key(signal_name, receiver))


def test_each_receiver_is_counted_per_signal(coverage: ReceiverCoverage) -> None:
    parcel_sent.connect(on_order)
    parcel_paid.connect(on_order)
    try:
        for _ in range(3):
            parcel_sent.send(sender=None)
        parcel_paid.send_robust(sender=None)
    finally:
        parcel_sent.disconnect(on_order)
        parcel_paid.disconnect(on_order)

    data = coverage.stop()
    assert calls(data, "parcel_sent", on_order) == 3
    assert calls(data, "parcel_paid", on_order) == 1


def test_connected_receivers_never_called_are_listed_with_zero(
    coverage: ReceiverCoverage,
) -> None:
    parcel_paid.connect(never_called)
    try:
        data = coverage.stop()
    finally:
        parcel_paid.disconnect(never_called)
    assert calls(data, "parcel_paid", never_called) == 0


def test_a_receiver_that_never_ran_because_an_earlier_one_raised_is_not_counted(
    coverage: ReceiverCoverage,
) -> None:
    parcel_sent.connect(refuse)
    parcel_sent.connect(after_refusal)
    try:
        with pytest.raises(Refused):
            parcel_sent.send(sender=None)
        data = coverage.stop()
    finally:
        parcel_sent.disconnect(refuse)
        parcel_sent.disconnect(after_refusal)

    assert calls(data, "parcel_sent", refuse) == 1
    assert calls(data, "parcel_sent", after_refusal) == 0


def test_async_receivers_are_counted(coverage: ReceiverCoverage) -> None:
    parcel_sent.connect(on_order_async)
    try:
        asyncio.run(parcel_sent.asend(sender=None))
        parcel_sent.send(sender=None)
    finally:
        parcel_sent.disconnect(on_order_async)
    assert calls(coverage.stop(), "parcel_sent", on_order_async) == 2


def test_receivers_of_counted_signals_and_excluded_receivers_are_counted(
    coverage: ReceiverCoverage,
) -> None:
    everything_excluded = instrumentation.instrumented_with(
        TracerProvider(), exclude_receivers=["tests.testing.test_coverage.*"]
    )
    post_init.connect(on_author_init, sender=Author)
    try:
        with everything_excluded:
            Author(name="Ba Jin")
            Author(name="Lao She")
    finally:
        post_init.disconnect(on_author_init, sender=Author)

    data = coverage.stop()
    post_init_key = dataclasses.replace(
        key("post_init", on_author_init), signal_path="django.db.models.signals.post_init"
    )
    assert data.calls[post_init_key] == 2


@pytest.mark.parametrize("django_receivers", ["attributes", "count"])
def test_receivers_are_counted_whatever_shape_their_spans_take(
    coverage: ReceiverCoverage, django_receivers: str
) -> None:
    # Sampled, a lone receiver's span is its firing's span; Django's own receivers get no
    # span of their own, or (with "count") a firing that runs only them gets no span at all.
    recorded = instrumentation.instrumented_with(
        TracerProvider(), django_receivers=django_receivers
    )
    parcel_sent.connect(on_order)
    parcel_paid.connect(reset_queries)
    try:
        with recorded:
            parcel_sent.send(sender=None)
            parcel_paid.send(sender=None)
    finally:
        parcel_sent.disconnect(on_order)
        parcel_paid.disconnect(reset_queries)

    data = coverage.stop()
    assert calls(data, "parcel_sent", on_order) == 1
    code = reset_queries.__code__
    django_key = ReceiverKey(
        "tests.testing.test_coverage.parcel_paid",
        "django.db.reset_queries",
        code.co_filename,
        code.co_firstlineno,
    )
    assert data.calls[django_key] == 1


def test_no_record_of_any_firing_is_kept(coverage: ReceiverCoverage) -> None:
    def records() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if type(obj) is DispatchRecord)

    parcel_sent.connect(on_order)
    try:
        kept_before = records()
        for _ in range(500):
            parcel_sent.send(sender=None)
        kept_after = records()
    finally:
        parcel_sent.disconnect(on_order)

    assert kept_after == kept_before
    assert calls(coverage.stop(), "parcel_sent", on_order) == 500


def test_distinct_receivers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_counts, "MAX_RECEIVERS", 1)
    first = ReceiverIdentity("a.first", None, None)
    counts = call_counts.ReceiverCallCounts()

    counts.add("a.signal", first)
    counts.add("a.signal", ReceiverIdentity("a.second", None, None))
    counts.add("a.signal", first)

    assert counts.calls == {("a.signal", first): 2}
    assert counts.dropped == 1


def test_counting_stops_and_the_patch_comes_out() -> None:
    untouched = {name: Signal.__dict__[name] for name in _dispatch.METHODS}
    was_patched = _dispatch.is_patched()
    running = ReceiverCoverage()
    running.start()
    assert call_counts.active is not None
    assert _dispatch.is_patched()
    running.stop()

    assert call_counts.active is None
    assert _dispatch.is_patched() is was_patched
    assert {name: Signal.__dict__[name] for name in _dispatch.METHODS} == untouched
    with pytest.raises(RuntimeError, match="not running"):
        running.stop()


def test_coverage_data_survives_json_and_adds_up() -> None:
    first = CoverageData()
    first.note(key("parcel_sent", on_order), "parcel_sent", 2)
    first.note(key("parcel_paid", never_called), "parcel_paid")
    second = CoverageData()
    second.note(key("parcel_sent", on_order), "parcel_sent", 3)
    second.dropped = 4

    merged = CoverageData.from_json(first.to_json())
    merged.merge(CoverageData.from_json(second.to_json()))

    assert merged.calls == {
        key("parcel_sent", on_order): 5,
        key("parcel_paid", never_called): 0,
    }
    assert merged.signal_names["tests.testing.test_coverage.parcel_paid"] == "parcel_paid"
    assert merged.dropped == 4
