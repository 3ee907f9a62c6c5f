"""Spans as the collector received them (JSON objects), rendered as an indented tree.

The same layout as ``signal_tracing.testing.render_spans`` gives in-memory spans, so a
trace read back from the collector can be asserted as one block of text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tests.collector.rotel import Span

STATUS_ERROR = 2


def render_received(spans: Iterable[Span], keys: Sequence[str] = ()) -> str:
    """One line per span, children under parents, siblings by start time.

    Each line: the name, ``key=value`` for each requested attribute present, and ``!ERROR``
    when the status is ERROR. A span whose parent was not received is a root.
    """
    spans = list(spans)
    ids = {span["span_id"] for span in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def visit(parent: str | None, depth: int) -> None:
        ordered = sorted(
            children.get(parent, []), key=lambda s: (s["start_time_unix_nano"], s["name"])
        )
        for span in ordered:
            parts = [span["name"]]
            parts += [
                f"{key}={span['attributes'][key]}" for key in keys if key in span["attributes"]
            ]
            if span["status"]["code"] == STATUS_ERROR:
                parts.append("!ERROR")
            lines.append("  " * depth + " ".join(parts))
            visit(span["span_id"], depth + 1)

    visit(None, 0)
    return "\n".join(lines)


def trace_of(spans: Iterable[Span], name: str) -> list[Span]:
    """Every received span in the trace of the (first) span called ``name``."""
    spans = list(spans)
    trace_id = next(span["trace_id"] for span in spans if span["name"] == name)
    return [span for span in spans if span["trace_id"] == trace_id]
