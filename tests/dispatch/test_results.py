"""send*() return, raise and log exactly what Django's do, traced or not."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from django.dispatch import Signal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from signal_tracing.recording import recording
from signal_tracing.records import Outcome
from tests.dispatch.receivers import (
    RUNS_PARALLEL,
    Boom,
    async_fails,
    async_ok,
    fails,
    ok,
    run_both,
    traced_exporter,
)


def test_send_returns_original_receivers_and_responses(exporter: InMemorySpanExporter) -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(async_ok)
    assert signal.send(sender=None) == [(ok, "ok"), (async_ok, "async ok")]
    assert [s.name for s in exporter.get_finished_spans()][-1] == "unnamed_signal send"


def test_send_robust_returns_original_receiver_and_error(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    signal.connect(fails)
    signal.connect(ok)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = signal.send_robust(sender=None)
    assert [receiver for receiver, _ in responses] == [fails, ok]
    assert isinstance(responses[0][1], Boom)
    assert responses[1][1] == "ok"
    [log] = caplog.records
    assert log.name == "django.dispatch"
    assert log.getMessage() == "Error calling fails in Signal.send_robust() (receiver failed)"
    assert log.exc_info is not None
    assert log.exc_info[1] is responses[0][1]


def test_send_robust_logs_exactly_what_django_logs(caplog: pytest.LogCaptureFixture) -> None:
    signal = Signal()
    signal.connect(fails)
    signal.connect(async_fails)

    def scenario() -> list[tuple[str, str, str, Any]]:
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="django.dispatch"):
            signal.send_robust(sender=None)
            asyncio.run(signal.asend_robust(sender=None))
        logged = [
            (r.name, r.levelname, r.getMessage(), type(r.exc_info[1]) if r.exc_info else None)
            for r in caplog.records
            if r.name == "django.dispatch"
        ]
        # Django 5.2 and 6.0 run asend_robust's sync group in a thread concurrently with the async
        # group, so the order of those two log lines is up to the scheduler, traced or not.
        return logged if RUNS_PARALLEL else sorted(logged, key=repr)

    plain, traced = run_both(scenario, traced_exporter)
    assert plain == traced
    assert len(traced) == 4


def test_exception_from_send_is_the_same_object_raised_in_the_receiver(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    raised: list[BaseException] = []

    def remembers(sender: Any, **kwargs: Any) -> None:
        error = Boom("x")
        raised.append(error)
        raise error

    signal.connect(remembers)
    with pytest.raises(Boom) as info:
        signal.send(sender=None)
    assert info.value is raised[0]
    innermost = traceback.extract_tb(info.value.__traceback__)[-1]
    assert innermost.name == "remembers"


def test_async_exception_from_asend_is_the_same_object(exporter: InMemorySpanExporter) -> None:
    signal = Signal()
    signal.connect(async_fails)
    with pytest.raises(Boom) as info:
        asyncio.run(signal.asend(sender=None))
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "async_fails"


def test_all_four_methods_return_the_same_as_untraced_django() -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(async_ok)
    signal.connect(fails, dispatch_uid="fails")

    def scenario() -> list[Any]:
        def shape(responses: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
            return [(r, type(v) if isinstance(v, Exception) else v) for r, v in responses]

        robust = shape(signal.send_robust(sender="s", x=1))
        arobust = shape(asyncio.run(signal.asend_robust(sender="s", x=1)))
        signal.disconnect(dispatch_uid="fails")
        try:
            sent = shape(signal.send(sender="s"))
            asent = shape(asyncio.run(signal.asend(sender="s")))
        finally:
            signal.connect(fails, dispatch_uid="fails")
        return [robust, arobust, sent, asent]

    plain, traced = run_both(scenario, traced_exporter)
    assert plain == traced


class Interrupt(BaseException):
    """Not an Exception: robust methods let it propagate, as Django does."""


def interrupts(sender: Any, **kwargs: Any) -> None:
    raise Interrupt("stop")


async def async_interrupts(sender: Any, **kwargs: Any) -> None:
    raise Interrupt("stop")


@pytest.mark.parametrize("receiver", [interrupts, async_interrupts])
@pytest.mark.parametrize("method", ["send_robust", "asend_robust"])
def test_a_base_exception_goes_through_the_robust_methods_as_in_django(
    method: str, receiver: Callable[..., Any]
) -> None:
    signal = Signal()
    signal.connect(receiver)
    signal.connect(ok)

    def scenario() -> tuple[type[BaseException], str, list[Outcome]]:
        with recording() as recorded:
            try:
                if method == "send_robust":
                    signal.send_robust(sender=None)
                else:
                    asyncio.run(signal.asend_robust(sender=None))
            except Interrupt as error:
                raised = error
        outcomes = [call.outcome for record in recorded.dispatches for call in record.calls]
        return type(raised), traceback.extract_tb(raised.__traceback__)[-1].name, outcomes

    plain, traced = run_both(scenario, traced_exporter)
    assert plain[:2] == traced[:2]
    assert Outcome.RAISED in traced[2]


@pytest.mark.skipif(not RUNS_PARALLEL, reason="gather raises the first error alone")
def test_several_async_receivers_failing_raise_djangos_exception_group() -> None:
    signal = Signal()
    signal.connect(async_fails)

    async def also_fails(sender: Any, **kwargs: Any) -> None:
        raise Boom("also")

    signal.connect(also_fails)

    def scenario() -> tuple[str, list[str]]:
        try:
            signal.send(sender=None)
        except BaseException as error:
            group = error
        return type(group).__name__, sorted(str(e) for e in group.exceptions)  # type: ignore[attr-defined]

    plain, traced = run_both(scenario, traced_exporter)
    assert plain == traced == ("ExceptionGroup", ["also", "async receiver failed"])
