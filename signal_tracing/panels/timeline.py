"""The waterfall: one row per firing and per receiver call, in request order, nested.

Rows are plain JSON values (the toolbar stores panel stats as JSON and re-renders the panel,
and the History panel's snapshots, from that stored form only). Offsets and widths are
percentages of the panel's recording window, the way the toolbar's SQL panel draws its bars.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, NamedTuple, TypedDict

from signal_tracing.paths import short_path
from signal_tracing.records import DispatchRecord, ReceiverCall

#: Deeper nesting is drawn at this indentation (the stylesheet has one class per level).
MAX_INDENT = 12
#: Rows kept for one request; the summary and warnings still cover every recorded firing.
MAX_ROWS = 1000


class Row(TypedDict):
    """One line of the waterfall: a firing ("dispatch") or a receiver call ("receiver")."""

    id: int
    kind: Literal["dispatch", "receiver"]
    indent: int
    depth: int
    signal: str
    signal_path: str
    sender: str
    method: str
    receiver: str
    location: str
    file_path: str
    line: int
    is_async: bool
    outcome: str
    error_type: str
    receivers: int
    not_run: int
    reentrant: bool
    slow: bool
    start_ms: float
    duration_ms: float
    offset_pct: float
    width_pct: float
    attributes: list[list[str]]
    trace_id: str
    span_id: str
    trace_url: str


#: Narrowest bar drawn, in percent of the window, so that instant calls stay visible.
MIN_BAR_PCT = 0.4


class Window:
    """The recording window that offsets and bar widths are measured against."""

    def __init__(self, started_ns: int, stopped_ns: int) -> None:
        self.started_ns = started_ns
        self.stopped_ns = max(stopped_ns, started_ns)

    @property
    def duration_ns(self) -> int:
        return self.stopped_ns - self.started_ns

    def offset_ms(self, start_ns: int) -> float:
        return round(max(start_ns - self.started_ns, 0) / 1e6, 3)

    def bar(self, start_ns: int, duration_ns: int) -> tuple[float, float]:
        """Return the bar's (offset, width) in percent of the window, clamped to it."""
        total = self.duration_ns
        if total <= 0:
            return 0.0, 0.0
        offset = min(max(start_ns - self.started_ns, 0) / total * 100, 100.0 - MIN_BAR_PCT)
        width = min(max(duration_ns / total * 100, MIN_BAR_PCT), 100.0 - offset)
        return round(offset, 3), round(width, 3)


def code_location(file_path: str | None, line_number: int | None) -> str:
    """Return ``"app/receivers.py:12"`` (``""`` when the file is unknown)."""
    path = short_path(file_path)
    if path and line_number is not None:
        return f"{path}:{line_number}"
    return path


def location(call: ReceiverCall) -> str:
    """Return ``"app/receivers.py:12"`` for a receiver call (``""`` when unknown)."""
    return code_location(call.file_path, call.line_number)


def attribute_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


class Nesting:
    """Which recorded firings were sent from inside which receiver call.

    Built from each record's ``parent_call``; a firing whose parent call is not part of this
    recording (or which has none) is a root.
    """

    def __init__(self, dispatches: Sequence[DispatchRecord]) -> None:
        recorded = {id(record) for record in dispatches}
        self.roots: list[DispatchRecord] = []
        self._nested: dict[int, list[DispatchRecord]] = {}
        for record in dispatches:
            call = record.parent_call
            if call is not None and id(call.dispatch) in recorded:
                self._nested.setdefault(id(call), []).append(record)
            else:
                self.roots.append(record)
        self.roots.sort(key=lambda record: record.start_ns)
        for children in self._nested.values():
            children.sort(key=lambda record: record.start_ns)

    def sent_from(self, call: ReceiverCall) -> list[DispatchRecord]:
        return self._nested.get(id(call), [])

    def walk(self) -> Iterator[DispatchRecord | ReceiverCall]:
        """Yield firings and receiver calls depth-first, each firing before its calls."""
        stack: list[DispatchRecord | ReceiverCall] = list(reversed(self.roots))
        while stack:
            item = stack.pop()
            yield item
            if isinstance(item, DispatchRecord):
                stack.extend(reversed(item.calls))
            else:
                stack.extend(reversed(self.sent_from(item)))


class Timeline(NamedTuple):
    rows: list[Row]
    #: Firings and receiver calls beyond the row limit.
    omitted: int
    #: id() of each shown record or receiver call -> its row id, for warnings to link to.
    row_ids: dict[int, int]


def build_timeline(
    nesting: Nesting, window: Window, slow_ns: int | None, limit: int = MAX_ROWS
) -> Timeline:
    """Return up to ``limit`` rows in request order."""
    rows: list[Row] = []
    row_ids: dict[int, int] = {}
    omitted = 0
    for item in nesting.walk():
        if len(rows) >= limit:
            omitted += 1
            continue
        row_id = len(rows) + 1
        row_ids[id(item)] = row_id
        if isinstance(item, DispatchRecord):
            rows.append(_dispatch_row(row_id, item, window))
        else:
            rows.append(_call_row(row_id, item, window, slow_ns))
    return Timeline(rows, omitted, row_ids)


def _base_row(
    row_id: int,
    kind: Literal["dispatch", "receiver"],
    level: int,
    record: DispatchRecord,
    start_ns: int,
    duration_ns: int,
    window: Window,
) -> Row:
    offset, width = window.bar(start_ns, duration_ns)
    return Row(
        id=row_id,
        kind=kind,
        indent=min(level, MAX_INDENT),
        depth=record.depth,
        signal=record.signal_name,
        signal_path=record.signal_path,
        sender=record.sender_label,
        method=record.method,
        receiver="",
        location="",
        file_path="",
        line=0,
        is_async=False,
        outcome="",
        error_type="",
        receivers=record.receiver_count,
        not_run=record.not_run_count,
        reentrant=record.reentrant,
        slow=False,
        start_ms=window.offset_ms(start_ns),
        duration_ms=round(duration_ns / 1e6, 3),
        offset_pct=offset,
        width_pct=width,
        attributes=[],
        trace_id="",
        span_id="",
        trace_url="",
    )


def _dispatch_row(row_id: int, record: DispatchRecord, window: Window) -> Row:
    row = _base_row(
        row_id, "dispatch", 2 * record.depth, record, record.start_ns, record.duration_ns, window
    )
    row["outcome"] = record.outcome.value
    row["attributes"] = [
        [key, attribute_text(value)] for key, value in sorted(record.attributes.items())
    ]
    row["trace_id"] = record.trace_id or ""
    row["span_id"] = record.span_id or ""
    return row


def _call_row(row_id: int, call: ReceiverCall, window: Window, slow_ns: int | None) -> Row:
    record = call.dispatch
    # A receiver that never ran has no times: draw it as a point where its firing ended.
    start_ns = call.start_ns or record.end_ns
    row = _base_row(
        row_id, "receiver", 2 * record.depth + 1, record, start_ns, call.duration_ns, window
    )
    row["receiver"] = call.receiver_name
    row["location"] = location(call)
    row["file_path"] = call.file_path or ""
    row["line"] = call.line_number or 0
    row["is_async"] = call.is_async
    row["outcome"] = call.outcome.value
    row["error_type"] = call.error_type or ""
    row["slow"] = slow_ns is not None and call.duration_ns >= slow_ns
    return row
