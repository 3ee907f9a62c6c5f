"""Request spans under WSGI: a real threaded server on 127.0.0.1, Django's test client, and the
WSGI handler called directly for responses a server never closes."""

from __future__ import annotations

import gc
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db.models.signals import post_init
from django.test import Client, RequestFactory
from opentelemetry import trace
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import SpanKind, StatusCode

import signal_tracing
from signal_tracing import attributes as attrs
from signal_tracing.instrumentation import apply_settings
from signal_tracing.nesting import current_node
from tests.lifecycle.conftest import Tracing, in_a_new_thread

pytestmark = pytest.mark.urls("tests.lifecycle.urls")

# The ``tracing`` fixture's markers stand in for Django's own request receivers.
REQUEST_STARTED = "  request_started tests.lifecycle.conftest.request_began"
REQUEST_FINISHED = "  request_finished tests.lifecycle.conftest.request_ended"


def indented(*lines: str) -> str:
    return "\n".join("  " + line for line in "\n".join(lines).splitlines())


TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def test_request_span_brackets_request_started_and_finished_on_a_real_server(
    tracing_everything: Tracing, serve_wsgi: Any
) -> None:
    tracing = tracing_everything
    url = serve_wsgi(WSGIHandler())

    assert fetch(url + "/items/7/?token=secret-query-value") == (200, b"item 7")

    tracing.wait_for("GET items/<int:pk>/")
    assert tracing.tree() == "\n".join(
        [
            "GET items/<int:pk>/ http.route=items/<int:pk>/ http.response.status_code=200",
            "  request_started send",
            "  request_finished send",
        ]
    )
    # Django's own receivers ride on their firing's span, in whatever order the test client
    # left them.
    started = tracing.named("request_started send").attributes or {}
    assert sorted(started[attrs.SIGNAL_RECEIVERS_DJANGO]) == [  # type: ignore[arg-type]
        "django.db.close_old_connections",
        "django.db.reset_queries",
    ]
    assert started[attrs.SIGNAL_RECEIVERS_DJANGO_COUNT] == 2
    finished = tracing.named("request_finished send").attributes or {}
    assert sorted(finished[attrs.SIGNAL_RECEIVERS_DJANGO]) == [  # type: ignore[arg-type]
        "django.core.cache.close_caches",
        "django.core.handlers.base.reset_urlconf",
        "django.db.close_old_connections",
    ]
    span = tracing.named("GET items/<int:pk>/")
    port = int(url.rsplit(":", 1)[1])
    assert span.kind is SpanKind.SERVER
    assert span.parent is None
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "items/<int:pk>/",
        "http.response.status_code": 200,
        "url.scheme": "http",
        "server.address": "localhost",
        "server.port": port,
        "network.protocol.version": "1.1",
    }
    started, finished = (
        tracing.named("request_started send"),
        tracing.named("request_finished send"),
    )
    assert span.start_time is not None
    assert span.end_time is not None
    assert span.start_time <= started.start_time  # type: ignore[operator]
    assert span.end_time >= finished.end_time  # type: ignore[operator]
    assert "secret-query-value" not in tracing.exported_text()


