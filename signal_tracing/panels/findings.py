"""Warnings worth a developer's attention: re-entrancy, slow or failing receivers, floods,
dropped spans and firings past the recording limit.

Each finding is a plain JSON value; the template turns its ``kind`` into a sentence, so
stored snapshots render in whatever language the toolbar uses when they are viewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, TypedDict

from signal_tracing.panels.summary import CountTotal, LeftOut
from signal_tracing.panels.timeline import location
from signal_tracing.records import DispatchRecord, Outcome

#: Signals that fire once per model instance built: a page that builds thousands of
#: instances is usually loading more rows than it shows. Only models with a pre_init or
#: post_init receiver are seen: without one, Django skips both before the tracer runs.
INIT_SIGNAL_PATHS = frozenset(
    {"django.db.models.signals.pre_init", "django.db.models.signals.post_init"}
)
#: Findings of one kind beyond this are counted, not listed.
MAX_PER_KIND = 25

FindingKind = Literal["reentrant", "slow", "raised", "init_flood", "spans_dropped", "not_recorded"]
_FAILED = frozenset({Outcome.RAISED, Outcome.HANDLED, Outcome.CANCELLED})


class ChainStep(TypedDict):
    """One firing on the way to a re-entrant one, and the receiver that sent the next."""

    signal: str
    sender: str
    receiver: str


class Finding(TypedDict):
    kind: FindingKind
    #: Row of the waterfall it is about (0 when that row isn't shown).
    row: int
    signal: str
    sender: str
    receiver: str
    method: str
    location: str
    outcome: str
    error_type: str
    duration_ms: float
    count: int
    threshold: float
    chain: list[ChainStep]


def _finding(kind: FindingKind, **values: object) -> Finding:
    finding = Finding(
        kind=kind,
        row=0,
        signal="",
        sender="",
        receiver="",
        method="",
        location="",
        outcome="",
        error_type="",
        duration_ms=0.0,
        count=0,
        threshold=0.0,
        chain=[],
    )
    finding.update(values)  # type: ignore[typeddict-item]
    return finding


def chain_steps(record: DispatchRecord) -> list[ChainStep]:
    """Return the firings that led to ``record``, outermost first, with their receivers."""
    chain = record.chain()
    steps = []
    for index, link in enumerate(chain):
        following = chain[index + 1] if index + 1 < len(chain) else None
        call = following.parent_call if following is not None else None
        steps.append(
            ChainStep(
                signal=link.signal_name,
                sender=link.sender_label,
                receiver=call.receiver_name if call is not None else "",
            )
        )
    return steps


def reentrant(dispatches: Iterable[DispatchRecord], row_ids: Mapping[int, int]) -> list[Finding]:
    return [
        _finding(
            "reentrant",
            row=row_ids.get(id(record), 0),
            signal=record.signal_name,
            sender=record.sender_label,
            chain=chain_steps(record),
        )
        for record in dispatches
        if record.reentrant
    ]


def slow_and_raised(
    dispatches: Iterable[DispatchRecord],
    row_ids: Mapping[int, int],
    slow_ns: int | None,
) -> tuple[list[Finding], list[Finding]]:
    """Return the receiver calls slower than the threshold, and those that raised."""
    slow: list[Finding] = []
    raised: list[Finding] = []
    threshold_ms = slow_ns / 1e6 if slow_ns is not None else 0.0
    for record in dispatches:
        for call in record.calls:
            is_slow = (
                slow_ns is not None
                and call.outcome is not Outcome.NOT_RUN
                and call.duration_ns >= slow_ns
            )
            failed = call.outcome in _FAILED
            if not (is_slow or failed):
                continue
            common = {
                "row": row_ids.get(id(call), 0),
                "signal": record.signal_name,
                "sender": record.sender_label,
                "receiver": call.receiver_name,
                "method": record.method,
                "location": location(call),
                "duration_ms": round(call.duration_ns / 1e6, 3),
            }
            if is_slow:
                slow.append(_finding("slow", threshold=threshold_ms, **common))
            if failed:
                raised.append(
                    _finding(
                        "raised",
                        outcome=call.outcome.value,
                        error_type=call.error_type or "",
                        **common,
                    )
                )
    return slow, raised


def init_floods(
    dispatches: Iterable[DispatchRecord],
    counts: Sequence[CountTotal],
    left_out: LeftOut,
    threshold: int,
) -> list[Finding]:
    """Return each model whose pre_init/post_init fired at least ``threshold`` times."""
    if threshold <= 0:
        return []
    totals: dict[tuple[str, str], int] = {}
    names: dict[str, str] = {}
    for total in counts:
        if total["signal_path"] in INIT_SIGNAL_PATHS:
            key = (total["signal_path"], total["sender"])
            totals[key] = totals.get(key, 0) + total["count"]
            names[total["signal_path"]] = total["signal"]
    # Init signals under the "span" policy are firings, not counts.
    for record in dispatches:
        if record.signal_path in INIT_SIGNAL_PATHS:
            key = (record.signal_path, record.sender_label)
            totals[key] = totals.get(key, 0) + 1
            names[record.signal_path] = record.signal_name
    for (signal_name, signal_path, sender), count in left_out.items():
        if signal_path in INIT_SIGNAL_PATHS:
            key = (signal_path, sender)
            totals[key] = totals.get(key, 0) + count
            names[signal_path] = signal_name
    floods = [
        _finding(
            "init_flood",
            signal=names[path],
            sender=sender,
            count=count,
            threshold=float(threshold),
        )
        for (path, sender), count in totals.items()
        if count >= threshold
    ]
    return sorted(floods, key=lambda finding: (-finding["count"], finding["signal"]))


def spans_dropped(count: int) -> list[Finding]:
    return [_finding("spans_dropped", count=count)] if count > 0 else []


def not_recorded(count: int, recorded: int) -> list[Finding]:
    """Report the firings past the recording limit, counted but not recorded."""
    return [_finding("not_recorded", count=count, threshold=float(recorded))] if count else []


def capped(findings: Sequence[Finding]) -> tuple[list[Finding], int]:
    """Keep at most MAX_PER_KIND findings of each kind; return them and how many were cut."""
    kept: list[Finding] = []
    seen: dict[str, int] = {}
    for finding in findings:
        seen[finding["kind"]] = seen.get(finding["kind"], 0) + 1
        if seen[finding["kind"]] <= MAX_PER_KIND:
            kept.append(finding)
    return kept, len(findings) - len(kept)
