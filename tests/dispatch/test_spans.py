"""The spans a firing makes: merged, dispatch and receiver spans, errors, nesting, sampling."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import pytest
from django.db.models.signals import post_save
from django.dispatch import Signal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import state
from signal_tracing.recording import recording
from signal_tracing.testing import render_spans
from tests.dispatch import receivers
from tests.dispatch.receivers import (
    Boom,
    async_ok,
    fails,
    ok,
)
from tests.testapp.models import Author


def test_single_receiver_send_is_one_merged_span(exporter: InMemorySpanExporter) -> None:
    from tests.testapp.signals import order_placed

    order_placed.connect(ok)
    try:
        order_placed.send(sender="shop", size=3)
        sent_from = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
    finally:
        order_placed.disconnect(ok)
    [span] = exporter.get_finished_spans()
    assert span.name == "order_placed tests.dispatch.receivers.ok"
    assert dict(span.attributes) == {
        "django.signal.name": "order_placed",
        "django.signal.path": "tests.testapp.signals.order_placed",
        "django.signal.sender": "shop",
        "django.signal.method": "send",
        "django.signal.receivers": 1,
        "django.signal.depth": 0,
        "code.function.name": "tests.dispatch.receivers.ok",
        "code.file.path": receivers.__file__,
        "code.line.number": ok.__code__.co_firstlineno,
        "django.signal.send_site": (
            f"tests/dispatch/test_spans.py:{sent_from} in "
            "test_single_receiver_send_is_one_merged_span"
        ),
    }


def test_several_receivers_get_a_dispatch_span_with_a_child_each(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(async_ok)
    signal.send(sender=None)
    assert render_spans(exporter.get_finished_spans(), ["django.signal.receiver.async"]) == (
        "unnamed_signal send\n"
        "  tests.dispatch.receivers.ok\n"
        "  tests.dispatch.receivers.async_ok django.signal.receiver.async=True"
    )


def test_send_robust_marks_the_receiver_failed_not_the_dispatch(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    signal.connect(fails)
    with caplog.at_level(logging.CRITICAL):
        signal.send_robust(sender=None)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    receiver_span = spans["tests.dispatch.receivers.fails"]
    dispatch_span = spans["unnamed_signal send_robust"]
    assert receiver_span.status.status_code.name == "ERROR"
    assert receiver_span.attributes["error.type"] == "tests.dispatch.receivers.Boom"
    assert receiver_span.attributes["django.signal.receiver.outcome"] == "handled"
    [event] = receiver_span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "tests.dispatch.receivers.Boom"
    assert "exception.message" not in event.attributes  # messages may hold user data
    assert dispatch_span.status.status_code.name == "UNSET"
    assert dispatch_span.attributes["django.signal.receivers.failed"] == 1


def test_exception_messages_are_recorded_only_when_opted_in(
    exporter: InMemorySpanExporter, settings: Any
) -> None:
    settings.SIGNAL_TRACING = {"RECORD_EXCEPTION_MESSAGES": True}
    signal_tracing.instrument(tracer_provider=state.current_emitter().tracer_provider)
    signal = Signal()
    signal.connect(fails)
    exporter.clear()
    with pytest.raises(Boom):
        signal.send(sender=None)
    [span] = exporter.get_finished_spans()
    assert span.events[0].attributes["exception.message"] == "receiver failed"


@pytest.mark.django_db
def test_save_inside_post_save_is_nested_and_flagged_reentrant(
    exporter: InMemorySpanExporter,
) -> None:
    def resave(sender: Any, instance: Author, created: bool, **kwargs: Any) -> None:
        if created:
            instance.name = "renamed"
            instance.save(update_fields=["name"])

    post_save.connect(resave, sender=Author)
    try:
        Author.objects.create(name="first")
    finally:
        post_save.disconnect(resave, sender=Author)
    keys = ["django.signal.depth", "django.signal.reentrant", "django.signal.created"]
    assert render_spans(exporter.get_finished_spans(), keys) == (
        "post_save tests.dispatch.test_spans.test_save_inside_post_save_is_nested_and_flagged_"
        "reentrant.<locals>.resave django.signal.depth=0 django.signal.created=True\n"
        "  post_save tests.dispatch.test_spans.test_save_inside_post_save_is_nested_and_flagged_"
        "reentrant.<locals>.resave django.signal.depth=1 django.signal.reentrant=True "
        "django.signal.created=False"
    )


def test_async_receivers_called_from_send_and_sync_from_asend_get_spans(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(async_ok)
    signal.send(sender=None)
    signal.disconnect(async_ok)
    signal.connect(ok)
    asyncio.run(signal.asend(sender=None))
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "unnamed_signal tests.dispatch.receivers.async_ok",
        "unnamed_signal tests.dispatch.receivers.ok",
    ]


def test_firings_inside_async_receivers_nest_under_them(exporter: InMemorySpanExporter) -> None:
    outer, inner = Signal(), Signal()
    # An async receiver: two concurrent sync_to_async hops from one shared context deadlock
    # in plain Django 6.1 too ("Single thread executor already being used").
    inner.connect(async_ok)

    async def sends_inner(sender: Any, **kwargs: Any) -> None:
        await inner.asend(sender="nested")

    async def also_sends(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        await inner.asend(sender="nested")

    outer.connect(sends_inner)
    asyncio.run(outer.asend(sender=None))
    assert render_spans(exporter.get_finished_spans()) == (
        "unnamed_signal tests.dispatch.test_spans.test_firings_inside_async_receivers_nest_under_"
        "them.<locals>.sends_inner\n"
        "  unnamed_signal tests.dispatch.receivers.async_ok"
    )
    exporter.clear()
    outer.connect(also_sends)
    asyncio.run(outer.asend(sender=None))
    spans = exporter.get_finished_spans()
    trace_ids = {span.context.trace_id for span in spans}
    assert len(trace_ids) == 1  # never orphans, whatever Django's context sharing
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["unnamed_signal asend"]


def test_parent_sampled_out_means_no_spans(exporter: InMemorySpanExporter) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    signal = Signal()
    signal.connect(ok)
    unsampled = NonRecordingSpan(
        SpanContext(trace_id=1, span_id=2, is_remote=True, trace_flags=TraceFlags(0))
    )
    with trace.use_span(unsampled), recording() as recorded:
        assert signal.send(sender=None) == [(ok, "ok")]
    assert exporter.get_finished_spans() == ()
    assert len(recorded.dispatches) == 1  # the panel still sees it
