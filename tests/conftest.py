from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from signal_tracing.testing import collect_spans


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Trace into a private SDK provider (the global one is never touched)."""
    with collect_spans() as collected:
        yield collected.exporter


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-playwright's sync API leaves an asyncio loop running in the main thread, after
    # which async_to_sync() refuses to run there: browser tests go last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
