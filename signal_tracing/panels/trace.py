"""Which trace a request belongs to, and how many of its spans the cap dropped."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanContext

from signal_tracing.nesting import Budget, Scope, current_node, innermost_scope


def _sampled_trace_id(context: SpanContext) -> str | None:
    # A sampled-out trace is never exported: a link to it would lead nowhere.
    if context.is_valid and context.trace_flags.sampled:
        return format(context.trace_id, "032x")
    return None


class RequestTrace:
    """The request's scope and current span, read when the panel starts recording.

    The request scope (opened by ``lifecycle`` around the request) carries the request span
    and the span budget; without one, an outer span (OpenTelemetry's WSGI/ASGI/Django
    instrumentation) still names the trace.
    """

    def __init__(self, scope: Scope | None, span_context: SpanContext) -> None:
        self.scope = scope
        self.span_context = span_context

    @classmethod
    def current(cls) -> RequestTrace:
        return cls(innermost_scope(current_node.get()), trace.get_current_span().get_span_context())

    def trace_id(self) -> str | None:
        span = self.scope.span if self.scope is not None else None
        if span is not None:
            trace_id = _sampled_trace_id(span.get_span_context())
            if trace_id is not None:
                return trace_id
        return _sampled_trace_id(self.span_context)

    def spans_dropped(self) -> int:
        root = self.scope.root if self.scope is not None else None
        return root.spans_dropped if isinstance(root, Budget) else 0
