"""Lifecycle scopes: the root node of one trace, its span, and the context it stands in for.

One class per kind (request, command, test; start-up's lives with the app registry reading in
``startup.py``), and how any of them opens and closes.

While a scope is open it is ``nesting.current_node`` (firings nest under it, count-policy
signals are counted on it, and it carries the span budget) and its span is the current
OpenTelemetry span (firing spans become its children). Closing writes the counts and the
number of spans dropped over budget on the span, ends it, and puts back the two context values
it replaced, each only if it is still the scope's own: another instrumentation may have put
its context back in between, and that must win.

Context values are put back with ``set()``, not ``reset(token)``: an ASGI response is closed in
a thread (``sync_to_async``) that runs in a copy of the request's context, where a token from
the request's own context cannot be used; asgiref copies the values set there back.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any, Final, Literal

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, TraceFlags
from opentelemetry.util.types import AttributeValue

from signal_tracing import attributes as attrs
from signal_tracing import spans
from signal_tracing.nesting import Node, Scope, current_node
from signal_tracing.state import current_config, current_emitter, report_tracer_failure


class LifecycleScope(Scope):
    """A scope opened by lifecycle code; subclasses add what their kind needs."""

    __slots__ = ("__weakref__", "closed", "open_ref", "saved_context", "saved_node")

    #: Whether opening any other scope in the same context closes this one first.
    superseded_by_next: bool = False

    def __init__(self, kind: str, name: str, span: Span | None, parent: Node | None) -> None:
        super().__init__(kind, name, span, parent)
        self.closed = False
        #: Its entry in the scopes open now (set while it is).
        self.open_ref: weakref.ref[LifecycleScope] | None = None
        self.saved_node: Node | None = None
        self.saved_context: Context | None = None

    def before_close(self) -> None:
        """Set what is only known at the end on the span (called once, span still open)."""


class RequestScope(LifecycleScope):
    """One request, from ``request_started`` to ``request_finished``."""

    __slots__ = (
        "cancelled",
        "error_recorded",
        "in_handler",
        "method_name",
        "request",
        "responded_ns",
        "route_noted",
    )

    def __init__(self, method_name: str, span: Any, parent: Node | None) -> None:
        # Every slot of the bases is set here, as their __init__ methods set it: one per
        # request, and five chained calls cost more than the rest of it.
        self.parent = parent
        self.span = span
        self.otel_context = None
        self.sampled_out = None
        self._root = parent.root if parent is not None else None
        self.counts = None
        self.spans_started = 0
        self.spans_dropped = 0
        self.kind = "request"
        self.name = method_name
        self.storms = None
        self.closed = False
        self.open_ref = None
        self.saved_node = None
        self.saved_context = None
        self.method_name = method_name
        #: How many ``get_response`` calls for this request are running (views may nest).
        self.in_handler = 0
        #: When ``get_response`` returned the response (None until then).
        self.responded_ns: int | None = None
        #: The HttpRequest while its handler runs: its resolver_match names the span even if
        #: the view never returns (a cancelled ASGI task on Django 5.2 keeps running it).
        self.request: Any = None
        self.route_noted = False
        self.cancelled = False
        self.error_recorded = False

    def leave_if_closed(self) -> None:
        """Put back this context's values if the scope was closed elsewhere meanwhile."""
        if self.closed:
            leave(self)


class CommandScope(LifecycleScope):
    """One management command's ``execute()``."""

    __slots__ = ()


TestResultStatus = Literal["pass", "fail"]
_RESULT_STATUSES: Final = ("pass", "fail")


class TestScope(LifecycleScope):
    """One test, from set-up to tear-down."""

    __slots__ = ("result_status",)
    __test__ = False  # not a pytest test class, whatever module imports it

    def __init__(self, name: str, span: Any, parent: Any) -> None:
        super().__init__("test", name, span, parent)
        self.result_status: TestResultStatus | None = None

    def set_result(self, status: TestResultStatus) -> None:
        """Record the test's outcome, ``"pass"`` or ``"fail"`` (``test.case.result.status``)."""
        if status not in _RESULT_STATUSES:
            raise ValueError(f"status must be 'pass' or 'fail', not {status!r}")
        self.result_status = status
        if self.span is not None:
            self.span.set_attribute(attrs.TEST_CASE_RESULT_STATUS, status)


#: Scopes open anywhere, so that stopping can end those whose closing hook goes away: weak
#: references, each taking itself out when its scope dies (a WeakSet's bookkeeping, without
#: the Python code it runs per request). Taking a scope out is also what decides who closes
#: it, see :func:`close`.
_open: Final[dict[weakref.ref[LifecycleScope], None]] = {}


