from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points

import pytest
from django.dispatch import Signal
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing.instrumentation import apply_settings
from signal_tracing.instrumentor import DjangoSignalsInstrumentor


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    DjangoSignalsInstrumentor().uninstrument()
    signal_tracing.uninstrument()
    apply_settings()


def test_entry_point_is_registered_for_opentelemetry_instrument() -> None:
    [entry] = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "django_signals"
    ]
    assert entry.load() is DjangoSignalsInstrumentor


def test_instrumentor_traces_with_the_given_provider_and_undoes_it() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal = Signal()
    signal.connect(print_nothing)
    signal_tracing.uninstrument()
    original = dict(vars(Signal))

    DjangoSignalsInstrumentor().instrument(tracer_provider=provider)
    signal.send(sender=None)
    assert signal_tracing.is_instrumented()
    assert [s.name for s in exporter.get_finished_spans()] == [
        "unnamed_signal tests.test_instrumentor.print_nothing"
    ]

    DjangoSignalsInstrumentor().uninstrument()
    assert not signal_tracing.is_instrumented()
    assert dict(vars(Signal)) == original


def print_nothing(sender: object, **kwargs: object) -> None:
    return None
