"""Receivers defined by Django itself: named on their firing's span, spanned, or counted."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
from django.db import reset_queries
from django.dispatch import Signal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import attributes as attrs
from signal_tracing.nesting import Scope, current_node
from signal_tracing.records import Outcome
from signal_tracing.routing import defined_by_django
from signal_tracing.testing import capture_signals, render_spans
from tests.dispatch.receivers import ok

inner = Signal()


def plumbing(sender: Any, **kwargs: Any) -> None:
    inner.send(sender="from plumbing")


def broken_plumbing(sender: Any, **kwargs: Any) -> None:
    raise RuntimeError("plumbing failed")


# Django's own, as far as the tracer can tell: the module is what counts.
plumbing.__module__ = broken_plumbing.__module__ = "django.contrib.plumbing"

KEYS = (attrs.SIGNAL_RECEIVERS_DJANGO, attrs.SIGNAL_RECEIVERS_DJANGO_COUNT)


@pytest.fixture(autouse=True)
def _inner_receiver() -> Any:
    inner.connect(ok)
    yield
    inner.disconnect(ok)


def test_a_receiver_is_djangos_when_its_module_is_django_or_below() -> None:
    assert defined_by_django("django.db.reset_queries")
    assert defined_by_django("functools.partial(functools.partial(django.db.reset_queries))")
    assert not defined_by_django("django_extensions.receivers.on_save")
    assert not defined_by_django("myapp.django.receivers.on_save")


def test_djangos_receivers_are_named_on_their_firings_span(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(reset_queries)
    signal.connect(ok)
    signal.connect(functools.partial(reset_queries), weak=False)
    signal.send(sender=None)
    assert render_spans(exporter.get_finished_spans(), KEYS) == (
        "unnamed_signal send django.signal.receivers.django=('django.db.reset_queries', "
        "'functools.partial(django.db.reset_queries)') django.signal.receivers.django.count=2\n"
        "  tests.dispatch.receivers.ok"
    )


def test_a_firing_of_djangos_receiver_alone_keeps_its_own_name(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(plumbing)
    signal.send(sender=None)
    # Not merged (a merged span is the receiver's); what the receiver sends nests under it.
    assert render_spans(exporter.get_finished_spans(), [attrs.SIGNAL_RECEIVERS_DJANGO_COUNT]) == (
        "unnamed_signal send django.signal.receivers.django.count=1\n"
        "  inner tests.dispatch.receivers.ok"
    )


def test_a_handled_failure_of_djangos_receiver_is_an_event_on_a_firing_that_stays_ok(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    signal.connect(broken_plumbing)
    signal.connect(ok)
    with caplog.at_level(logging.CRITICAL, logger="django.dispatch"):
        signal.send_robust(sender=None)
    firing = exporter.get_finished_spans()[-1]
    assert firing.name == "unnamed_signal send_robust"
    assert firing.status.is_ok
    assert firing.attributes[attrs.SIGNAL_RECEIVERS_FAILED] == 1
    [event] = firing.events
    assert event.attributes["exception.type"] == "builtins.RuntimeError"


def test_a_failure_that_propagates_marks_the_firing(exporter: InMemorySpanExporter) -> None:
    signal = Signal()
    signal.connect(broken_plumbing)
    with pytest.raises(RuntimeError):
        signal.send(sender=None)
    [firing] = exporter.get_finished_spans()
    assert not firing.status.is_ok
    assert len(firing.events) == 1


def quiet_plumbing(sender: Any, **kwargs: Any) -> None:
    return None


async def async_broken_plumbing(sender: Any, **kwargs: Any) -> None:
    raise RuntimeError("async plumbing failed")


quiet_plumbing.__module__ = async_broken_plumbing.__module__ = "django.contrib.plumbing"


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_a_firing_of_djangos_receivers_alone_counts_those_a_failure_stopped(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    # No call has a span or a node of its own: the sending method runs Django's loop, and
    # what stopped it and what it stopped are still told on the firing's span.
    signal = Signal()
    signal.connect(quiet_plumbing)
    signal.connect(broken_plumbing)
    signal.connect(plumbing)
    signal.connect(quiet_plumbing, dispatch_uid="again")

    class Stop(BaseException):
        pass

    def stopping(sender: Any, **kwargs: Any) -> None:
        raise Stop

    stopping.__module__ = "django.contrib.plumbing"
    signal.connect(stopping)
    signal.connect(quiet_plumbing, dispatch_uid="never")
    with caplog.at_level(logging.CRITICAL, logger="django.dispatch"):
        if method == "send":
            with pytest.raises(RuntimeError):
                signal.send(sender=None)
        else:
            with pytest.raises(Stop):
                signal.send_robust(sender=None)
    firing = exporter.get_finished_spans()[-1]
    assert firing.name == f"unnamed_signal {method}"
    assert not firing.status.is_ok
    if method == "send":  # broken_plumbing stopped it: four never ran
        assert firing.attributes[attrs.SIGNAL_RECEIVERS_NOT_RUN] == 4
        assert attrs.SIGNAL_RECEIVERS_FAILED not in firing.attributes
    else:  # broken_plumbing was handled, stopping stopped it: one never ran
        assert firing.attributes[attrs.SIGNAL_RECEIVERS_NOT_RUN] == 1
        assert firing.attributes[attrs.SIGNAL_RECEIVERS_FAILED] == 1


def test_a_failing_async_receiver_of_djangos_alone_leaves_the_sync_ones_run(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(quiet_plumbing)
    signal.connect(quiet_plumbing, dispatch_uid="again")
    signal.connect(async_broken_plumbing)
    with pytest.raises(RuntimeError):
        signal.send(sender=None)
    firing = exporter.get_finished_spans()[-1]
    assert not firing.status.is_ok
    assert attrs.SIGNAL_RECEIVERS_NOT_RUN not in firing.attributes


def test_span_gives_djangos_receivers_spans_of_their_own(exporter: InMemorySpanExporter) -> None:
    signal_tracing.instrument(django_receivers="span")
    exporter.clear()
    signal = Signal()
    signal.connect(reset_queries)
    signal.connect(ok)
    signal.send(sender=None)
    assert render_spans(exporter.get_finished_spans(), KEYS) == (
        "unnamed_signal send\n  django.db.reset_queries\n  tests.dispatch.receivers.ok"
    )


def test_the_lean_configuration_counts_firings_of_djangos_receivers_alone(
    exporter: InMemorySpanExporter,
) -> None:
    signal_tracing.instrument(django_receivers="count")
    exporter.clear()
    djangos, mixed = Signal(), Signal()
    djangos.connect(reset_queries)
    mixed.connect(reset_queries)
    mixed.connect(ok)
    scope = Scope("request", "GET /", object())  # type: ignore[arg-type]
    token = current_node.set(scope)
    try:
        djangos.send(sender="a")
        djangos.send(sender="a")
        mixed.send(sender="b")
    finally:
        current_node.reset(token)
    assert [entry[:1] + entry[2:] for entry in scope.counts.values()] == [  # type: ignore[union-attr]
        [2, "unnamed_signal", "a"]
    ]
    assert render_spans(exporter.get_finished_spans(), KEYS) == (
        "unnamed_signal send django.signal.receivers.django=('django.db.reset_queries',) "
        "django.signal.receivers.django.count=1\n"
        "  tests.dispatch.receivers.ok"
    )


def test_a_test_capture_sees_every_call_of_djangos_receivers_whatever_the_setting(
    exporter: InMemorySpanExporter,
) -> None:
    signal_tracing.instrument(django_receivers="count")
    signal = Signal()
    signal.connect(reset_queries)
    with capture_signals() as captured:
        signal.send(sender=None)
    [firing] = captured.firings
    assert [(call.receiver_name, call.outcome) for call in firing.record.calls] == [
        ("django.db.reset_queries", Outcome.OK)
    ]


def test_a_handled_failure_when_all_receivers_are_djangos_is_still_an_event(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    signal.connect(broken_plumbing)
    with caplog.at_level(logging.CRITICAL, logger="django.dispatch"):
        [(_receiver, error)] = signal.send_robust(sender=None)
    [firing] = exporter.get_finished_spans()
    assert isinstance(error, RuntimeError)
    assert firing.status.is_ok
    assert firing.attributes[attrs.SIGNAL_RECEIVERS_FAILED] == 1
    assert [event.name for event in firing.events] == ["exception"]
