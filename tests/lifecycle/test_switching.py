"""Switching tracing on or off while a request, command or test runs.

Whatever happens in between, the context a request, command or test ends with (both the
OpenTelemetry context and signal_tracing's current node) is exactly the one it started with: a
server thread's next request starts clean and its spans never join the previous trace. Each
switch is one of the documented ones, flipped while the request is paused inside its view or
inside its streamed body; WSGI requests are served one after another by a real server's
single thread, ASGI ones by Django's handler awaited in one task.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
import unittest
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.signals import request_finished, request_started
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import SimpleTestCase, override_settings
from django.urls import path
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import signal_tracing
from signal_tracing import firings
from signal_tracing.instrumentation import apply_settings
from signal_tracing.lifecycle import requests, test_scope
from signal_tracing.nesting import Node, current_node
from tests.lifecycle.asgi import call
from tests.lifecycle.conftest import wait_until

pytestmark = pytest.mark.urls(__name__)

#: A context value: (signal_tracing's current node, the OpenTelemetry context).
Snapshot = tuple[Node | None, otel_context.Context]


def snapshot() -> Snapshot:
    return current_node.get(), otel_context.get_current()


# --------------------------------------------------------------------------------------------
# The application: views that pause until the test has flipped the switch.


class Pause:
    """The request waits inside (each wait bounded) until the test has made its switch."""

    inside = threading.Event()
    resume = threading.Event()
    timeout = 10.0

    @classmethod
    def reset(cls) -> None:
        cls.inside.clear()
        cls.resume.clear()

    @classmethod
    def wait(cls) -> None:
        cls.inside.set()
        if not cls.resume.wait(cls.timeout):
            raise TimeoutError("the test never resumed the request")

    @classmethod
    async def wait_async(cls) -> None:
        cls.inside.set()
        deadline = time.monotonic() + cls.timeout
        while not cls.resume.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("the test never resumed the request")
            await asyncio.sleep(0.002)


#: The application's own tracer (the test's provider), as an app instrumented by hand has.
application_tracer: trace.Tracer = trace.get_tracer(__name__)


def paused(request: HttpRequest) -> HttpResponse:
    with application_tracer.start_as_current_span("application work"):
        Pause.wait()
    return HttpResponse("resumed")


def streamed(request: HttpRequest) -> StreamingHttpResponse:
    def body() -> Iterator[bytes]:
        yield b"first "
        with application_tracer.start_as_current_span("application work"):
            Pause.wait()
        yield b"second"

    return StreamingHttpResponse(body())


def work(request: HttpRequest) -> HttpResponse:
    with application_tracer.start_as_current_span("application work"):
        return HttpResponse("worked")


async def paused_async(request: HttpRequest) -> HttpResponse:
    with application_tracer.start_as_current_span("application work"):
        await Pause.wait_async()
    return HttpResponse("resumed")


async def streamed_async(request: HttpRequest) -> StreamingHttpResponse:
    async def body() -> AsyncIterator[bytes]:
        yield b"first "
        with application_tracer.start_as_current_span("application work"):
            await Pause.wait_async()
        yield b"second"

    return StreamingHttpResponse(body())


async def work_async(request: HttpRequest) -> HttpResponse:
    with application_tracer.start_as_current_span("application work"):
        return HttpResponse("worked")


urlpatterns = [
    path("paused/", paused),
    path("streamed/", streamed),
    path("work/", work),
    path("async/paused/", paused_async),
    path("async/streamed/", streamed_async),
    path("async/work/", work_async),
]

PAUSE_POINTS = [
    pytest.param(("paused/", b"resumed"), id="in-the-view"),
    pytest.param(("streamed/", b"first second"), id="in-the-streamed-body"),
]


# --------------------------------------------------------------------------------------------
# The switches.


@dataclass(frozen=True)
class Switch:
    """Tracing is on or off when the first request starts; ``flip`` changes it meanwhile."""

    on_before: bool
    on_after: bool
    flip: Callable[[TracerProvider, ExitStack], None]


def _uninstrument(provider: TracerProvider, cleanup: ExitStack) -> None:
    signal_tracing.uninstrument()


def _instrument(provider: TracerProvider, cleanup: ExitStack) -> None:
    signal_tracing.instrument(tracer_provider=provider)


def _settings_off(provider: TracerProvider, cleanup: ExitStack) -> None:
    cleanup.enter_context(override_settings(SIGNAL_TRACING={"ENABLED": False}))


def _settings_back_on(provider: TracerProvider, cleanup: ExitStack) -> None:
    cleanup.close()  # leaves the override_settings(ENABLED=False) the test started in


def _off_and_on_again(provider: TracerProvider, cleanup: ExitStack) -> None:
    signal_tracing.uninstrument()
    signal_tracing.instrument(tracer_provider=provider)


SWITCHES = [
    pytest.param(Switch(True, True, lambda provider, cleanup: None), id="left-on"),
    pytest.param(Switch(True, False, _uninstrument), id="uninstrument"),
    pytest.param(Switch(True, False, _settings_off), id="override_settings-off"),
    pytest.param(Switch(False, True, _instrument), id="instrument"),
    pytest.param(Switch(False, True, _settings_back_on), id="override_settings-on"),
    pytest.param(Switch(True, True, _off_and_on_again), id="off-and-on-again"),
]


@dataclass
class Traced:
    provider: TracerProvider
    exporter: InMemorySpanExporter
    cleanup: ExitStack

    def start(self, switch: Switch) -> None:
        """Put tracing in the state the first request starts in."""
        signal_tracing.instrument(tracer_provider=self.provider)
        if not switch.on_before:
            if switch.flip is _settings_back_on:
                self.cleanup.enter_context(override_settings(SIGNAL_TRACING={"ENABLED": False}))
            else:
                signal_tracing.uninstrument()

    def flip(self, switch: Switch) -> None:
        switch.flip(self.provider, self.cleanup)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@pytest.fixture
def traced() -> Iterator[Traced]:
    global application_tracer
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    application_tracer = provider.get_tracer(__name__)
    Pause.reset()
    with ExitStack() as cleanup:
        try:
            yield Traced(provider, exporter, cleanup)
        finally:
            Pause.resume.set()
    signal_tracing.uninstrument()
    apply_settings()
    provider.shutdown()


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def troubles(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Records above DEBUG, and tracer failures at any level (each place logs a WARNING
    once per process, then DEBUG: an earlier test may have had the WARNING)."""
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno > logging.DEBUG
        or (record.name.startswith("signal_tracing") and record.exc_info)
    ]


