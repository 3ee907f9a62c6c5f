"""What a request span records from the WSGI environ or the ASGI scope, and what it ignores:
odd or hostile input is absorbed, never raised into the request."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace

from signal_tracing.lifecycle.requests import _remote_parent, _request_facts

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_wsgi_environ_gives_method_scheme_server_and_protocol() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "wsgi.url_scheme": "https",
        "SERVER_NAME": "shop.example",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/2.0",
        "PATH_INFO": "/reset/MQ/secret-token/",
        "QUERY_STRING": "email=someone@example.com",
        "HTTP_COOKIE": "sessionid=abc",
        "HTTP_AUTHORIZATION": "Bearer xyz",
    }

    assert _request_facts({"environ": environ}, 256) == (
        "POST",
        {
            "http.request.method": "POST",
            "url.scheme": "https",
            "server.address": "shop.example",
            "server.port": 443,
            "network.protocol.version": "2.0",
        },
    )


def test_asgi_scope_gives_the_same_facts() -> None:
    scope = {
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "http_version": "1.1",
        "path": "/private/path/",
        "query_string": b"token=abc",
        "headers": [(b"cookie", b"sessionid=abc")],
    }

    assert _request_facts({"scope": scope}, 256) == (
        "GET",
        {
            "http.request.method": "GET",
            "url.scheme": "http",
            "server.address": "127.0.0.1",
            "server.port": 8000,
            "network.protocol.version": "1.1",
        },
    )


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        # A method outside the standard set: recorded as _OTHER, span name "HTTP".
        (
            {"environ": {"REQUEST_METHOD": "x" * 300}},
            ("HTTP", {"http.request.method": "_OTHER", "http.request.method_original": "x" * 7}),
        ),
        ({"environ": {"REQUEST_METHOD": None}}, ("HTTP", {"http.request.method": "_OTHER"})),
        # A unix-socket ASGI server has no (host, port); odd values are skipped.
        (
            {"scope": {"method": "GET", "scheme": "ws+x", "server": None, "http_version": 2}},
            ("GET", {"http.request.method": "GET"}),
        ),
        (
            {"scope": {"method": "GET", "server": ("host", "not-a-port")}},
            (
                "GET",
                {"http.request.method": "GET", "url.scheme": "http", "server.address": "host"},
            ),
        ),
        (
            {"environ": {"REQUEST_METHOD": "GET", "SERVER_NAME": "", "SERVER_PROTOCOL": "SPDY"}},
            ("GET", {"http.request.method": "GET"}),
        ),
        # Neither an environ nor a scope (someone sent request_started by hand).
        ({}, ("HTTP", {"http.request.method": "_OTHER"})),
    ],
)
def test_odd_input_is_absorbed(named: dict[str, Any], expected: Any) -> None:
    name, attributes = _request_facts(named, 8)

    assert (name, {key: truncated(value) for key, value in attributes.items()}) == (
        expected[0],
        expected[1],
    )


def truncated(value: Any) -> Any:
    # naming.truncate marks a cut with an ellipsis: compare the kept part only.
    return value.rstrip("…") if isinstance(value, str) else value


def parent_span_id(named: dict[str, Any]) -> str | None:
    context = _remote_parent(named)
    span_context = trace.get_current_span(context).get_span_context()
    return format(span_context.span_id, "016x") if span_context.is_valid else None


def test_traceparent_is_read_from_the_environ_and_from_asgi_headers() -> None:
    assert parent_span_id({"environ": {"HTTP_TRACEPARENT": TRACEPARENT}}) == "00f067aa0ba902b7"
    headers = [(b"Traceparent", TRACEPARENT.encode())]
    assert parent_span_id({"scope": {"headers": headers}}) == "00f067aa0ba902b7"


def test_malformed_asgi_headers_and_traceparents_are_ignored() -> None:
    headers: list[Any] = ["garbage", (b"only-a-name",), (b"traceparent", "not bytes"), None]
    assert parent_span_id({"scope": {"headers": headers}}) is None
    assert parent_span_id({"scope": {"headers": "not a list"}}) is None
    assert parent_span_id({"environ": {"HTTP_TRACEPARENT": "00-nonsense"}}) is None
    assert _remote_parent({}) is None


def test_requests_alike_get_equal_attributes_each_in_a_dict_of_its_own() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    _name, first = _request_facts({"environ": environ}, 256)
    first["http.route"] = "set by whoever got the first dict"

    assert _request_facts({"environ": dict(environ)}, 256) == (
        "GET",
        {
            "http.request.method": "GET",
            "url.scheme": "http",
            "server.address": "localhost",
            "server.port": 8000,
            "network.protocol.version": "1.1",
        },
    )
    # The limit is part of what is remembered.
    _name, long_name = _request_facts({"environ": {**environ, "SERVER_NAME": "x" * 20}}, 8)
    assert long_name["server.address"] == "xxxxxxx…"
    _name, long_name = _request_facts({"environ": {**environ, "SERVER_NAME": "x" * 20}}, 12)
    assert long_name["server.address"] == "xxxxxxxxxxx…"


class Unhashable(str):
    """A str subclass whose hash and equality must never be asked for."""

    def __hash__(self) -> int:
        raise AssertionError("hashed")

    def __eq__(self, other: object) -> bool:
        raise AssertionError("compared")


def test_environ_values_that_are_not_plain_strings_are_never_hashed() -> None:
    environ = {"REQUEST_METHOD": "GET", "SERVER_NAME": Unhashable("host"), "SERVER_PORT": 80}

    name, attributes = _request_facts({"environ": environ}, 256)

    assert name == "GET"
    assert attributes["server.port"] == 80
