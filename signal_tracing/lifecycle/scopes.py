"""A lifecycle scope: the root node of one trace, its span, and the context it stands in for.

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
import time
import weakref
from collections.abc import Mapping
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from signal_tracing import firings, spans
from signal_tracing.nesting import Node, Scope, current_node


class LifecycleScope(Scope):
    """A scope opened by lifecycle code; subclasses add what their kind needs."""

    __slots__ = ("__weakref__", "closed", "opened_ns", "saved_context", "saved_node")

    #: Whether opening any other scope in the same context closes this one first.
    superseded_by_next: bool = False

    def __init__(self, kind: str, name: str, span: Span | None, parent: Node | None) -> None:
        super().__init__(kind, name, span, parent)
        self.closed = False
        self.opened_ns = time.time_ns()
        self.saved_node: Node | None = None
        self.saved_context: Context | None = None

    def before_close(self) -> None:
        """Set what is only known at the end on the span (called once, span still open)."""


#: Scopes open anywhere, so that stopping can end those whose closing hook goes away.
open_scopes: Final[weakref.WeakSet[LifecycleScope]] = weakref.WeakSet()
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
    emitter = firings.current_emitter()
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
    return parent.take_span_slot(firings.current_config().max_spans_per_trace)


def enter(scope: LifecycleScope) -> None:
    """Make ``scope`` current in this context until :func:`close`."""
    scope.saved_node = current_node.get()
    scope.saved_context = otel_context.get_current()
    current_node.set(scope)
    if scope.span is not None:
        otel_context.attach(trace.set_span_in_context(scope.span))
    open_scopes.add(scope)


def close(
    scope: LifecycleScope, *, error: BaseException | None = None, end_time: int | None = None
) -> bool:
    """End the scope's span and leave it; return False if it was already closed."""
    with _close_lock:
        if scope.closed:
            return False
        scope.closed = True
    open_scopes.discard(scope)
    span = scope.span
    if span is not None:
        try:
            scope.before_close()
            spans.flush_node(scope)
            if error is not None:
                spans.record_error(
                    span,
                    error,
                    record_message=firings.current_config().record_exception_messages,
                    max_length=firings.current_config().max_attribute_length,
                )
            span.end(end_time=end_time)
        except Exception:
            firings.report_tracer_failure(f"closing the {scope.kind} span")
    leave(scope)
    return True


def leave(scope: LifecycleScope) -> None:
    """Put back the context values ``scope`` replaced, where they are still the scope's."""
    if current_node.get() is scope:
        current_node.set(scope.saved_node)
    span = scope.span
    if span is not None and scope.saved_context is not None and trace.get_current_span() is span:
        otel_context.attach(scope.saved_context)
