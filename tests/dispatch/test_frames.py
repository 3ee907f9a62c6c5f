"""A receiver has exactly the frames above it that it has under Django, on every path.

Libraries (and Django's own ``override_settings``) call ``warnings.warn(stacklevel=N)`` from
code that receivers run, expecting the warning to point at a caller N frames up. Each test
fires a signal untraced, then traced one way or another, and compares what a probing receiver
saw: where ``warnings.warn`` pointed for stacklevel 2 to 6, and ``len(inspect.stack())``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NamedTuple

import pytest
from django.dispatch import Signal, dispatcher
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import signal_tracing
from signal_tracing import _dispatch, firings
from signal_tracing.nesting import Scope, current_node
from signal_tracing.recording import recording
from signal_tracing.testing import capture_signals
from tests.dispatch.receivers import Boom, async_ok, ok, traced_exporter

#: A module-level signal, so that policies can name it.
probed = Signal()
PATH = "tests.dispatch.test_frames.probed"

METHODS = ("send", "send_robust", "asend", "asend_robust")
LEVELS = range(2, 7)


#: The one documented difference: the frame of the sending method (and of the functions that
#: stand in for Django's inner ones) is in signal_tracing/_dispatch.py, not dispatcher.py.
DISPATCHER_FILES = (_dispatch.__file__, dispatcher.__file__)


class Seen(NamedTuple):
    """Where ``warnings.warn`` pointed at each stack level, and how deep the stack was."""

    warned_at: tuple[tuple[str, int], ...]
    depth: int


def observe() -> Seen:
    # Called by the receiver: one frame more here, hence stacklevel + 1 and depth - 1.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for level in LEVELS:
            warnings.warn("probe", UserWarning, stacklevel=level + 1)
    return Seen(
        tuple(
            ("<the dispatcher>", 0)
            if warning.filename in DISPATCHER_FILES
            else (warning.filename, warning.lineno)
            for warning in caught
        ),
        len(inspect.stack(0)) - 1,
    )


class Probe:
    """The receivers that look at their frames (and, if asked, fail afterwards)."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.seen: list[Seen] = []

    def sync(self, sender: Any, **kwargs: Any) -> str:
        self.seen.append(observe())
        if self.fail:
            raise Boom("probe failed")
        return "sync"

    async def async_(self, sender: Any, **kwargs: Any) -> str:
        self.seen.append(observe())
        await asyncio.sleep(0)
        if self.fail:
            raise Boom("probe failed")
        return "async"


def fire(method: str) -> Any:
    # One line per method: the caller's line is part of what the probe sees.
    if method == "send":
        return probed.send(sender="frames")
    if method == "send_robust":
        return probed.send_robust(sender="frames")
    if method == "asend":
        return asyncio.run(probed.asend(sender="frames"))
    return asyncio.run(probed.asend_robust(sender="frames"))


class CountingHook:
    def __init__(self) -> None:
        self.calls = 0

    def before(self, signal: Signal, sender: Any, named: dict[str, Any], method: str) -> None:
        self.calls += 1

    def after(self, state: None, error: BaseException | None) -> None:
        self.calls += 1


# Each path: what surrounds the traced firing, and a check that the firing took that path.


@contextmanager
def traced() -> Iterator[None]:
    exporter = traced_exporter()
    assert _dispatch.is_patched()
    yield
    assert exporter.get_finished_spans()


@contextmanager
def counted() -> Iterator[None]:
    traced_exporter()
    signal_tracing.instrument(policies={PATH: "count"})
    with recording() as recorded:
        yield
    assert [path for path, _sender in recorded.counts] == [PATH]


@contextmanager
def counted_on_span() -> Iterator[None]:
    # Nothing records: the count on the enclosing span is all there is (the per-row path).
    traced_exporter()
    signal_tracing.instrument(policies={PATH: "count"})
    scope = Scope("request", "GET /frames", object())  # type: ignore[arg-type]  # any span
    token = current_node.set(scope)
    try:
        yield
    finally:
        current_node.reset(token)
    [(count, _total_ns, signal_name, _sender)] = scope.counts.values()  # type: ignore[union-attr]
    assert (count, signal_name) == (1, "probed")


