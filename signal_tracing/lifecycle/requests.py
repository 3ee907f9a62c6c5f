"""Request spans: from before ``request_started``'s receivers to after ``request_finished``'s.

The span opens in a firing hook on ``request_started`` (WSGI and ASGI handlers, and the test
clients, all send it first) and closes in a hook on ``request_finished``, which Django sends
from ``response.close()`` once the server has sent the body, streamed or not, or from the ASGI
handler when the client disconnected. ``get_response`` is wrapped to read the resolved route
and the status code; ``ASGIHandler.__call__`` to close a span whose task was cancelled before
Django could send ``request_finished``.

A WSGI server that never closes a response leaves the span current in its thread: the next
``request_started`` in that thread finds it, ends it at the time the response was returned
(``django.request.abandoned``), and restores the context it replaced. A ``request_started`` sent
while a request is still inside ``get_response`` (a view calling the test client) nests instead.

Nothing from the query string, headers, cookies or the environ is recorded. The global
propagator reads its headers (``traceparent`` by default) only to continue the caller's trace,
only when no span is current, and only when one of the headers it names in its ``fields`` was
sent: under opentelemetry-instrumentation-wsgi/-asgi, or a server's own span, the request span
is an INTERNAL child of that span instead of a second root.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import random
import re
import sys
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Final, NamedTuple

from django.dispatch import Signal
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, TextMapPropagator
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from signal_tracing import attributes as attrs
from signal_tracing import spans
from signal_tracing.caches import BoundedCache
from signal_tracing.firings import set_hook
from signal_tracing.lifecycle import patches
from signal_tracing.lifecycle.scopes import (
    RequestScope,
    close,
    enter,
    innermost,
    leave,
    live_node,
    may_start_span,
    open_scopes,
    parent_for_new_scope,
)
from signal_tracing.naming import truncate
from signal_tracing.nesting import Node, current_node
from signal_tracing.state import current_config, report_tracer_failure, running

#: Methods recorded as they are; any other becomes ``_OTHER`` (semantic conventions).
KNOWN_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
OTHER_METHOD: Final = "_OTHER"
#: The span name's method part for ``_OTHER`` (semantic conventions).
OTHER_METHOD_NAME: Final = "HTTP"


# --------------------------------------------------------------------------------------------
# What we read from the environ (WSGI) or the scope (ASGI): method, scheme, server, protocol.


class _EnvironGetter(Getter[Mapping[str, Any]]):
    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [
            key[5:].lower().replace("_", "-")
            for key in carrier
            if isinstance(key, str) and key.startswith("HTTP_")
        ]


class _ScopeGetter(Getter[Mapping[str, Any]]):
    def headers(self, carrier: Mapping[str, Any]) -> Iterable[tuple[bytes, bytes]]:
        headers = carrier.get("headers")
        if not isinstance(headers, (list, tuple)):
            return ()
        return (
            (header[0], header[1])
            for header in headers
            if isinstance(header, (list, tuple))
            and len(header) == 2
            and isinstance(header[0], bytes)
            and isinstance(header[1], bytes)
        )

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        wanted = key.lower().encode("latin-1")
        values = [
            value.decode("latin-1")
            for name, value in self.headers(carrier)
            if name.lower() == wanted
        ]
        return values or None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [name.decode("latin-1").lower() for name, _value in self.headers(carrier)]


_ENVIRON_GETTER: Final = _EnvironGetter()
_SCOPE_GETTER: Final = _ScopeGetter()


#: The span name's method part, and the request's attributes known at its start.
RequestFacts = tuple[str, dict[str, AttributeValue]]


def _method_attributes(raw: object, limit: int) -> tuple[str, dict[str, AttributeValue]]:
    """Return the span name's method part and the method attributes."""
    if isinstance(raw, str) and raw in KNOWN_METHODS:
        return raw, {attrs.HTTP_REQUEST_METHOD: raw}
    attributes: dict[str, AttributeValue] = {attrs.HTTP_REQUEST_METHOD: OTHER_METHOD}
    if isinstance(raw, str):
        attributes[attrs.HTTP_REQUEST_METHOD_ORIGINAL] = truncate(raw, limit)
    return OTHER_METHOD_NAME, attributes