def check_spans(traced: Traced, switch: Switch) -> None:
    """Every request span that started ended, named after its route; the second request's
    application span is not in the first request's trace."""
    spans = traced.spans()
    requests = [span for span in spans if span.kind is SpanKind.SERVER]
    assert len(requests) == switch.on_before + switch.on_after
    # Named after their route, even one whose span uninstrument() ended while in the view.
    assert all(span.name.startswith("GET ") for span in requests), [s.name for s in requests]
    first, second = [span for span in spans if span.name == "application work"]
    assert first.context.trace_id != second.context.trace_id
    assert (second.parent is not None) is switch.on_after


# --------------------------------------------------------------------------------------------
# WSGI: a real server whose one thread serves every request.


class ContextProbe:
    """WSGI middleware: the server thread's context as each request starts, and once the
    server has closed its response (after ``request_finished``)."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.seen: list[tuple[Snapshot, Snapshot]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        before = snapshot()
        body = self.application(environ, start_response)
        return _ProbedBody(body, lambda: self.seen.append((before, snapshot())))


class _ProbedBody:
    def __init__(self, body: Iterable[bytes], on_closed: Callable[[], None]) -> None:
        self.body = body
        self.on_closed = on_closed

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            self.body.close()  # type: ignore[attr-defined]
        finally:
            self.on_closed()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def one_thread_server() -> Iterator[Callable[[Any], str]]:
    """Serve a WSGI application on 127.0.0.1 from one thread, one request after another."""
    servers: list[tuple[WSGIServer, threading.Thread]] = []

    def serve(application: Any) -> str:
        server = make_server("127.0.0.1", 0, application, handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        thread.join(30)
        server.server_close()


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def fetch_while_switching(url: str, flip: Callable[[], None]) -> tuple[int, bytes]:
    """Fetch ``url`` (a pausing view), flipping the switch while the request is paused."""
    result: list[tuple[int, bytes]] = []
    client = threading.Thread(target=lambda: result.append(fetch(url)))
    client.start()
    try:
        assert Pause.inside.wait(Pause.timeout), "the request never reached its pause"
        flip()
    finally:
        Pause.resume.set()
        client.join(30)
    return result[0]


@pytest.mark.parametrize("pause_point", PAUSE_POINTS)
@pytest.mark.parametrize("switch", SWITCHES)
def test_a_wsgi_server_thread_ends_each_request_with_the_context_it_started_with(
    traced: Traced,
    one_thread_server: Callable[[Any], str],
    log: pytest.LogCaptureFixture,
    switch: Switch,
    pause_point: tuple[str, bytes],
) -> None:
    probe = ContextProbe(WSGIHandler())
    url = one_thread_server(probe)
    path, body = pause_point
    traced.start(switch)

    assert fetch_while_switching(f"{url}/{path}", lambda: traced.flip(switch)) == (200, body)
    assert fetch(f"{url}/work/") == (200, b"worked")

    # The server closes a response after the client has read it.
    wait_until(lambda: len(probe.seen) == 2)
    empty = (None, otel_context.Context())
    assert probe.seen == [(empty, empty), (empty, empty)]
    check_spans(traced, switch)
    assert troubles(log) == []


# --------------------------------------------------------------------------------------------
# ASGI: Django's handler awaited in one task, as a server runs one connection's requests.


ASYNC_PAUSE_POINTS = [
    pytest.param(("async/paused/", b"resumed"), id="in-the-view"),
    pytest.param(("async/streamed/", b"first second"), id="in-the-streamed-body"),
]


@pytest.mark.parametrize("pause_point", ASYNC_PAUSE_POINTS)
@pytest.mark.parametrize("switch", SWITCHES)
def test_an_asgi_request_ends_with_the_context_it_started_with(
    traced: Traced, log: pytest.LogCaptureFixture, switch: Switch, pause_point: tuple[str, bytes]
) -> None:
    path, body = pause_point
    application = ASGIHandler()
    traced.start(switch)

    async def switch_when_paused() -> None:
        deadline = time.monotonic() + Pause.timeout
        while not Pause.inside.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        try:
            traced.flip(switch)
        finally:
            Pause.resume.set()

    async def serve() -> list[tuple[Snapshot, Snapshot, int | None, bytes]]:
        seen = []
        switching = asyncio.create_task(switch_when_paused())
        for request_path in (path, "async/work/"):
            before = snapshot()
            exchange = await call(application, "/" + request_path)
            seen.append((before, snapshot(), exchange.status, exchange.body))
        await switching
        return seen

    first, second = asyncio.run(serve())

    assert first[2:] == (200, body)
    assert second[2:] == (200, b"worked")
    assert first[1] == first[0]
    assert second[1] == second[0]
    check_spans(traced, switch)
    assert troubles(log) == []


# --------------------------------------------------------------------------------------------
# Management commands and tests: their wrappers end them whatever the switch did meanwhile.


class SwitchingCommand(BaseCommand):
    """Flips the switch it is given while it runs."""

    def __init__(self, flip: Callable[[], None]) -> None:
        super().__init__()
        self.flip = flip

    def handle(self, *args: Any, **options: Any) -> None:
        with application_tracer.start_as_current_span("application work"):
            self.flip()


def check_root_spans(traced: Traced, switch: Switch, name: str) -> None:
    spans = traced.spans()
    roots = [span for span in spans if span.name == name]
    assert len(roots) == switch.on_before
    (work,) = [span for span in spans if span.name == "application work"]
    assert (work.parent is not None) is switch.on_before


@pytest.mark.parametrize("switch", SWITCHES)
def test_a_command_ends_with_the_context_it_started_with(
    traced: Traced, log: pytest.LogCaptureFixture, switch: Switch
) -> None:
    traced.start(switch)
    before = snapshot()

    call_command(SwitchingCommand(lambda: traced.flip(switch)))

    assert snapshot() == before
    check_root_spans(traced, switch, f"manage.py {__name__}.SwitchingCommand")
    assert troubles(log) == []


@pytest.mark.parametrize("switch", SWITCHES)
def test_a_test_scope_ends_with_the_context_it_started_with(
    traced: Traced, log: pytest.LogCaptureFixture, switch: Switch
) -> None:
    traced.start(switch)
    before = snapshot()

    with (
        test_scope("tests/switching.py::test_switches"),
        application_tracer.start_as_current_span("application work"),
    ):
        traced.flip(switch)

    assert snapshot() == before
    check_root_spans(traced, switch, "tests/switching.py::test_switches")
    assert troubles(log) == []


class SwitchingTests(SimpleTestCase):
    __test__ = False  # run by the test below, under unittest's runner
    flip: Callable[[], None] = staticmethod(lambda: None)

    def test_switches(self) -> None:
        with application_tracer.start_as_current_span("application work"):
            type(self).flip()


@pytest.mark.parametrize("switch", SWITCHES)
def test_a_django_test_case_ends_with_the_context_it_started_with(
    traced: Traced, log: pytest.LogCaptureFixture, switch: Switch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SwitchingTests, "flip", staticmethod(lambda: traced.flip(switch)))
    traced.start(switch)
    before = snapshot()

    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(
        SwitchingTests("test_switches")
    )

    assert result.wasSuccessful()
    assert snapshot() == before
    check_root_spans(traced, switch, f"{__name__}.SwitchingTests.test_switches")
    assert troubles(log) == []


# --------------------------------------------------------------------------------------------
# Switched off while a request's own firings run.


def stops_tracing(sender: Any, **kwargs: Any) -> None:
    signal_tracing.uninstrument()


def serve_two_requests(one_thread_server: Callable[[Any], str]) -> list[tuple[Snapshot, Snapshot]]:
    probe = ContextProbe(WSGIHandler())
    url = one_thread_server(probe)
    for count in (1, 2):
        assert fetch(f"{url}/work/") == (200, b"worked")
        wait_until(lambda: len(probe.seen) == count)  # noqa: B023  (waited for at once)
    return probe.seen


@pytest.mark.parametrize(
    "signal", [request_started, request_finished], ids=["request_started", "request_finished"]
)
def test_a_request_receiver_that_stops_tracing_leaves_its_thread_clean(
    traced: Traced,
    one_thread_server: Callable[[Any], str],
    log: pytest.LogCaptureFixture,
    signal: Signal,
) -> None:
    signal_tracing.instrument(tracer_provider=traced.provider)
    signal.connect(stops_tracing)
    try:
        seen = serve_two_requests(one_thread_server)
    finally:
        signal.disconnect(stops_tracing)

    empty = (None, otel_context.Context())
    assert seen == [(empty, empty), (empty, empty)]
    assert len([span for span in traced.spans() if span.kind is SpanKind.SERVER]) == 1
    assert troubles(log) == []


class StoppedJustBefore:
    """``request_started``'s hook, read by a firing just before another thread stopped
    tracing: it opens the request span after ``uninstrument()`` ended every open one."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def before(self, signal: Signal, sender: Any, named: dict[str, Any], method: str) -> Any:
        signal_tracing.uninstrument()
        return self.hook.before(signal, sender, named, method)

    def after(self, state: Any, error: BaseException | None) -> None:
        self.hook.after(state, error)


def test_a_request_span_opened_as_tracing_stops_is_closed_before_the_view(
    traced: Traced, one_thread_server: Callable[[Any], str], log: pytest.LogCaptureFixture
) -> None:
    signal_tracing.instrument(tracer_provider=traced.provider)
    firings.set_hook(request_started, StoppedJustBefore(requests.RequestStarted()))

    seen = serve_two_requests(one_thread_server)

    empty = (None, otel_context.Context())
    assert seen == [(empty, empty), (empty, empty)]
    assert troubles(log) == []