@contextmanager
def plain() -> Iterator[None]:
    exporter = traced_exporter()
    signal_tracing.instrument(policies={PATH: "off"})
    with recording() as recorded:
        yield
    assert not exporter.get_finished_spans()
    assert not recorded.dispatches


@contextmanager
def sampled_out() -> Iterator[None]:
    exporter = traced_exporter()
    parent = NonRecordingSpan(SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(0)))
    with trace.use_span(parent):
        yield
    assert not exporter.get_finished_spans()


@contextmanager
def capturing() -> Iterator[None]:
    exporter = traced_exporter()
    with capture_signals() as captured:
        yield
    assert exporter.get_finished_spans()
    assert captured.count(probed) == 1


@contextmanager
def capturing_untraced() -> Iterator[None]:
    with capture_signals() as captured:
        yield
    assert not signal_tracing.is_instrumented()
    assert captured.count(probed) == 1


@contextmanager
def hooked() -> Iterator[None]:
    exporter = traced_exporter()
    hook = CountingHook()
    firings.set_hook(probed, hook)
    try:
        yield
    finally:
        firings.set_hook(probed, None)
    assert hook.calls == 2
    assert exporter.get_finished_spans()


@contextmanager
def untraced_django() -> Iterator[None]:
    assert not _dispatch.is_patched()
    yield


PATHS: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "traced": traced,
    "counted": counted,
    "counted on a span": counted_on_span,
    "plain": plain,
    "sampled out": sampled_out,
    "capturing": capturing,
    "capturing, tracing off": capturing_untraced,
    "hooked": hooked,
}


def connect(kind: str, probe: Probe, alone: bool) -> None:
    probed.connect(probe.sync if kind == "sync" else probe.async_)
    if not alone:  # another receiver: a dispatch span with one span per receiver
        probed.connect(ok)
        probed.connect(async_ok)


@pytest.fixture(autouse=True)
def _disconnect() -> Iterator[None]:
    yield
    probed.receivers.clear()
    probed.sender_receivers_cache.clear()


def run(method: str, kind: str, *, alone: bool, fail: bool) -> tuple[list[Seen], list[Any]]:
    probe = Probe(fail)
    probed.receivers.clear()
    probed.sender_receivers_cache.clear()
    connect(kind, probe, alone)
    handler = _Records()
    logger = logging.getLogger("django.dispatch")
    logger.addHandler(handler)
    try:
        fire(method)
    except Boom:
        pass
    finally:
        logger.removeHandler(handler)
    return probe.seen, handler.facts


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.facts: list[tuple[Any, ...]] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        self.facts.append(
            (
                record.name,
                record.levelno,
                record.msg,
                (record.args[0], type(record.args[1]), str(record.args[1]))  # type: ignore[index]
                if isinstance(record.args, tuple)
                else record.args,
                type(error),
                str(error),
                record.pathname,
                record.funcName,
                record.lineno,
            )
        )


def compare(method: str, kind: str, path: str, *, alone: bool = False, fail: bool = False) -> None:
    signal_tracing.uninstrument()
    runs = []
    for set_up in (untraced_django, PATHS[path]):
        with set_up():  # one call site for both runs: the probe sees this line too
            runs.append(run(method, kind, alone=alone, fail=fail))
    untraced, traced = runs
    assert untraced[0], "the probe never ran"
    assert traced == untraced


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
def test_receivers_see_djangos_frames_on_every_path(method: str, kind: str, path: str) -> None:
    compare(method, kind, path)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
def test_a_single_receivers_merged_span_keeps_djangos_frames(method: str, kind: str) -> None:
    compare(method, kind, "traced", alone=True)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("method", ["send_robust", "asend_robust"])
@pytest.mark.parametrize("path", ["traced", "plain", "capturing"])
def test_robust_failures_keep_djangos_frames_and_log_records(
    method: str, kind: str, path: str
) -> None:
    # The log records compared include pathname, funcName and lineno, and the error itself.
    compare(method, kind, path, fail=True)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("method", ["send", "asend"])
def test_a_failing_receiver_keeps_djangos_frames(method: str, kind: str) -> None:
    compare(method, kind, "traced", fail=True)