def open_scopes() -> list[LifecycleScope]:
    """Return the scopes open now, in any thread or task."""
    return [scope for scope in (ref() for ref in list(_open)) if scope is not None]


#: Decides who closes a scope that was never entered (one that was, see :func:`close`).
_close_lock: Final = threading.Lock()


def live_node() -> Node | None:
    """Return the current node, skipping scopes that were closed from another context."""
    node = current_node.get()
    while isinstance(node, LifecycleScope) and node.closed:
        node = node.saved_node
    return node


def innermost(node: Node | None, scope_type: type[LifecycleScope]) -> LifecycleScope | None:
    """Return the innermost open scope of ``scope_type`` enclosing ``node``."""
    while node is not None:
        if isinstance(node, scope_type) and not node.closed:
            return node
        node = node.parent
    return None


def start_span(
    name: str,
    attributes: Mapping[str, AttributeValue],
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: Context | None = None,
    start_time: int | None = None,
) -> Span | None:
    """Start a scope's span on the emitter's tracer (``None`` when tracing is off)."""
    emitter = current_emitter()
    if emitter is None:
        return None
    return emitter.tracer.start_span(
        name, context=context, kind=kind, attributes=attributes, start_time=start_time
    )


def parent_for_new_scope() -> Node | None:
    """Return the node a new scope nests under, closing a superseded one (start-up) first."""
    node = live_node()
    if isinstance(node, LifecycleScope) and node.superseded_by_next:
        close(node)
        node = live_node()
    return node


def may_start_span(parent: Node | None) -> bool:
    """A scope nested in another trace takes a slot of that trace's span budget."""
    if parent is None:
        return True
    return parent.take_span_slot(current_config().max_spans_per_trace)


def enter(scope: LifecycleScope, current: Context | None = None) -> None:
    """Make ``scope`` current in this context until :func:`close`.

    ``current`` is the current OpenTelemetry context, if the caller has just read it.
    """
    scope.saved_node = current_node.get()
    saved_context = scope.saved_context = otel_context.get_current() if current is None else current
    current_node.set(scope)
    span = scope.span
    if span is not None:
        # What spans.attach does, from the context read above; and whether the span is
        # sampled out is known now (firings beneath ask, see spans.parent_is_sampled_out).
        context = scope.otel_context = trace.set_span_in_context(span, saved_context)
        span_context = span.get_span_context()
        scope.sampled_out = (
            not span_context.trace_flags & TraceFlags.SAMPLED and span_context.is_valid
        )
        otel_context.attach(context)
    scope.open_ref = ref = weakref.ref(scope, _open.pop)
    _open[ref] = None


def close(
    scope: LifecycleScope, *, error: BaseException | None = None, end_time: int | None = None
) -> bool:
    """End the scope's span and leave it; return False if it was already closed.

    A scope already closed elsewhere (``uninstrument()`` ends open request spans from its own
    thread) is still left here: only this context can put back its own values.
    """
    ref = scope.open_ref
    if ref is not None:
        # Whoever takes it out of the open scopes closes it (dict.pop is atomic, and cheaper
        # than a lock). Its reference goes too, so that its death calls nothing back.
        already_closed = _open.pop(ref, ref) is not None
        if not already_closed:
            scope.closed = True
            scope.open_ref = None
    else:  # never entered, or closed already (then ``closed`` was set before this)
        with _close_lock:
            already_closed = scope.closed
            scope.closed = True
    if already_closed:
        leave(scope)
        return False
    span = scope.span
    if span is not None:
        try:
            if span.is_recording():  # a sampled-out span: nothing to work out for it
                scope.before_close()
                if scope.counts or scope.spans_dropped or scope.storms is not None:
                    spans.flush_node(scope)
                if error is not None:
                    spans.record_error(
                        span,
                        error,
                        record_message=current_config().record_exception_messages,
                        max_length=current_config().max_attribute_length,
                    )
            span.end(end_time=end_time)
        except Exception:
            report_tracer_failure(f"closing the {scope.kind} span")
    leave(scope)
    return True


def leave(scope: LifecycleScope) -> None:
    """Put back the context values ``scope`` replaced, where they are still the scope's."""
    if current_node.get() is scope:
        current_node.set(scope.saved_node)
    span = scope.span
    if (
        span is not None
        and scope.saved_context is not None
        and (otel_context.get_current() is scope.otel_context or trace.get_current_span() is span)
    ):
        otel_context.attach(scope.saved_context)
