"""``collect_spans()``: the finished OpenTelemetry spans of a block, from a private provider.

Needs ``opentelemetry-sdk`` (the ``otlp`` extra). The global tracer provider is never touched:
tracing is pointed at a private provider for the block, then restored as it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from signal_tracing import attributes as attrs

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

#: Attributes :meth:`CollectedSpans.render` shows unless told otherwise.
DEFAULT_RENDER_KEYS: Final = (
    attrs.SIGNAL_REENTRANT,
    attrs.SIGNAL_RECEIVERS_NOT_RUN,
    attrs.ERROR_TYPE,
)


class CollectedSpans:
    """The spans finished so far, in the order they ended."""

    def __init__(self, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def names(self) -> list[str]:
        """Return the finished spans' names, in the order they ended."""
        return [span.name for span in self.exporter.get_finished_spans()]

    def clear(self) -> None:
        self.exporter.clear()

    def render(self, keys: Sequence[str] = DEFAULT_RENDER_KEYS) -> str:
        """Return the finished spans as an indented tree, siblings by start time.

        Each line: the span name, ``key=value`` for each of ``keys`` the span has, and
        ``!ERROR`` when its status is ERROR. A span whose parent was not collected is a root.
        """
        return render_spans(self.finished(), keys)


def render_spans(spans: Sequence[ReadableSpan], keys: Sequence[str] = DEFAULT_RENDER_KEYS) -> str:
    """Render ``spans`` as an indented tree (see :meth:`CollectedSpans.render`)."""
    from opentelemetry.trace import StatusCode

    ids = {span.context.span_id for span in spans if span.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    lines: list[str] = []

    def visit(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: (s.start_time or 0, s.name)):
            span_attributes = span.attributes or {}
            parts = [span.name]
            parts += [f"{key}={span_attributes[key]!s}" for key in keys if key in span_attributes]
            if span.status.status_code is StatusCode.ERROR:
                parts.append("!ERROR")
            lines.append("  " * depth + " ".join(parts))
            if span.context is not None:
                visit(span.context.span_id, depth + 1)

    visit(None, 0)
    return "\n".join(lines)


@contextmanager
def collect_spans(**options: Any) -> Iterator[CollectedSpans]:
    """Trace the block into a private in-memory exporter and yield what it collects.

    Tracing is on inside the block whatever the setting says; ``options`` are
    ``SIGNAL_TRACING`` keys in lower case, as for :func:`signal_tracing.instrument`.
    """
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "collect_spans() needs the OpenTelemetry SDK: pip install 'signal-tracing[otlp]' "
            "(or opentelemetry-sdk)."
        ) from exc
    from signal_tracing.instrumentation import instrumented_with

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        with instrumented_with(provider, **{"enabled": True, **options}):
            yield CollectedSpans(provider, exporter)
    finally:
        provider.shutdown()