def _port(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


#: A server's requests share a few (method, scheme, server, port, protocol) values: their
#: facts are worked out once. Bounded: the method is the client's to choose.
_environ_facts_cache: Final[BoundedCache[tuple[str | int, ...], RequestFacts]] = BoundedCache(64)


def _environ_facts(environ: Mapping[str, Any], limit: int) -> tuple[str, dict[str, AttributeValue]]:
    method = environ.get("REQUEST_METHOD")
    scheme = environ.get("wsgi.url_scheme")
    server_name = environ.get("SERVER_NAME")
    port = environ.get("SERVER_PORT")
    protocol = environ.get("SERVER_PROTOCOL")
    if not (
        type(method) is str
        and type(scheme) is str
        and type(server_name) is str
        and type(port) is str
        and type(protocol) is str
    ):  # never hash (or compare) what is not a plain string: it could be anything
        return _new_environ_facts(method, scheme, server_name, port, protocol, limit)
    key = (method, scheme, server_name, port, protocol, limit)
    known = _environ_facts_cache.get(key)
    if known is None:
        known = _environ_facts_cache.put(
            key, _new_environ_facts(method, scheme, server_name, port, protocol, limit)
        )
    return known[0], dict(known[1])  # the sampler and the SDK get a dict of their own


def _new_environ_facts(
    method: object, scheme: object, server_name: object, port: object, protocol: object, limit: int
) -> tuple[str, dict[str, AttributeValue]]:
    name, attributes = _method_attributes(method, limit)
    if scheme in ("http", "https"):
        attributes[attrs.URL_SCHEME] = scheme
    if isinstance(server_name, str) and server_name:
        attributes[attrs.SERVER_ADDRESS] = truncate(server_name, limit)
        server_port = _port(port)
        if server_port is not None:
            attributes[attrs.SERVER_PORT] = server_port
    if isinstance(protocol, str) and protocol.startswith("HTTP/"):
        attributes[attrs.NETWORK_PROTOCOL_VERSION] = truncate(protocol[5:], limit)
    return name, attributes


def _asgi_facts(scope: Mapping[str, Any], limit: int) -> tuple[str, dict[str, AttributeValue]]:
    name, attributes = _method_attributes(scope.get("method"), limit)
    scheme = scope.get("scheme", "http")
    if scheme in ("http", "https"):
        attributes[attrs.URL_SCHEME] = scheme
    server = scope.get("server")
    if isinstance(server, (list, tuple)) and len(server) == 2 and isinstance(server[0], str):
        attributes[attrs.SERVER_ADDRESS] = truncate(server[0], limit)
        port = _port(server[1])
        if port is not None:
            attributes[attrs.SERVER_PORT] = port
    version = scope.get("http_version")
    if isinstance(version, str):
        attributes[attrs.NETWORK_PROTOCOL_VERSION] = truncate(version, limit)
    return name, attributes


class _PropagatedHeaders(NamedTuple):
    """The headers one propagator reads, as a WSGI environ and an ASGI scope name them."""

    propagator: TextMapPropagator
    #: None when the propagator does not say which headers it reads (every request is read).
    environ_keys: tuple[str, ...] | None
    header_names: frozenset[bytes] | None


_propagated: _PropagatedHeaders | None = None


def _propagated_headers(propagator: TextMapPropagator) -> _PropagatedHeaders:
    """Return the headers ``propagator`` reads, from its ``fields`` (worked out once)."""
    global _propagated
    known = _propagated
    if known is not None and known.propagator is propagator:
        return known
    try:
        fields = {field.lower() for field in propagator.fields if isinstance(field, str)}
    except Exception:  # a propagator of the app's that cannot say: read every request
        fields = set()
    if fields:
        known = _PropagatedHeaders(
            propagator,
            tuple(sorted("HTTP_" + field.upper().replace("-", "_") for field in fields)),
            frozenset(field.encode("latin-1", "replace") for field in fields),
        )
    else:
        known = _PropagatedHeaders(propagator, None, None)
    _propagated = known
    return known


def _carries_scope(scope: Mapping[str, Any], names: frozenset[bytes]) -> bool:
    return any(name.lower() in names for name, _value in _SCOPE_GETTER.headers(scope))


def _remote_parent(named: Mapping[str, Any], current: Context | None = None) -> Context | None:
    """Return the caller's context, read by the global propagator from the request's headers.

    The propagator is not asked when none of the headers it reads (its ``fields``) is in the
    request: what it would return then is the empty context, as ``propagate.extract`` without
    a context does (``current`` when that is an empty one already).
    """
    propagator = propagate.get_global_textmap()
    headers = _propagated
    if headers is None or headers.propagator is not propagator:
        headers = _propagated_headers(propagator)
    environ = named.get("environ")
    if type(environ) is dict or isinstance(environ, Mapping):
        keys = headers.environ_keys
        if keys is not None and environ.keys().isdisjoint(keys):
            return current if current is not None and not current else Context()
        return propagator.extract(environ, getter=_ENVIRON_GETTER)
    scope = named.get("scope")
    if type(scope) is dict or isinstance(scope, Mapping):
        if headers.header_names is not None and not _carries_scope(scope, headers.header_names):
            return Context()
        return propagator.extract(scope, getter=_SCOPE_GETTER)
    return None


def _request_facts(named: Mapping[str, Any], limit: int) -> tuple[str, dict[str, AttributeValue]]:
    environ = named.get("environ")
    if type(environ) is dict or isinstance(environ, Mapping):
        return _environ_facts(environ, limit)
    scope = named.get("scope")
    if type(scope) is dict or isinstance(scope, Mapping):
        return _asgi_facts(scope, limit)
    return _method_attributes(None, limit)


def _request_path(named: Mapping[str, Any]) -> object:
    environ = named.get("environ")
    if type(environ) is dict or isinstance(environ, Mapping):
        path = environ.get("PATH_INFO")
    else:
        scope = named.get("scope")
        path = scope.get("path") if isinstance(scope, Mapping) else None
    return path


def _excluded_path(path: object, patterns: tuple[str, ...]) -> bool:
    if not patterns or not isinstance(path, str):
        return False
    last = _last_matcher
    matcher = last[1] if last is not None and last[0] is patterns else _path_matcher(patterns)
    return matcher(path) is not None


#: The patterns last compiled and their matcher: the configuration rarely changes.
_last_matcher: tuple[tuple[str, ...], Callable[[str], re.Match[str] | None]] | None = None


def _path_matcher(patterns: tuple[str, ...]) -> Callable[[str], re.Match[str] | None]:
    """``attributes.matches_any`` for request paths, compiled once: it runs per request."""
    global _last_matcher
    last = _last_matcher
    if last is not None and last[0] is patterns:
        return last[1]
    matcher = re.compile(
        "|".join(f"(?:{fnmatch.translate(pattern)})" for pattern in patterns)
    ).match
    _last_matcher = (patterns, matcher)
    return matcher


def _unsampled_span() -> Span:
    context = trace.SpanContext(
        trace_id=random.getrandbits(128) or 1,
        span_id=random.getrandbits(64) or 1,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
    )
    return trace.NonRecordingSpan(context)


# --------------------------------------------------------------------------------------------
# The firing hooks.


def _sweep_abandoned() -> None:
    """Close a request whose response was returned but never closed in this context."""
    node = current_node.get()
    while isinstance(node, RequestScope) and (node.closed or node.in_handler == 0):
        if node.closed:
            leave(node)
        else:
            if node.span is not None:
                node.span.set_attribute(attrs.REQUEST_ABANDONED, True)
            close(node, end_time=node.responded_ns)
        node = current_node.get()


class RequestStarted:
    """Opens the request span before ``request_started``'s receivers run."""

    def before(
        self, signal: Signal, sender: Any, named: dict[str, Any], method: str
    ) -> RequestScope | None:
        parent = None
        if current_node.get() is not None:  # a request left open, or one we nest in
            _sweep_abandoned()
            parent = parent_for_new_scope()
        config = running.config
        environ = named.get("environ")
        if type(environ) is dict:  # WSGI handlers and the test client: read it directly
            path = environ.get("PATH_INFO")
            method_name, attributes = _environ_facts(environ, config.max_attribute_length)
        else:
            path = _request_path(named)
            method_name, attributes = _request_facts(named, config.max_attribute_length)
        span: Span | None = None
        emitter = running.emitter
        # Starting a span does not change the current context: the scope stands in for this.
        current = otel_context.get_current()
        if _excluded_path(path, config.exclude_request_paths):
            # Not traced at all (the toolbar's own requests, health checks): an unsampled
            # span is made current, so neither our firings nor other instrumentations
            # start spans of their own under it.
            span = _unsampled_span()
        elif emitter is not None and (parent is None or may_start_span(parent)):
            # An empty context holds no span: the usual case needs no more asking.
            if current and trace.get_current_span(current).get_span_context().is_valid:
                span = emitter.tracer.start_span(method_name, attributes=attributes)
            else:
                span = emitter.tracer.start_span(
                    method_name,
                    context=_remote_parent(named, current),
                    kind=SpanKind.SERVER,
                    attributes=attributes,
                )
        scope = RequestScope(method_name, span, parent)
        enter(scope, current)
        return scope

    def after(self, state: RequestScope | None, error: BaseException | None) -> None:
        # A receiver of request_started raised: the handler will not return a response. Or
        # request spans were switched off meanwhile: nothing of ours would close this one.
        if state is not None and (
            error is not None or state.closed or not patches.GET_RESPONSE.active
        ):
            close(state, error=error)


class RequestFinished:
    """Closes the request span after ``request_finished``'s receivers ran."""

    def before(
        self, signal: Signal, sender: Any, named: dict[str, Any], method: str
    ) -> tuple[RequestScope, object | None] | None:
        # A response closed while the view still runs (one the view made and closed itself)
        # does not end the request.
        scope = current_node.get()
        if type(scope) is not RequestScope or scope.closed:  # not the usual case
            scope = _handling()
        if scope is None or scope.in_handler:
            return None
        # An outer WSGI instrumentation restores its own context when the application returns,
        # before the server closes the response: make ours current again for the receivers.
        token = None
        span = scope.span
        if (
            span is not None
            and otel_context.get_current() is not scope.otel_context
            and trace.get_current_span() is not span
        ):
            token = otel_context.attach(trace.set_span_in_context(span))
        return scope, token

    def after(
        self, state: tuple[RequestScope, object | None] | None, error: BaseException | None
    ) -> None:
        if state is None:
            return
        scope, token = state
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        finish(scope, error)


class GotRequestException:
    """Records the exception being handled on the request span (no request data)."""

    def before(self, signal: Signal, sender: Any, named: dict[str, Any], method: str) -> None:
        error = sys.exc_info()[1]
        scope = _handling()
        if error is None or scope is None or scope.span is None:
            return
        spans.record_error(
            scope.span,
            error,
            record_message=current_config().record_exception_messages,
            max_length=current_config().max_attribute_length,
        )
        scope.error_recorded = True

    def after(self, state: None, error: BaseException | None) -> None:
        return None


def finish(scope: RequestScope, error: BaseException | None) -> None:
    if scope.closed:  # by uninstall(): its span has ended, only this context is left to restore
        leave(scope)
        return
    if not scope.route_noted and scope.request is not None:
        _safely(_note_route, scope, scope.request)
    scope.request = None
    if scope.cancelled and scope.span is not None:
        scope.span.set_attribute(attrs.REQUEST_CANCELLED, True)
    cancelled = isinstance(error, asyncio.CancelledError)
    close(scope, error=None if cancelled else error)


# --------------------------------------------------------------------------------------------
# The handler wrappers (see patches.py for why these exist).


def _note_route(scope: RequestScope, request: Any) -> None:
    """Name the span after the resolved route (set on the request even if the view failed)."""
    _note_outcome(scope, request, None)


#: (method, route, MAX_ATTRIBUTE_LENGTH) -> the span name and the http.route value: a site
#: has a few routes, and formatting the name costs as much as the rest of noting it.
_route_names: Final[BoundedCache[tuple[str, str, int], tuple[str, str]]] = BoundedCache(256)


def _route_name(method_name: str, route: str, limit: int) -> tuple[str, str]:
    route = truncate(route, limit)
    return attrs.REQUEST_SPAN_NAME.format(method=method_name, route=route), route


def _note_outcome(scope: RequestScope, request: Any, response: Any) -> None:
    """Name the span after the resolved route and note the response's status, if any."""
    scope.route_noted = True
    span = scope.span
    if span is None or not span.is_recording():  # an unsampled request: nothing to note
        return
    try:
        route = getattr(getattr(request, "resolver_match", None), "route", None)
        if type(route) is str and route:
            key = (scope.method_name, route, running.config.max_attribute_length)
            name_and_route = _route_names.get(key)
            if name_and_route is None:
                name_and_route = _route_names.put(key, _route_name(*key))
        elif isinstance(route, str) and route:  # never hashed: it could be anything
            name_and_route = _route_name(
                scope.method_name, route, running.config.max_attribute_length
            )
        else:
            name_and_route = None
        if name_and_route is not None:
            scope.name, route = name_and_route
            span.update_name(scope.name)
            span.set_attribute(attrs.HTTP_ROUTE, route)
    except Exception:  # the status is still worth noting
        report_tracer_failure("lifecycle (_note_route)")
    if response is None:
        return
    # One attribute per call: the SDK's set_attributes costs more than two set_attribute calls.
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        span.set_attribute(attrs.HTTP_RESPONSE_STATUS_CODE, status)
        if status >= 500:
            if not scope.error_recorded:
                span.set_attribute(attrs.ERROR_TYPE, str(status))
            span.set_status(Status(StatusCode.ERROR))
    if getattr(response, "streaming", False) is True:
        span.set_attribute(attrs.RESPONSE_STREAMING, True)


def _handling() -> RequestScope | None:
    """Return the innermost open request scope around this context, if any."""
    node = current_node.get()
    if type(node) is RequestScope and not node.closed:  # the usual case, without the walk
        return node
    scope = innermost(live_node(), RequestScope)
    return scope if isinstance(scope, RequestScope) else None


def _leaving_handler(scope: RequestScope, request: Any, response: Any) -> None:
    """Note what the outermost ``get_response`` of a request learnt, once."""
    scope.in_handler -= 1
    if scope.in_handler:
        return
    if scope.closed:
        # Request spans were switched off while the view ran: uninstall() ended the span from
        # its own thread, and nothing of ours may run for this request again. Restore this
        # context now, so the thread's next request starts from what this one started from.
        leave(scope)
        return
    if scope.responded_ns is not None:
        return
    scope.responded_ns = time.time_ns()
    scope.request = None
    if response is not None:
        # The same if they are switched off while the server sends the body: closing the
        # response restores this context (before request_finished, which is then not ours).
        patches.call_on_close(response, scope.leave_if_closed)
    if scope.sampled_out:  # nothing records the route or the status
        scope.route_noted = True
    else:
        _note_outcome(scope, request, response)


def _wrap_get_response(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    @functools.wraps(original)
    def get_response(self: Any, request: Any) -> Any:
        if not patches.GET_RESPONSE.active:
            return original(self, request)
        scope = current_node.get()
        if type(scope) is not RequestScope or scope.closed:  # not the usual case
            scope = _handling()
            if scope is None:
                return original(self, request)
        if not scope.in_handler:
            scope.request = request
        scope.in_handler += 1
        response = None
        try:
            response = original(self, request)
        finally:
            try:
                _leaving_handler(scope, request, response)
            except Exception:
                report_tracer_failure("lifecycle (_leaving_handler)")
        return response

    return get_response


def _wrap_get_response_async(
    original: Callable[[Any, Any], Coroutine[Any, Any, Any]],
) -> Callable[[Any, Any], Coroutine[Any, Any, Any]]:
    @functools.wraps(original)
    async def get_response_async(self: Any, request: Any) -> Any:
        scope = _handling() if patches.GET_RESPONSE_ASYNC.active else None
        if scope is None:
            return await original(self, request)
        if not scope.in_handler:
            scope.request = request
        scope.in_handler += 1
        response = None
        try:
            response = await original(self, request)
        except asyncio.CancelledError:
            scope.cancelled = True
            raise
        finally:
            _safely(_leaving_handler, scope, request, response)
        return response

    return get_response_async


def _close_unfinished(outer: Node | None, error: BaseException | None) -> None:
    """Close a request span this ASGI call opened that ``request_finished`` did not close."""
    node = current_node.get()
    if isinstance(node, RequestScope) and node is not outer:
        if isinstance(error, asyncio.CancelledError):
            node.cancelled = True
        finish(node, error)  # or, if uninstall() closed it, restores this context


def _wrap_asgi_call(
    original: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(original)
    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> Any:
        if not patches.ASGI_CALL.active:
            return await original(self, scope, receive, send)
        outer = current_node.get()
        try:
            result = await original(self, scope, receive, send)
        except BaseException as error:
            _safely(_close_unfinished, outer, error)
            raise
        _safely(_close_unfinished, outer, None)
        return result

    return __call__


def _safely(function: Callable[..., None], *args: Any) -> None:
    try:
        function(*args)
    except Exception:
        report_tracer_failure(f"lifecycle ({function.__name__})")


# --------------------------------------------------------------------------------------------

_STARTED: Final = RequestStarted()
_FINISHED: Final = RequestFinished()
_EXCEPTION: Final = GotRequestException()


def install() -> None:
    from django.core import signals

    set_hook(signals.request_started, _STARTED)
    set_hook(signals.request_finished, _FINISHED)
    set_hook(signals.got_request_exception, _EXCEPTION)
    patches.GET_RESPONSE.install(_wrap_get_response)
    patches.GET_RESPONSE_ASYNC.install(_wrap_get_response_async)
    patches.ASGI_CALL.install(_wrap_asgi_call)


def uninstall() -> None:
    from django.core import signals

    for signal in (
        signals.request_started,
        signals.request_finished,
        signals.got_request_exception,
    ):
        set_hook(signal, None)
    for patch in (patches.GET_RESPONSE, patches.GET_RESPONSE_ASYNC, patches.ASGI_CALL):
        patch.uninstall()
    # Their closing hook is gone: end open request spans now rather than never, named after
    # their route if it is known already (a request in its view has been resolved).
    for scope in open_scopes():
        if isinstance(scope, RequestScope):
            request = scope.request
            if not scope.route_noted and request is not None:
                _safely(_note_route, scope, request)
            close(scope)
