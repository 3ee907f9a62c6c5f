from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing.instrumentation import apply_settings


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Trace into a private SDK provider (the global one is never touched)."""
    span_exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    signal_tracing.instrument(tracer_provider=provider)
    yield span_exporter
    signal_tracing.uninstrument()
    apply_settings()
    provider.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-playwright's sync API leaves an asyncio loop running in the main thread, after
    # which async_to_sync() refuses to run there: browser tests go last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
