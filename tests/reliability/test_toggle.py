"""Switching tracing on and off at run time, the documented ways, while the application runs.

``override_settings(SIGNAL_TRACING={"ENABLED": ...})`` and ``instrument()``/``uninstrument()``
are flipped while threads send: every send behaves exactly as without tracing, nothing is
raised and nothing logged above DEBUG. A request during which tracing is switched off leaves
its thread's OpenTelemetry context exactly as it found it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.dispatch import Signal
from django.test import RequestFactory, override_settings
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing.instrumentation import apply_settings
from tests.reliability.views import MidRequest

SENDERS = 4
#: Each sender thread stops after this many sends, or when the flips are done.
MAX_SENDS_PER_THREAD = 500_000
FLIPS = 200
FLIP_SECONDS = 10.0

toggled = Signal()


def first(sender: Any, **kwargs: Any) -> str:
    return "first"


def second(sender: Any, number: int, **kwargs: Any) -> int:
    return number


@dataclass
class Sending:
    sends: int = 0
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def private_provider() -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    yield provider
    signal_tracing.uninstrument()
    apply_settings()  # back to what tests.settings says
    provider.shutdown()


def flip(provider: TracerProvider, number: int) -> None:
    """One of the documented switches, in turn."""
    if number % 2:
        with override_settings(SIGNAL_TRACING={"ENABLED": False}):
            time.sleep(0.001)
    elif number % 4 == 0:
        signal_tracing.uninstrument()
        time.sleep(0.001)
        signal_tracing.instrument(tracer_provider=provider)
    else:
        with override_settings(SIGNAL_TRACING={"ENABLED": True, "DEFAULT_POLICY": "count"}):
            time.sleep(0.001)


def send_while_flipping(provider: TracerProvider) -> tuple[Sending, int, float, bool]:
    toggled.connect(first)
    toggled.connect(second)
    signal_tracing.instrument(tracer_provider=provider)
    sending = Sending()
    done = threading.Event()

    def sender() -> None:
        for number in range(MAX_SENDS_PER_THREAD):
            if done.is_set():
                return
            try:
                send = toggled.send if number % 2 else toggled.send_robust
                responses = send(sender=None, number=number)
            except Exception as error:  # the probe reports it; nothing may be raised
                with sending.lock:
                    sending.problems.append(f"raised {type(error).__name__}: {error}")
                return
            with sending.lock:
                sending.sends += 1
                if responses != [(first, "first"), (second, number)]:
                    sending.problems.append(f"send {number} returned {responses!r}")

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        flips = 0
        while flips < FLIPS and time.monotonic() - started < FLIP_SECONDS:
            flip(provider, flips)
            flips += 1
        sending_throughout = all(thread.is_alive() for thread in threads)
    finally:
        done.set()
        for thread in threads:
            thread.join(30)
        toggled.disconnect(first)
        toggled.disconnect(second)
    return sending, flips, time.monotonic() - started, sending_throughout


def test_flipping_the_toggle_while_threads_send_changes_nothing_they_see(
    private_provider: TracerProvider, report: Callable[[str], None]
) -> None:
    sending, flips, seconds, throughout = send_while_flipping(private_provider)
    report(f"{flips} flips in {seconds:.1f} s while {SENDERS} threads made {sending.sends} sends")
    assert sending.problems == []
    assert flips == FLIPS
    assert throughout, "the senders stopped before the flips did"


def troubles(records: list[logging.LogRecord]) -> list[str]:
    """Records above DEBUG, and tracer failures at any level: the tracer logs each failure
    once per process as a WARNING, then at DEBUG, so an earlier test may have had the first."""
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in records
        if record.levelno > logging.DEBUG
        or (record.name.startswith("signal_tracing") and record.exc_info)
    ]


def test_flipping_the_toggle_while_threads_send_logs_nothing(
    private_provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    send_while_flipping(private_provider)
    assert troubles(caplog.records) == []


def test_the_documented_toggle_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with override_settings(SIGNAL_TRACING={"ENABLED": False}):
        pass
    assert troubles(caplog.records) == []


# --------------------------------------------------------------------------------------------
# A request during which tracing is switched: the thread's context afterwards.


class ServerThread:
    """One long-lived thread serving WSGI requests one after another, as a server's does."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self.requests: queue.Queue[str | None] = queue.Queue()
        self.after: queue.Queue[tuple[int, bool, bool]] = queue.Queue()
        self.thread = threading.Thread(target=self.serve)
        self.thread.start()

    def serve(self) -> None:
        handler = WSGIHandler()
        while (path := self.requests.get(timeout=30)) is not None:
            environ = RequestFactory().get(path).environ
            environ["reliability.tracer"] = self.tracer
            response = handler(environ, _ignore_start_response)
            b"".join(response)
            response.close()
            # What the next request on this thread starts from.
            self.after.put(
                (
                    response.status_code,
                    trace.get_current_span().get_span_context().is_valid,
                    otel_context.get_current() == otel_context.Context(),
                )
            )

    def get(self, path: str) -> tuple[int, bool, bool]:
        """Serve ``path``; return its status, whether a span is current afterwards, and
        whether the context is empty again."""
        self.requests.put(path)
        return self.after.get(timeout=30)

    def stop(self) -> None:
        self.requests.put(None)
        self.thread.join(30)


def _ignore_start_response(status: str, headers: list[tuple[str, str]]) -> None:
    pass


def switch_off_with_uninstrument() -> Callable[[], None]:
    signal_tracing.uninstrument()
    return lambda: None


def switch_off_with_override_settings() -> Callable[[], None]:
    switch = override_settings(SIGNAL_TRACING={"ENABLED": False})
    switch.enable()
    return switch.disable


def leave_it_on() -> Callable[[], None]:
    return lambda: None


@pytest.mark.urls("tests.reliability.urls")
@pytest.mark.parametrize(
    "switch",
    [
        pytest.param(leave_it_on, id="left-on"),
        pytest.param(switch_off_with_uninstrument, id="uninstrument"),
        pytest.param(switch_off_with_override_settings, id="override_settings"),
    ],
)
def test_switching_off_mid_request_restores_the_threads_context(
    private_provider: TracerProvider, switch: Callable[[], Callable[[], None]]
) -> None:
    exporter = InMemorySpanExporter()
    private_provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(tracer_provider=private_provider)
    application_tracer = private_provider.get_tracer("reliability.application")
    server = ServerThread(application_tracer)
    undo = leave_it_on()
    MidRequest.inside.clear()
    MidRequest.resume.clear()
    try:
        server.requests.put("/paused/")
        assert MidRequest.inside.wait(10), "the request never reached its view"
        undo = switch()
        MidRequest.resume.set()
        status, span_current, context_empty = server.after.get(timeout=30)
        assert status == 200
        second = server.get("/work/")
    finally:
        undo()
        server.stop()

    assert (span_current, context_empty) == (False, True)
    assert second == (200, False, True)
    # The second request's application span is not in the first request's trace.
    work = [span for span in exporter.get_finished_spans() if span.name == "application work"]
    assert len(work) == 2
    assert work[0].context.trace_id != work[1].context.trace_id
