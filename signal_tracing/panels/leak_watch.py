"""The "left connected" warnings: receivers connected while the request ran and still
connected when it ended (the slow memory leak of connecting inside a view).

A :class:`LeakWatch` takes a snapshot of every known signal's connections when the toolbar
enables the panel, and compares when the panel makes its stats (:mod:`signal_tracing.leaks`
does both, without wrapping, calling or re-connecting any receiver). Nothing here runs for a
request the panel does not watch.

Connections are process-wide, so a snapshot cannot tell which thread connected a receiver.
Each watch therefore counts the other requests the panel watched at the same time: when
there were none, what it finds was connected by this request (or by a thread the toolbar
doesn't see); when there were some, the panel says that their receivers may be listed too.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, TypedDict

from signal_tracing.panels.timeline import code_location

if TYPE_CHECKING:
    from signal_tracing.leaks import ConnectionSnapshot, LeakedReceiver

#: Leaks of one request listed at most; the rest are counted.
MAX_LEAKS = 25


class ReceiverRow(TypedDict):
    """What the panel shows of any connected receiver (the leaks and the connected lists)."""

    receiver: str
    location: str
    file_path: str
    line: int
    #: The sender filter's label; ``""`` when the receiver hears every sender.
    sender: str
    weak: bool
    is_async: bool
    dispatch_uid: str


class LeakRow(ReceiverRow):
    """A receiver the request left connected, as the panel shows it."""

    signal: str
    signal_path: str
    #: Connected under a ``dispatch_uid`` that another (since collected) receiver held before.
    replaced: bool


class LeakReport(TypedDict):
    leaks: list[LeakRow]
    leaks_omitted: int
    #: Other requests the panel watched while this one ran: their connections show up too.
    leaks_concurrent: int


def no_leaks() -> LeakReport:
    return LeakReport(leaks=[], leaks_omitted=0, leaks_concurrent=0)


def leak_row(leak: LeakedReceiver) -> LeakRow:
    receiver = leak.receiver
    return LeakRow(
        signal=leak.signal_name,
        signal_path=leak.signal_path,
        receiver=receiver.name,
        location=code_location(receiver.file_path, receiver.line_number),
        file_path=receiver.file_path or "",
        line=receiver.line_number or 0,
        sender=receiver.sender or "",
        weak=receiver.weak,
        is_async=receiver.is_async,
        dispatch_uid=receiver.dispatch_uid or "",
        replaced=leak.replaced,
    )


def leak_report(leaks: Sequence[LeakedReceiver], concurrent: int) -> LeakReport:
    rows = [leak_row(leak) for leak in leaks[:MAX_LEAKS]]
    return LeakReport(leaks=rows, leaks_omitted=len(leaks) - len(rows), leaks_concurrent=concurrent)


class LeakWatch:
    """One request's watch: a snapshot at its start, the other watches it overlapped."""

    __slots__ = ("concurrent", "snapshot")

    _watching: ClassVar[set[LeakWatch]] = set()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.concurrent = 0
        self.snapshot: ConnectionSnapshot | None = None

    @classmethod
    def start(cls) -> LeakWatch:
        """Start watching: count the overlap with requests being watched, then snapshot."""
        watch = cls()
        # Registered before the snapshot: a request starting in between overlaps this one.
        with cls._lock:
            for other in cls._watching:
                other.concurrent += 1
            watch.concurrent = len(cls._watching)
            cls._watching.add(watch)
        # Imported by the first watched request, not with the panel class: the toolbar loads
        # its panels at start-up, and a process that never shows one (a test run, say) needs
        # none of it.
        from signal_tracing.leaks import take_snapshot

        watch.snapshot = take_snapshot()
        return watch

    def stop(self) -> None:
        """Stop counting overlaps (the request's code has finished running)."""
        with self._lock:
            self._watching.discard(self)

    def report(self) -> LeakReport:
        """Return the receivers connected since the start and still connected."""
        self.stop()
        if self.snapshot is None:
            return no_leaks()
        from signal_tracing.leaks import find_leaks

        return leak_report(find_leaks(self.snapshot), self.concurrent)
