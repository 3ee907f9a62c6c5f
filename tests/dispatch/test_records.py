"""The records recordings read: nesting, concurrent receivers, bounded caches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.dispatch import Signal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from signal_tracing import routing
from signal_tracing.recording import recording
from tests.dispatch.receivers import (
    RUNS_PARALLEL,
    async_ok,
    ok,
)


def test_records_nest_under_the_receiver_call_that_sent_them(
    exporter: InMemorySpanExporter,
) -> None:
    outer, inner = Signal(), Signal()
    inner.connect(ok)

    def sends_inner(sender: Any, **kwargs: Any) -> None:
        inner.send(sender="nested")

    outer.connect(ok)
    outer.connect(sends_inner)
    with recording() as recorded:
        outer.send(sender="top")
    top, nested = recorded.dispatches
    assert recorded.roots == [top]
    assert top.calls[1].children == [nested]
    assert nested.parent_call is top.calls[1]
    assert nested.chain() == [top, nested]
    assert list(top.walk()) == [top, nested]
    assert (top.depth, nested.depth) == (0, 1)


@pytest.mark.skipif(
    not RUNS_PARALLEL, reason="Django 5.2 and 6.0 give each async receiver its own context"
)
def test_firings_from_concurrent_async_receivers_nest_under_the_firing(
    exporter: InMemorySpanExporter,
) -> None:
    outer, inner = Signal(), Signal()
    inner.connect(async_ok)

    async def first(sender: Any, **kwargs: Any) -> None:
        await inner.asend(sender="from first")

    async def second(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        await inner.asend(sender="from second")

    outer.connect(first)
    outer.connect(second)
    with recording() as recorded:
        asyncio.run(outer.asend(sender=None))
    top, *nested = recorded.dispatches
    assert recorded.roots == [top]
    assert sorted(r.sender_label for r in top.children) == ["from first", "from second"]
    assert all(r.parent_dispatch is top and r.depth == 1 for r in nested)
    assert [r.signal_name for r in top.walk()] == ["unnamed_signal"] * 3


def test_signals_created_on_the_fly_do_not_grow_the_tracers_caches(
    exporter: InMemorySpanExporter,
) -> None:
    alive = []  # kept alive so that no id is reused
    for _ in range(5000):
        signal = Signal()
        # A strong reference to a receiver of its own: on Django 5.2 a weak connect() to a
        # module-level function would keep the signal alive for the rest of the test run.
        signal.connect(lambda sender, **kwargs: None, weak=False)
        signal.send(sender=None)
        alive.append(signal)
    assert len(routing._signals) <= routing.MAX_SIGNALS
    alive.clear()
