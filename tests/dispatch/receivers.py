"""Receivers and helpers shared by the dispatcher's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from django.dispatch import dispatcher
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import _dispatch

#: Django 6.1 runs asend()'s sync receivers before its async ones, all async receivers of a
#: firing in one shared context (dispatcher._run_parallel); Django 5.2 and 6.0 gather them.
RUNS_PARALLEL = hasattr(dispatcher, "_run_parallel")


class Boom(Exception):
    pass


def ok(sender: Any, **kwargs: Any) -> str:
    return "ok"


def fails(sender: Any, **kwargs: Any) -> None:
    raise Boom("receiver failed")


async def async_ok(sender: Any, **kwargs: Any) -> str:
    await asyncio.sleep(0)
    return "async ok"


async def async_fails(sender: Any, **kwargs: Any) -> None:
    await asyncio.sleep(0)
    raise Boom("async receiver failed")


def traced_exporter() -> InMemorySpanExporter:
    """Instrument with a fresh SDK provider (restored by the package's autouse fixture)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    span_exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    signal_tracing.instrument(tracer_provider=provider)
    return span_exporter


def run_both(scenario: Callable[[], Any], exporter_factory: Callable[[], Any]) -> tuple[Any, Any]:
    """Run ``scenario`` untraced, then traced; return both results."""
    signal_tracing.uninstrument()
    assert not _dispatch.is_patched()
    plain = scenario()
    exporter_factory()
    assert _dispatch.is_patched()
    traced = scenario()
    return plain, traced
