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


#: pytest-django's fixtures that give a test the database.
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}
)


def _uses_the_database(item: pytest.Item) -> bool:
    from django.test import TransactionTestCase

    if item.get_closest_marker("django_db") is not None:
        return True
    if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    test_class = getattr(item, "cls", None)
    return test_class is not None and issubclass(test_class, TransactionTestCase)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The PostgreSQL leg (nox -s postgres) runs the tests that use the database: `-m database`.
    for item in items:
        if _uses_the_database(item):
            item.add_marker(pytest.mark.database)
    # pytest-playwright's sync API leaves an asyncio loop running in the main thread, after
    # which async_to_sync() refuses to run there: browser tests go last (with pytest-xdist,
    # last in each worker: workers take tests in this order).
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
