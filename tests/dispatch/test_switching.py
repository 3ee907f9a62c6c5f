"""Switching tracing on or off while a firing runs: the firing keeps the state it started with.

A firing that started traced ends every span it started, and spans its remaining receivers,
even when one of its receivers (``setting_changed``'s, under ``override_settings``) or another
thread stops tracing; a firing that started untraced stays untraced. Nothing is logged above
DEBUG and no tracer failure is logged at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import setting_changed
from django.dispatch import Signal
from django.test import override_settings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import firings
from signal_tracing.routing import Route
from signal_tracing.testing import capture_signals, render_spans
from tests.dispatch.receivers import ok


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    provider = TracerProvider()
    yield provider
    provider.shutdown()


@pytest.fixture
def exported(provider: TracerProvider) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def troubles(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Records above DEBUG, and tracer failures at any level (each place logs a WARNING
    once per process, then DEBUG: an earlier test may have had the WARNING)."""
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno > logging.DEBUG
        or (record.name.startswith("signal_tracing") and record.exc_info)
    ]


def stops_tracing(sender: Any, **kwargs: Any) -> None:
    signal_tracing.uninstrument()


def test_a_receiver_that_stops_tracing_leaves_its_firing_whole(
    provider: TracerProvider, exported: InMemorySpanExporter, log: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    signal.connect(stops_tracing)
    signal.connect(ok)
    signal_tracing.instrument(tracer_provider=provider)

    assert signal.send(sender=None) == [(stops_tracing, None), (ok, "ok")]

    assert not signal_tracing.is_instrumented()
    assert troubles(log) == []
    assert render_spans(exported.get_finished_spans(), []) == (
        "unnamed_signal send\n"
        "  tests.dispatch.test_switching.stops_tracing\n"
        "  tests.dispatch.receivers.ok"
    )


def after_signal_tracing(sender: Any, setting: str, **kwargs: Any) -> None:
    pass


def test_override_settings_switching_tracing_off_logs_nothing(
    provider: TracerProvider, exported: InMemorySpanExporter, log: pytest.LogCaptureFixture
) -> None:
    # Connected after signal_tracing's own receiver, so it runs once tracing is off.
    setting_changed.connect(after_signal_tracing)
    signal_tracing.instrument(tracer_provider=provider)
    try:
        with override_settings(SIGNAL_TRACING={"ENABLED": False}):
            assert not signal_tracing.is_instrumented()
        assert signal_tracing.is_instrumented()
    finally:
        setting_changed.disconnect(after_signal_tracing)

    assert troubles(log) == []
    # The firing that switched tracing off was traced to its end, its last receiver too.
    [firing] = [s for s in exported.get_finished_spans() if s.name == "setting_changed send"]
    receivers = [
        s.name
        for s in exported.get_finished_spans()
        if s.parent is not None and s.parent.span_id == firing.context.span_id
    ]
    assert receivers[-1] == "tests.dispatch.test_switching.after_signal_tracing"


def test_a_firing_routed_just_before_another_thread_stopped_tracing_runs_untraced(
    provider: TracerProvider,
    exported: InMemorySpanExporter,
    log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_route = firings.route

    def route_then_stop(signal: Signal, sender: Any) -> Route:
        # The interleaving a thread switching tracing off can produce between routing a
        # firing and starting its span.
        decided = real_route(signal, sender)
        signal_tracing.uninstrument()
        return decided

    monkeypatch.setattr(firings, "route", route_then_stop)
    signal = Signal()
    signal.connect(ok)
    signal_tracing.instrument(tracer_provider=provider)

    assert signal.send(sender=None) == [(ok, "ok")]

    assert troubles(log) == []
    assert exported.get_finished_spans() == ()


def starts_tracing(provider: TracerProvider) -> Any:
    def receiver(sender: Any, **kwargs: Any) -> None:
        signal_tracing.instrument(tracer_provider=provider)

    return receiver


def test_a_firing_that_started_untraced_stays_untraced_when_a_receiver_starts_tracing(
    provider: TracerProvider, exported: InMemorySpanExporter, log: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    receiver = starts_tracing(provider)
    signal.connect(receiver)
    signal.connect(ok)
    signal_tracing.uninstrument()

    # A capture records the firing (so the tracer brackets its receivers) with tracing off.
    with capture_signals() as captured:
        signal.send(sender=None)
    assert signal_tracing.is_instrumented()
    signal.send(sender=None)

    assert troubles(log) == []
    assert len(captured.firings) == 1
    # Only the second firing, which started traced, has spans.
    assert render_spans(exported.get_finished_spans(), []) == (
        "unnamed_signal send\n"
        "  tests.dispatch.test_switching.starts_tracing.<locals>.receiver\n"
        "  tests.dispatch.receivers.ok"
    )