def test_incoming_traceparent_continues_the_callers_trace(
    tracing: Tracing, serve_wsgi: Any
) -> None:
    url = serve_wsgi(WSGIHandler())

    fetch(url + "/plain/", {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"})

    tracing.wait_for("GET plain/")
    span = tracing.named("GET plain/")
    assert span.parent is not None
    assert span.parent.is_remote
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert {format(s.context.trace_id, "032x") for s in tracing.spans()} == {TRACE_ID}


def test_caller_that_sampled_the_trace_out_gets_no_spans(tracing: Tracing, serve_wsgi: Any) -> None:
    url = serve_wsgi(WSGIHandler())

    fetch(url + "/plain/", {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-00"})
    fetch(url + "/items/1/")

    tracing.wait_for("GET items/<int:pk>/")
    assert [span.name for span in tracing.spans() if span.parent is None] == ["GET items/<int:pk>/"]


def test_uncaught_exception_without_receivers_gives_a_500_error_span(
    tracing: Tracing, serve_wsgi: Any
) -> None:
    # No receiver listens to got_request_exception here, so the span knows the status only.
    url = serve_wsgi(WSGIHandler())

    assert fetch(url + "/boom/")[0] == 500

    tracing.wait_for("GET boom/")
    span = tracing.named("GET boom/")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "500"
    assert tracing.tree().splitlines()[0] == (
        "GET boom/ http.route=boom/ http.response.status_code=500 error.type=500 !ERROR"
    )


def test_got_request_exception_records_the_exception_but_no_request_data(
    tracing: Tracing,
) -> None:
    # The test client listens to got_request_exception, as error reporters do.
    client = Client(raise_request_exception=False)

    response = client.get("/boom/?email=someone@example.com", HTTP_COOKIE="sessionid=abc")

    assert response.status_code == 500
    error_type = "tests.lifecycle.views.ViewFailed"
    assert tracing.tree() == "\n".join(
        [
            f"GET boom/ http.route=boom/ http.response.status_code=500 error.type={error_type}"
            " !ERROR",
            REQUEST_STARTED,
            "  got_request_exception send",
            REQUEST_FINISHED,
        ]
    )
    (event,) = tracing.named("GET boom/").events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"] == error_type
    assert "exception.message" not in (event.attributes or {})
    text = tracing.exported_text()
    for private in ("someone@example.com", "sessionid", "abc"):
        assert private not in text


def test_5xx_response_is_an_error_and_4xx_is_not(tracing: Tracing) -> None:
    client = Client()

    client.get("/unavailable/")
    client.get("/no/such/page/")

    unavailable = tracing.named("GET unavailable/")
    assert unavailable.status.status_code is StatusCode.ERROR
    assert (unavailable.attributes or {})["error.type"] == "503"
    # Not resolved: the span keeps the method-only name.
    not_found = tracing.named("GET")
    assert not_found.status.status_code is StatusCode.UNSET
    assert (not_found.attributes or {})["http.response.status_code"] == 404
    assert "http.route" not in (not_found.attributes or {})


def test_a_route_string_of_the_apps_own_type_still_names_the_span(tracing: Tracing) -> None:
    # Route names are cached by route: a str subclass is used as it is, never hashed.
    Client().get("/odd/route/")

    span = tracing.named("GET odd/route/")
    assert (span.attributes or {})["http.route"] == "odd/route/"
    assert (span.attributes or {})["http.response.status_code"] == 200


def test_unknown_method_is_recorded_as_other(tracing: Tracing) -> None:
    Client().generic("BREW", "/plain/")

    span = tracing.named("HTTP plain/")
    assert (span.attributes or {})["http.request.method"] == "_OTHER"
    assert (span.attributes or {})["http.request.method_original"] == "BREW"


def test_streaming_response_span_covers_the_streaming(tracing: Tracing, serve_wsgi: Any) -> None:
    # The body's generator builds a model instance: its post_init is counted on the request.
    def on_post_init(sender: Any, **kwargs: Any) -> None:
        pass

    post_init.connect(on_post_init)
    try:
        url = serve_wsgi(WSGIHandler())
        assert fetch(url + "/stream/") == (200, b"first second")
        tracing.wait_for("GET stream/")
    finally:
        post_init.disconnect(on_post_init)

    assert tracing.tree(
        ("http.route", "django.response.streaming", "django.signal.counts.total")
    ) == "\n".join(
        [
            "GET stream/ http.route=stream/ django.response.streaming=True"
            " django.signal.counts.total=1",
            REQUEST_STARTED,
            REQUEST_FINISHED,
        ]
    )


def start_response(status: str, headers: list[tuple[str, str]]) -> None:
    pass


def environ(path: str) -> dict[str, Any]:
    return RequestFactory().get(path).environ


def test_response_never_closed_does_not_leak_into_the_next_request_on_the_thread(
    tracing: Tracing,
) -> None:
    handler = WSGIHandler()

    def two_requests_in_one_thread() -> tuple[object, object]:
        # A broken server: the first response is never closed, so request_finished is
        # never sent for it.
        first = handler(environ("/plain/"), start_response)
        handler(environ("/items/2/"), start_response).close()
        del first
        return current_node.get(), trace.get_current_span().get_span_context().is_valid

    node_after, span_still_current = in_a_new_thread(two_requests_in_one_thread)

    assert tracing.tree() == "\n".join(
        [
            "GET plain/ http.route=plain/ http.response.status_code=200"
            " django.request.abandoned=True",
            REQUEST_STARTED,
            "GET items/<int:pk>/ http.route=items/<int:pk>/ http.response.status_code=200",
            REQUEST_STARTED,
            REQUEST_FINISHED,
        ]
    )
    # The abandoned span ends when its response was returned, not when the next one began.
    abandoned, second_span = tracing.named("GET plain/"), tracing.named("GET items/<int:pk>/")
    assert abandoned.end_time <= second_span.start_time  # type: ignore[operator]
    assert node_after is None
    assert not span_still_current


def test_unconsumed_streaming_response_from_the_test_client(tracing: Tracing) -> None:
    client = Client()

    client.get("/stream/")  # never iterated, so never closed
    client.get("/plain/")

    roots = [span.name for span in tracing.spans() if span.parent is None]
    assert sorted(roots) == ["GET plain/", "GET stream/"]
    assert (tracing.named("GET stream/").attributes or {})["django.request.abandoned"] is True
    assert current_node.get() is None


class ReceiverFailed(Exception):
    pass


def test_request_started_receiver_error_still_ends_the_span(tracing: Tracing) -> None:
    def fails(sender: Any, **kwargs: Any) -> None:
        raise ReceiverFailed

    def request_whose_receiver_fails() -> object:
        with pytest.raises(ReceiverFailed):
            WSGIHandler()(environ("/plain/"), start_response)
        return current_node.get()

    request_started.connect(fails)
    try:
        node_after = in_a_new_thread(request_whose_receiver_fails)
    finally:
        request_started.disconnect(fails)

    span = tracing.named("GET")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == f"{__name__}.ReceiverFailed"
    assert node_after is None


def test_request_from_a_view_nests_in_the_running_request(tracing: Tracing) -> None:
    # The outer request is inside get_response when the inner one starts: that is nesting,
    # not an abandoned response.
    def outer_view(request: Any) -> Any:
        return Client().get("/plain/")

    from django.urls import path

    from tests.lifecycle import urls

    urls.urlpatterns.append(path("outer/", outer_view))
    try:
        Client().get("/outer/")
    finally:
        urls.urlpatterns.pop()

    assert tracing.tree() == "\n".join(
        [
            "GET outer/ http.route=outer/ http.response.status_code=200",
            REQUEST_STARTED,
            "  GET plain/ http.route=plain/ http.response.status_code=200",
            indented(REQUEST_STARTED, REQUEST_FINISHED),
            REQUEST_FINISHED,
        ]
    )


def test_nests_under_an_outer_opentelemetry_wsgi_span(tracing: Tracing, serve_wsgi: Any) -> None:
    application = OpenTelemetryMiddleware(WSGIHandler(), tracer_provider=tracing.provider)
    url = serve_wsgi(application)

    fetch(url + "/items/7/", {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"})

    tracing.wait_for("GET /items/7/")
    assert tracing.tree(("http.route",)) == "\n".join(
        [
            "GET /items/7/",
            "  GET items/<int:pk>/ http.route=items/<int:pk>/",
            indented(REQUEST_STARTED, REQUEST_FINISHED),
        ]
    )
    assert tracing.named("GET items/<int:pk>/").kind is SpanKind.INTERNAL
    assert {format(s.context.trace_id, "032x") for s in tracing.spans()} == {TRACE_ID}


def garbage_of(run: Any) -> list[Any]:
    """What the garbage collector finds unreachable after ``run()``: objects in cycles."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("sampled", [True, False], ids=["sampled", "unsampled"])
def test_a_request_leaves_no_reference_cycle_of_ours(sampled: bool) -> None:
    # Objects in a cycle wait for the garbage collector: a request's scope and its span must
    # go as soon as the request is over, as they do without cycles.
    provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
    signal_tracing.instrument(tracer_provider=provider)
    try:
        client = Client()
        client.get("/plain/")  # warm: first-request caches
        garbage = garbage_of(lambda: client.get("/plain/"))
    finally:
        signal_tracing.uninstrument()
        apply_settings()
        provider.shutdown()

    ours = [
        type(thing).__qualname__
        for thing in garbage
        if type(thing).__module__.startswith(("signal_tracing", "opentelemetry"))
    ]
    assert ours == []
