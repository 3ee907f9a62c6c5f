"""Render finished OpenTelemetry spans as an indented text tree, for readable assertions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

DEFAULT_KEYS = ("django.signal.reentrant", "django.signal.receivers.not_run", "error.type")


def render_spans(spans: Iterable[ReadableSpan], keys: Sequence[str] = DEFAULT_KEYS) -> str:
    """One line per span, children indented under parents, siblings by start time.

    Each line: the span name, then ``key=value`` for each requested attribute present, then
    ``!ERROR`` when the status is ERROR. Spans whose parent is not in the set are roots.
    """
    spans = list(spans)
    by_id = {span.context.span_id: span for span in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in by_id else None, []).append(span)
    lines: list[str] = []

    def visit(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: (s.start_time, s.name)):
            parts = [span.name]
            attributes = span.attributes or {}
            parts += [f"{key}={attributes[key]}" for key in keys if key in attributes]
            if span.status.status_code is StatusCode.ERROR:
                parts.append("!ERROR")
            lines.append("  " * depth + " ".join(parts))
            visit(span.context.span_id, depth + 1)

    visit(None, 0)
    return "\n".join(lines)
