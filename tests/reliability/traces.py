"""Checks on exported spans (JSON objects as Rotel or ``site/spans_file.py`` write them).

:func:`request_trace_problems` says, in plain sentences, everything wrong with the traces of a
load test: lost or duplicated spans, spans whose parent is missing or in another trace, a
request without its own root, or spans of one request inside another request's trace.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

Span = dict[str, Any]

NUMBER_KEY: Final = "django.signal.kwargs.request_number"
_EXAMPLES: Final = 5


@dataclass
class TraceReport:
    """What the spans hold: request traces by number, other roots by name, and problems."""

    spans: int = 0
    request_traces: int = 0
    other_roots: Counter[str] = field(default_factory=Counter)
    shapes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def shape(spans: Iterable[Span]) -> str:
    """The trace as an indented tree of span names (siblings sorted by name): its shape."""
    spans = list(spans)
    ids = {span["span_id"] for span in spans}
    children: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else ""
        children[parent].append(span)
    lines: list[str] = []

    def visit(parent: str, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["name"]):
            lines.append("  " * depth + span["name"])
            visit(span["span_id"], depth + 1)

    visit("", 0)
    return "\n".join(lines)


def _some(items: Iterable[Any]) -> str:
    items = list(items)
    shown = ", ".join(map(str, items[:_EXAMPLES]))
    return shown + (f" and {len(items) - _EXAMPLES} more" if len(items) > _EXAMPLES else "")


def request_trace_problems(
    spans: Iterable[Span],
    *,
    root_name: str,
    numbers: Iterable[int],
    firings_per_request: int,
    expected_shape: str | None = None,
) -> TraceReport:
    """Check that each request number has one trace of its own, whole and alone.

    A request trace is a trace whose root span is called ``root_name``. Each must hold
    exactly ``firings_per_request`` spans carrying :data:`NUMBER_KEY` at the top firing level,
    all with the same number, and every number in ``numbers`` must have exactly one trace.
    Traces with another root (start-up, a firing outside any request) are counted by name.
    """
    spans = list(spans)
    report = TraceReport(spans=len(spans))
    problems = report.problems

    span_ids = Counter(span["span_id"] for span in spans)
    duplicated = [span_id for span_id, count in span_ids.items() if count > 1]
    if duplicated:
        problems.append(
            f"{len(duplicated)} span id(s) received more than once: {_some(duplicated)}"
        )

    by_id = {span["span_id"]: span for span in spans}
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span["trace_id"]].append(span)

    orphans = [
        span["name"]
        for span in spans
        if span["parent_span_id"] and span["parent_span_id"] not in by_id
    ]
    if orphans:
        problems.append(f"{len(orphans)} span(s) whose parent never arrived: {_some(orphans)}")
    foreign = [
        span["name"]
        for span in spans
        if span["parent_span_id"] in by_id
        and by_id[span["parent_span_id"]]["trace_id"] != span["trace_id"]
    ]
    if foreign:
        problems.append(
            f"{len(foreign)} span(s) whose parent is in another trace: {_some(foreign)}"
        )

    traces_of_number: dict[int, list[str]] = defaultdict(list)
    for trace_id, members in by_trace.items():
        roots = [span for span in members if not span["parent_span_id"]]
        if len(roots) != 1:
            names = sorted(span["name"] for span in roots)
            problems.append(f"trace {trace_id} has {len(roots)} roots: {names}")
            continue
        (root,) = roots
        if root["name"] != root_name:
            report.other_roots[root["name"]] += 1
            stray = sorted(
                {
                    span["attributes"][NUMBER_KEY]
                    for span in members
                    if NUMBER_KEY in span["attributes"]
                }
            )
            if stray:
                problems.append(
                    f"request number(s) {_some(stray)} recorded in a trace rooted at "
                    f"{root['name']!r}, not in a request of their own"
                )
            continue
        report.request_traces += 1
        numbered = [span for span in members if NUMBER_KEY in span["attributes"]]
        numbers_here = sorted({span["attributes"][NUMBER_KEY] for span in numbered})
        if len(numbers_here) != 1:
            problems.append(
                f"trace {trace_id} mixes the spans of requests {_some(numbers_here)}"
                if numbers_here
                else f"trace {trace_id} holds no request's firing"
            )
            continue
        top_firings = [span for span in numbered if span["parent_span_id"] == root["span_id"]]
        if len(top_firings) != firings_per_request:
            problems.append(
                f"trace {trace_id} of request {numbers_here[0]} holds {len(top_firings)} "
                f"firing(s) directly under its request span, not {firings_per_request}"
            )
        traces_of_number[numbers_here[0]].append(trace_id)
        report.shapes[shape(members)] += 1

    wanted = set(numbers)
    missing = sorted(wanted - set(traces_of_number))
    if missing:
        problems.append(f"{len(missing)} request(s) have no trace: {_some(missing)}")
    unexpected = sorted(set(traces_of_number) - wanted)
    if unexpected:
        problems.append(f"{len(unexpected)} trace(s) of requests never made: {_some(unexpected)}")
    repeated = sorted(number for number, ids in traces_of_number.items() if len(ids) > 1)
    if repeated:
        problems.append(f"{len(repeated)} request(s) have several traces: {_some(repeated)}")
    if expected_shape is not None:
        odd = {tree: count for tree, count in report.shapes.items() if tree != expected_shape}
        if odd:
            tree, count = max(odd.items(), key=lambda item: item[1])
            problems.append(
                f"{sum(odd.values())} request trace(s) differ from the expected shape; "
                f"{count} look like:\n{tree}\nexpected:\n{expected_shape}"
            )
    return report


def describe(report: TraceReport) -> str:
    """A summary for assertion messages and the test log."""
    lines = [
        f"{report.spans} spans, {report.request_traces} request traces, "
        f"other roots: {dict(report.other_roots)}"
    ]
    lines += report.problems
    return "\n".join(lines)


def count_by_name(spans: Iterable[Span]) -> Mapping[str, int]:
    return Counter(span["name"] for span in spans)
