"""Receivers run in Django's order and concurrency; a raising receiver stops the rest."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.dispatch import Signal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from signal_tracing.recording import recording
from signal_tracing.records import Outcome
from tests.dispatch.receivers import (
    RUNS_PARALLEL,
    Boom,
    async_ok,
    fails,
    ok,
    run_both,
    traced_exporter,
)


def test_receivers_run_in_djangos_order_sync_and_async() -> None:
    calls: list[str] = []
    signal = Signal()

    def first(sender: Any, **kwargs: Any) -> None:
        calls.append("first")

    async def second(sender: Any, **kwargs: Any) -> None:
        calls.append("second:start")
        await asyncio.sleep(0.01)
        calls.append("second:end")

    async def third(sender: Any, **kwargs: Any) -> None:
        calls.append("third:start")
        await asyncio.sleep(0)
        calls.append("third:end")

    def fourth(sender: Any, **kwargs: Any) -> None:
        calls.append("fourth")

    for r in (first, second, third, fourth):
        signal.connect(r)

    def scenario() -> list[list[str]]:
        runs = []
        for send in (
            lambda: signal.send(sender=None),
            lambda: signal.send_robust(sender=None),
            lambda: asyncio.run(signal.asend(sender=None)),
            lambda: asyncio.run(signal.asend_robust(sender=None)),
        ):
            calls.clear()
            send()
            runs.append(list(calls))
        if not RUNS_PARALLEL:
            # Django 5.2's and 6.0's asend/asend_robust run the sync group in a thread while
            # the async group runs on the loop: only the order within each group is defined.
            runs[2:] = [
                ([c for c in run if ":" not in c], [c for c in run if ":" in c]) for run in runs[2:]
            ]
        return runs

    plain, traced = run_both(scenario, traced_exporter)
    assert plain == traced


def test_a_sync_receiver_raising_in_send_stops_the_rest_and_counts_them(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(fails)
    signal.connect(ok, dispatch_uid="again")
    signal.connect(async_ok)
    with recording() as recorded, pytest.raises(Boom):
        signal.send(sender=None)
    [record] = recorded.dispatches
    assert [c.outcome for c in record.calls] == [
        Outcome.OK,
        Outcome.RAISED,
        Outcome.NOT_RUN,
        Outcome.NOT_RUN,
    ]
    assert record.outcome is Outcome.RAISED
    dispatch_span = exporter.get_finished_spans()[-1]
    assert dispatch_span.name == "unnamed_signal send"
    assert dispatch_span.attributes["django.signal.receivers.not_run"] == 2
    assert dispatch_span.status.is_ok is False
