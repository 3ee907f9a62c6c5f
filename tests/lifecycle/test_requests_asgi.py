"""Request spans under ASGI: Django's ASGI handler driven directly (normal, streaming, client
disconnect, cancelled task), under an outer OpenTelemetry ASGI span, and a real uvicorn."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import urllib.request
import warnings
from collections.abc import Iterator

import django
import pytest
import uvicorn
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind

from signal_tracing.nesting import current_node
from tests.lifecycle import asgi, views
from tests.lifecycle.conftest import Tracing, wait_until

pytestmark = pytest.mark.urls("tests.lifecycle.urls")

REQUEST_STARTED = "  request_started tests.lifecycle.conftest.request_began"
REQUEST_FINISHED = "  request_finished tests.lifecycle.conftest.request_ended"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


async def until_slow_view_runs() -> None:
    while not views.slow_view_started.is_set():
        await asyncio.sleep(0.005)


@pytest.fixture(autouse=True)
def _slow_view_not_started() -> None:
    views.slow_view_started.clear()


def test_asgi_request_span(tracing: Tracing) -> None:
    exchange = asyncio.run(asgi.call(ASGIHandler(), "/async/?q=private-query"))

    assert (exchange.status, exchange.body) == (200, b"async")
    assert tracing.tree() == "\n".join(
        [
            "GET async/ http.route=async/ http.response.status_code=200",
            REQUEST_STARTED,
            REQUEST_FINISHED,
        ]
    )
    span = tracing.named("GET async/")
    assert span.kind is SpanKind.SERVER
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "async/",
        "http.response.status_code": 200,
        "url.scheme": "http",
        "server.address": "testserver",
        "server.port": 80,
        "network.protocol.version": "1.1",
    }
    assert (tracing.named(REQUEST_STARTED.strip()).attributes or {})[
        "django.signal.method"
    ] == "asend"


def test_asgi_streaming_response_span_covers_the_streaming(tracing: Tracing) -> None:
    exchange = asyncio.run(asgi.call(ASGIHandler(), "/async-stream/"))

    assert exchange.body == b"ab"
    assert tracing.tree() == "\n".join(
        [
            "GET async-stream/ http.route=async-stream/ http.response.status_code=200"
            " django.response.streaming=True",
            REQUEST_STARTED,
            REQUEST_FINISHED,
        ]
    )
    span, finished = tracing.named("GET async-stream/"), tracing.named(REQUEST_FINISHED.strip())
    assert span.end_time >= finished.end_time  # type: ignore[operator]


def test_client_disconnect_cancels_the_view_and_ends_the_span(tracing: Tracing) -> None:
    async def disconnect_while_the_view_runs() -> asgi.Exchange:
        exchange = asgi.Exchange()
        handling = asyncio.create_task(
            ASGIHandler()(asgi.http_scope("/slow/"), exchange.receive, exchange.send)
        )
        await until_slow_view_runs()
        exchange.disconnect.set()
        await handling
        return exchange

    exchange = asyncio.run(disconnect_while_the_view_runs())

    assert exchange.sent == []
    # Django sends request_finished itself when the client went away.
    assert tracing.tree() == "\n".join(
        [
            "GET slow/ http.route=slow/ django.request.cancelled=True",
            REQUEST_STARTED,
            REQUEST_FINISHED,
        ]
    )


@pytest.fixture
def _django52_body_file_warning() -> Iterator[None]:
    yield
    # Django 5.2's ASGIHandler leaves the request body's SpooledTemporaryFile open when its
    # task is cancelled (6.0 closes it with ``closing()``); collect it here, not in a later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.mark.usefixtures("_django52_body_file_warning")
def test_cancelled_handler_task_still_ends_the_span(tracing: Tracing) -> None:
    async def cancel_while_the_view_runs() -> None:
        exchange = asgi.Exchange()
        handling = asyncio.create_task(
            ASGIHandler()(asgi.http_scope("/slow/"), exchange.receive, exchange.send)
        )
        await until_slow_view_runs()
        handling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handling

    asyncio.run(cancel_while_the_view_runs())

    # Django never got to send request_finished: the ASGI handler wrapper ended the span.
    assert tracing.tree() == "\n".join(
        ["GET slow/ http.route=slow/ django.request.cancelled=True", REQUEST_STARTED]
    )
    assert current_node.get() is None


def test_asgi_traceparent_continues_the_callers_trace(tracing: Tracing) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01".encode()

    asyncio.run(asgi.call(ASGIHandler(), "/async/", headers=[(b"traceparent", traceparent)]))

    span = tracing.named("GET async/")
    assert span.parent is not None
    assert span.parent.is_remote
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert {format(s.context.trace_id, "032x") for s in tracing.spans()} == {TRACE_ID}


def test_nests_under_an_outer_opentelemetry_asgi_span(tracing: Tracing) -> None:
    application = OpenTelemetryMiddleware(ASGIHandler(), tracer_provider=tracing.provider)

    asyncio.run(asgi.call(application, "/async/"))

    # One trace: the ASGI instrumentation's server span, our request span inside it (its
    # "http send" spans happen while ours is current), and the firings inside ours.
    tree = tracing.tree(("http.route",))
    assert tree.splitlines()[0] == "GET /async/"
    assert [line for line in tree.splitlines() if not line.lstrip().startswith("GET /async/")] == [
        "  GET async/ http.route=async/",
        "  " + REQUEST_STARTED,
        "  " + REQUEST_FINISHED,
    ]
    assert tracing.named("GET async/").kind is SpanKind.INTERNAL
    assert len({span.context.trace_id for span in tracing.spans()}) == 1


def test_async_test_client(tracing: Tracing) -> None:
    async def get() -> int:
        response = await AsyncClient().get("/async/")
        return response.status_code

    assert asyncio.run(get()) == 200
    assert tracing.tree() == "\n".join(
        [
            "GET async/ http.route=async/ http.response.status_code=200",
            REQUEST_STARTED,
            REQUEST_FINISHED,
        ]
    )


@pytest.fixture
def uvicorn_url() -> Iterator[str]:
    """Django's ASGI handler behind a real uvicorn on 127.0.0.1 (ephemeral port)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        ASGIHandler(), lifespan="off", log_level="warning", ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


def test_real_uvicorn_request_and_client_that_hangs_up(tracing: Tracing, uvicorn_url: str) -> None:
    request = urllib.request.Request(
        uvicorn_url + "/async/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == b"async"

    host, port = uvicorn_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"GET /slow/ HTTP/1.1\r\nHost: example.test\r\n\r\n")
        wait_until(views.slow_view_started.is_set)
    # The socket is closed: uvicorn tells Django, which cancels the view.

    tracing.wait_for("GET slow/")
    tracing.wait_for("GET async/")
    assert tracing.tree() == "\n".join(
        [
            "GET async/ http.route=async/ http.response.status_code=200",
            REQUEST_STARTED,
            REQUEST_FINISHED,
            "GET slow/ http.route=slow/ django.request.cancelled=True",
            REQUEST_STARTED,
            REQUEST_FINISHED,
        ]
    )
    async_span = tracing.named("GET async/")
    assert format(async_span.context.trace_id, "032x") == TRACE_ID
    assert (tracing.named("GET slow/").attributes or {})["server.address"] == "127.0.0.1"


def test_django_version_under_test_is_supported() -> None:
    assert django.VERSION[:2] >= (5, 2)
