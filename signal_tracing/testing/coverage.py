"""Receiver coverage: which receivers a test run called, and how many times.

:class:`ReceiverCoverage` counts every receiver call between :meth:`~ReceiverCoverage.start`
and :meth:`~ReceiverCoverage.stop` (through :mod:`signal_tracing.call_counts`: one number per
receiver, no record of any firing), and notes the receivers connected at both ends.
:class:`CoverageData` is the result, JSON-able and mergeable, so that the counts of worker
processes (pytest-xdist, Django's ``--parallel``) add up to one report.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Final

from signal_tracing import _dispatch, call_counts, instrumentation
from signal_tracing.call_counts import ReceiverCallCounts
from signal_tracing.leaks import known_signals
from signal_tracing.naming import receiver_identity, registry

#: Format version of :meth:`CoverageData.to_json`.
FORMAT: Final = 1


@dataclass(frozen=True, order=True)
class ReceiverKey:
    """One receiver of one signal (a function connected to two signals has two keys)."""

    signal_path: str
    receiver_name: str
    file_path: str | None
    line_number: int | None


class CoverageData:
    """Receivers seen (connected, or called) and how many times each was called."""

    def __init__(self) -> None:
        #: Every receiver seen -> number of calls (0: connected, never called).
        self.calls: dict[ReceiverKey, int] = {}
        #: Signal path -> short name.
        self.signal_names: dict[str, str] = {}
        #: Calls not counted because too many distinct receivers were seen.
        self.dropped = 0

    def note(self, key: ReceiverKey, signal_name: str, calls: int = 0) -> None:
        self.calls[key] = self.calls.get(key, 0) + calls
        self.signal_names.setdefault(key.signal_path, signal_name)

    def merge(self, other: CoverageData) -> None:
        for key, calls in other.calls.items():
            self.note(key, other.signal_names.get(key.signal_path, key.signal_path), calls)
        self.dropped += other.dropped

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "dropped": self.dropped,
            "receivers": [
                {
                    "signal": self.signal_names.get(key.signal_path, key.signal_path),
                    "signal_path": key.signal_path,
                    "receiver": key.receiver_name,
                    "file": key.file_path,
                    "line": key.line_number,
                    "calls": calls,
                }
                for key, calls in sorted(self.calls.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CoverageData:
        if data.get("format") != FORMAT:
            raise ValueError(f"Unknown receiver coverage format {data.get('format')!r}.")
        loaded = cls()
        loaded.dropped = int(data["dropped"])
        for row in data["receivers"]:
            key = ReceiverKey(row["signal_path"], row["receiver"], row["file"], row["line"])
            loaded.note(key, row["signal"], int(row["calls"]))
        return loaded


def _short_name(signal_path: str) -> str:
    # Used only for signals that were never seen connected: "app.signals.done" -> "done".
    return signal_path.rpartition(".")[2].rpartition(":")[2]


def _note_connected(data: CoverageData) -> None:
    for signal in known_signals().values():
        name = registry.name_of(signal)
        for entry in _dispatch.connection_entries(signal):
            receiver = entry.receiver
            if isinstance(receiver, weakref.ReferenceType):
                receiver = receiver()
                if receiver is None:
                    continue
            identity = receiver_identity(receiver)
            key = ReceiverKey(name.path, identity.name, identity.file_path, identity.line_number)
            data.note(key, name.name)


class ReceiverCoverage:
    """Counts receiver calls from :meth:`start` to :meth:`stop` (one at a time per process).

    While it runs, every firing that has receivers takes the tracer's traced path (as under
    ``capture_signals()``), and each receiver call adds one to a per-receiver count.
    """

    def __init__(self) -> None:
        self._counts: ReceiverCallCounts | None = None
        self._data = CoverageData()

    @property
    def active(self) -> bool:
        return self._counts is not None

    def start(self) -> None:
        if self._counts is not None:
            raise RuntimeError("This receiver coverage is already running.")
        instrumentation.acquire_capture()
        try:
            self._counts = call_counts.start()
        except BaseException:
            instrumentation.release_capture()
            raise
        _note_connected(self._data)

    def collect(self) -> CoverageData:
        """Return everything seen since :meth:`start`, and go on counting."""
        counts = self._counts
        if counts is None:
            raise RuntimeError("This receiver coverage is not running.")
        _note_connected(self._data)
        data = CoverageData()
        data.merge(self._data)
        with counts.lock:
            calls = list(counts.calls.items())
            dropped = counts.dropped
        for (signal_path, identity), count in calls:
            key = ReceiverKey(signal_path, identity.name, identity.file_path, identity.line_number)
            data.note(key, _short_name(signal_path), count)
        data.dropped += dropped
        return data

    def stop(self) -> CoverageData:
        """Stop counting; return everything seen since :meth:`start`."""
        if self._counts is None:
            raise RuntimeError("This receiver coverage is not running.")
        try:
            return self.collect()
        finally:
            call_counts.stop()
            instrumentation.release_capture()
            self._counts = None
