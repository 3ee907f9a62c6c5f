"""Totals for the panel's summary: firings per signal and per sender, counted signals, time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

from signal_tracing.records import CountRecord, DispatchRecord

#: Firings the recording counted but did not keep (past its limit), per
#: (signal name, signal path, sender label).
LeftOut = Mapping[tuple[str, str, str], int]


class SignalTotal(TypedDict):
    signal: str
    signal_path: str
    #: Every firing, recorded or not.
    firings: int
    #: Firings past the recording limit: counted, with no receiver calls or times.
    not_recorded: int
    calls: int
    #: Time in this signal's receivers, including firings nested inside them.
    receiver_ms: float


class SenderTotal(TypedDict):
    sender: str
    firings: int
    not_recorded: int


class CountTotal(TypedDict):
    """Firings of a count-policy signal (``pre_init``/``post_init`` by default)."""

    signal: str
    signal_path: str
    sender: str
    count: int
    ms: float


class CountedSignal(TypedDict):
    signal: str
    signal_path: str
    count: int


def per_signal(dispatches: Iterable[DispatchRecord], left_out: LeftOut) -> list[SignalTotal]:
    """Return one total per signal, most firings first."""
    totals: dict[str, SignalTotal] = {}

    def total_of(signal_name: str, signal_path: str) -> SignalTotal:
        total = totals.get(signal_path)
        if total is None:
            total = totals[signal_path] = SignalTotal(
                signal=signal_name,
                signal_path=signal_path,
                firings=0,
                not_recorded=0,
                calls=0,
                receiver_ms=0.0,
            )
        return total

    for record in dispatches:
        total = total_of(record.signal_name, record.signal_path)
        total["firings"] += 1
        total["calls"] += len(record.calls)
        total["receiver_ms"] += sum(call.duration_ns for call in record.calls) / 1e6
    for (signal_name, signal_path, _sender), count in left_out.items():
        total = total_of(signal_name, signal_path)
        total["firings"] += count
        total["not_recorded"] += count
    for total in totals.values():
        total["receiver_ms"] = round(total["receiver_ms"], 3)
    return sorted(totals.values(), key=lambda total: (-total["firings"], total["signal_path"]))


def per_sender(dispatches: Iterable[DispatchRecord], left_out: LeftOut) -> list[SenderTotal]:
    """Return one total per sender label, most firings first."""
    firings: dict[str, int] = {}
    not_recorded: dict[str, int] = {}
    for record in dispatches:
        firings[record.sender_label] = firings.get(record.sender_label, 0) + 1
    for (_name, _path, sender), count in left_out.items():
        firings[sender] = firings.get(sender, 0) + count
        not_recorded[sender] = not_recorded.get(sender, 0) + count
    ordered = sorted(firings.items(), key=lambda item: (-item[1], item[0]))
    return [
        SenderTotal(sender=sender, firings=count, not_recorded=not_recorded.get(sender, 0))
        for sender, count in ordered
    ]


def counted(counts: Mapping[tuple[str, str], CountRecord]) -> list[CountTotal]:
    """Return the count-policy firings per signal and sender, most frequent first."""
    totals = [
        CountTotal(
            signal=entry.signal_name,
            signal_path=entry.signal_path,
            sender=entry.sender_label,
            count=entry.count,
            ms=round(entry.total_ns / 1e6, 3),
        )
        for entry in counts.values()
    ]
    return sorted(totals, key=lambda total: (-total["count"], total["signal"], total["sender"]))


def counted_per_signal(totals: Sequence[CountTotal]) -> list[CountedSignal]:
    """Return the count-policy firings per signal (e.g. "2,000 post_init"), most first."""
    by_signal: dict[str, CountedSignal] = {}
    for total in totals:
        entry = by_signal.get(total["signal_path"])
        if entry is None:
            entry = by_signal[total["signal_path"]] = CountedSignal(
                signal=total["signal"], signal_path=total["signal_path"], count=0
            )
        entry["count"] += total["count"]
    return sorted(by_signal.values(), key=lambda entry: (-entry["count"], entry["signal"]))


def receiver_time_ns(roots: Iterable[DispatchRecord]) -> int:
    """Return the time spent in receivers, counting nested firings once.

    Only outermost firings count: anything nested ran inside one of their receiver calls.
    A root with a depth above zero was sent from concurrently running async receivers
    and is likewise inside an outer call's time.
    """
    return sum(call.duration_ns for record in roots if record.depth == 0 for call in record.calls)
