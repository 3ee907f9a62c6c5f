"""Turning firings and receiver calls into OpenTelemetry spans, through the API only.

The tracer comes from the tracer provider given to ``instrument()`` or the global one, so
whatever SDK, sampler and exporter the application configured decide what happens next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from signal_tracing import attributes as attrs
from signal_tracing.nesting import Node, Scope
from signal_tracing.storms import storm_event

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

TRACER_NAME: Final = "signal_tracing"
_INTERNAL: Final = SpanKind.INTERNAL


def _version() -> str:
    from signal_tracing import __version__

    return __version__


def _no_context() -> None:
    return None


#: A weak reference to the OpenTelemetry context that the latest dropped root firing made
#: current (``firings.DroppedFiring`` sets it), or a stand-in answering None. A context never
#: changes: while that one is current, so is the dropped span, and nothing of ours beneath it
#: is recorded (a weak reference: a context may hold the application's values).
dropped_context: Callable[[], object] = _no_context


class SpanEmitter:
    """Starts and ends our spans on one tracer."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.tracer_provider = tracer_provider
        self.tracer = trace.get_tracer(
            TRACER_NAME,
            _version(),
            tracer_provider=tracer_provider,
            schema_url="https://opentelemetry.io/schemas/1.33.0",
        )

    @staticmethod
    def parent_is_sampled_out(node: Node | None = None) -> bool:
        """Whether the current span exists but is not sampled: then nothing of ours is.

        ``node`` is the current node: if the context it made current still is the current
        one, its span is the current span, and the answer was noted when it was attached.
        """
        if node is not None:
            attached = node.otel_context
            if attached is not None and otel_context.get_current() is attached:
                sampled_out = node.sampled_out
                if sampled_out is None:
                    context = trace.get_current_span().get_span_context()
                    sampled_out = node.sampled_out = (
                        context.is_valid and not context.trace_flags.sampled
                    )
                return sampled_out
        current = otel_context.get_current()
        if current is dropped_context():
            return True
        context = trace.get_current_span(current).get_span_context()
        return context.is_valid and not context.trace_flags.sampled

    def start(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue],
        parent: Span | None = None,
    ) -> Span:
        """Start a span under ``parent`` (or under the current span)."""
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self.tracer.start_span(name, context=context, kind=_INTERNAL, attributes=attributes)


def attach(span: Span, node: Node | None = None) -> object:
    """Make ``span`` current; return the token for :func:`detach`.

    With ``node`` (the node current while the span is), note the context on it, for
    :meth:`SpanEmitter.parent_is_sampled_out`.
    """
    context = trace.set_span_in_context(span)
    if node is not None:
        node.otel_context = context
        node.sampled_out = None
    return otel_context.attach(context)


def detach(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


def ids(span: Span) -> tuple[str, str] | None:
    """Return the hex trace and span ids of a recording span."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def record_error(
    span: Span, error: BaseException, *, record_message: bool, max_length: int
) -> None:
    """Mark ``span`` failed with ``error``: status, ``error.type`` and an exception event.

    The message is left out unless opted in: exception messages often hold user data.
    ``max_length`` is ``MAX_ATTRIBUTE_LENGTH``, which bounds the message.
    """
    error_type = record_exception(span, error, record_message=record_message, max_length=max_length)
    span.set_attribute(attrs.ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


def record_exception(
    span: Span, error: BaseException, *, record_message: bool, max_length: int
) -> str:
    """Add a bounded exception event for ``error`` to ``span`` (the span is not marked failed).

    Return the error's type name. The message is left out unless opted in.
    """
    attributes = attrs.exception_attributes(error, record_message=record_message, limit=max_length)
    span.add_event(attrs.EXCEPTION_EVENT, attributes)
    return str(attributes[attrs.EXCEPTION_TYPE])


def format_counts(counts: Mapping[Any, list[Any]]) -> tuple[list[str], int]:
    """Return ``"post_init sms.SmsCode x2000 (1.25 ms)"`` lines, most frequent first, and
    the total number of firings (excluded senders left out of both)."""
    merged: dict[tuple[str, str], list[int]] = {}
    total = 0
    for count, total_ns, signal_name, sender in counts.values():
        if sender is None:
            continue
        total += count
        entry = merged.get((signal_name, sender))
        if entry is None:
            merged[signal_name, sender] = [count, total_ns]
        else:
            entry[0] += count
            entry[1] += total_ns
    # Sorted as plain tuples (most firings first, then by name): no key function to call.
    ordered = sorted(
        [
            (-count, signal_name, sender, total_ns)
            for (signal_name, sender), (count, total_ns) in merged.items()
        ]
    )
    lines = [
        f"{signal_name} {sender} x{-negated} ({total_ns / 1e6:.2f} ms)"
        for negated, signal_name, sender, total_ns in ordered
    ]
    return lines, total


def flush_node(node: Node) -> None:
    """Write a node's aggregated counts and dropped-span count onto its span."""
    span = node.span
    if span is None:
        return
    if node.counts:
        lines, total = format_counts(node.counts)
        if lines:
            span.set_attribute(attrs.SIGNAL_COUNTS, lines)
            span.set_attribute(attrs.SIGNAL_COUNTS_TOTAL, total)
    dropped = getattr(node, "spans_dropped", 0)
    if dropped:
        span.set_attribute(attrs.SPANS_DROPPED, dropped)
    if isinstance(node, Scope) and node.storms is not None:
        for storm in node.storms.storms():
            span.add_event(attrs.STORM_EVENT, storm_event(storm, node.storms.threshold))
