"""Contextvar-scoped capture of records: what the panel and the test API read.

A :class:`Recording` collects the firings that start in its context (and in threads or tasks
that inherit it) while it is active. Recordings nest: every active one receives each record.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from signal_tracing.records import CountRecord, DispatchRecord


class Recording:
    """Firings seen while active.

    ``everything`` records every firing in full, whatever its policy, including firings with no
    live receivers (test captures); otherwise policies apply (the panel). ``keep_objects``
    keeps the signal, sender and kwargs objects on each record (tests only: it holds strong
    references). ``max_firings`` bounds what is kept: later firings are only counted, per
    signal and sender, so that a request sending a million signals holds a bounded amount.
    """

    def __init__(
        self,
        *,
        everything: bool = False,
        keep_objects: bool = False,
        max_firings: int | None = None,
    ) -> None:
        self.everything = everything
        self.keep_objects = keep_objects
        self.max_firings = max_firings
        self.started_ns = time.perf_counter_ns()
        self.stopped_ns: int | None = None
        #: Firings not nested in another recorded firing, in start order.
        self.roots: list[DispatchRecord] = []
        #: Every recorded firing, in start order.
        self.dispatches: list[DispatchRecord] = []
        #: Count-policy firings, aggregated per (signal path, sender label).
        self.counts: dict[tuple[str, str], CountRecord] = {}
        #: Firings beyond ``max_firings``, not kept.
        self.firings_left_out = 0
        #: The same per (signal name, signal path, sender label); at most ``max_firings``
        #: keys, so senders labelled on the fly cannot grow it either.
        self.left_out: dict[tuple[str, str, str], int] = {}

    def add(self, record: DispatchRecord) -> bool:
        """Keep ``record``, or count it when ``max_firings`` are kept; return whether kept."""
        if self.max_firings is not None and len(self.dispatches) >= self.max_firings:
            self.firings_left_out += 1
            key = (record.signal_name, record.signal_path, record.sender_label)
            if key in self.left_out or len(self.left_out) < self.max_firings:
                self.left_out[key] = self.left_out.get(key, 0) + 1
            return False
        self.dispatches.append(record)
        parent = record.parent_dispatch
        if parent is None or parent.start_ns < self.started_ns:
            self.roots.append(record)
        return True

    def add_count(
        self, signal_name: str, signal_path: str, sender_label: str, elapsed_ns: int
    ) -> None:
        key = (signal_path, sender_label)
        entry = self.counts.get(key)
        if entry is None:
            entry = self.counts[key] = CountRecord(signal_name, signal_path, sender_label)
        entry.count += 1
        entry.total_ns += elapsed_ns


active_recordings: Final[contextvars.ContextVar[tuple[Recording, ...]]] = contextvars.ContextVar(
    "signal_tracing_recordings", default=()
)


def start(recording: Recording) -> contextvars.Token[tuple[Recording, ...]]:
    return active_recordings.set((*active_recordings.get(), recording))


def stop(recording: Recording, token: contextvars.Token[tuple[Recording, ...]]) -> None:
    recording.stopped_ns = time.perf_counter_ns()
    try:
        active_recordings.reset(token)
    except ValueError:
        # Stopped from another context (e.g. a response closed in another thread): remove it
        # from this context's tuple instead.
        active_recordings.set(tuple(r for r in active_recordings.get() if r is not recording))


@contextmanager
def recording(*, everything: bool = False, keep_objects: bool = False) -> Iterator[Recording]:
    """Record the firings inside the ``with`` block (policy-aware unless ``everything``)."""
    active = Recording(everything=everything, keep_objects=keep_objects)
    token = start(active)
    try:
        yield active
    finally:
        stop(active, token)
