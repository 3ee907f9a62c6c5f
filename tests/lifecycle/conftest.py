"""Fixtures for the lifecycle tests: a tracer provider we can hand to other instrumentations,
real WSGI servers on 127.0.0.1, and helpers that wait for spans ended by server threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.signals import request_finished, request_started
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing.conf import Config
from signal_tracing.instrumentation import apply_settings
from signal_tracing.testing import render_spans

REQUEST_KEYS = (
    "http.route",
    "http.response.status_code",
    "django.request.cancelled",
    "django.request.abandoned",
    "django.response.streaming",
    "error.type",
)


@dataclass
class Tracing:
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def tree(self, keys: tuple[str, ...] = REQUEST_KEYS) -> str:
        return render_spans(self.spans(), keys)

    def exported_text(self) -> str:
        """Every span name, attribute value and event value: to search for data that must
        not have been exported."""
        parts: list[str] = []
        for span in self.spans():
            parts += [span.name, *map(str, (span.attributes or {}).values())]
            for event in span.events:
                parts += map(str, (event.attributes or {}).values())
        return "\n".join(parts)

    def named(self, name: str) -> ReadableSpan:
        (span,) = [span for span in self.spans() if span.name == name]
        return span

    def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` spans called ``name`` ended (servers end them in their threads)."""
        wait_until(lambda: sum(span.name == name for span in self.spans()) >= count, timeout)


def in_a_new_thread(function: Callable[[], Any]) -> Any:
    """Run ``function`` in a fresh thread (its own context and no database connection, like
    a server's request thread) and return its result or raise its exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as error:
            outcome.append((False, error))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(0.01)


#: Django's own request-cycle receivers. Django's test client disconnects and reconnects
#: close_old_connections around each request, which reorders them for the rest of the
#: process; the ``tracing`` fixture hides them and connects the two markers below instead,
#: so trees are the same whatever ran before.
DJANGO_REQUEST_RECEIVERS = (
    "django.db.reset_queries",
    "django.db.close_old_connections",
    "django.core.cache.close_caches",
    "django.core.handlers.base.reset_urlconf",
)


def request_began(sender: Any, **kwargs: Any) -> None:
    pass


def request_ended(sender: Any, **kwargs: Any) -> None:
    pass


def _traced(**options: Any) -> Iterator[Tracing]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(tracer_provider=provider, **options)
    try:
        yield Tracing(provider, exporter)
    finally:
        signal_tracing.uninstrument()
        apply_settings()
        provider.shutdown()


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    """Trace into a private provider (at hand for other instrumentations), with Django's own
    request receivers replaced by ``request_began``/``request_ended`` markers."""
    request_started.connect(request_began)
    request_finished.connect(request_ended)
    try:
        yield from _traced(
            exclude_receivers=[*Config().exclude_receivers, *DJANGO_REQUEST_RECEIVERS]
        )
    finally:
        request_started.disconnect(request_began)
        request_finished.disconnect(request_ended)


@pytest.fixture
def tracing_everything() -> Iterator[Tracing]:
    """Trace into a private provider with the default options."""
    yield from _traced()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """A thread per request, as ``runserver`` does; ``server_close`` joins them."""


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[Any], str]]:
    """Serve a WSGI application on 127.0.0.1 (ephemeral port) from threads; return its URL."""
    servers: list[tuple[WSGIServer, threading.Thread]] = []

    def serve(application: Any) -> str:
        server = make_server(
            "127.0.0.1",
            0,
            application,
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        thread.join()
        server.server_close()


def on_tick(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def tick_receiver() -> Iterator[None]:
    """``on_tick`` connected to the test views' custom ``tick`` signal."""
    from tests.lifecycle import views

    views.tick.connect(on_tick)
    yield
    views.tick.disconnect(on_tick)
