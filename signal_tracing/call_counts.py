"""Receiver calls counted over a whole test run, for receiver coverage: one number per receiver.

Nothing is counted unless a coverage run set :data:`active` (``--signal-coverage``, or the
Django test runner's mixin). While it is set, the tracer routes every firing through its
traced path and, each time it calls a receiver, adds one to that receiver's count for the
signal: memory grows with the number of distinct receivers in the code, never with the number
of firings, and no record of a firing is kept.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from signal_tracing.naming import ReceiverIdentity

#: Distinct (signal, receiver) pairs kept; calls of pairs beyond it are counted in ``dropped``.
#: Receivers made on the fly (a closure per request) share a code location, hence an identity.
MAX_RECEIVERS: Final = 10_000


class ReceiverCallCounts:
    """How many times each receiver was called for each signal, keyed by dotted signal path."""

    __slots__ = ("calls", "dropped", "lock")

    def __init__(self) -> None:
        self.calls: dict[tuple[str, ReceiverIdentity], int] = {}
        #: Calls not counted because :data:`MAX_RECEIVERS` pairs were already known.
        self.dropped = 0
        # Receivers run in several threads (a live server, a thread pool): an increment must
        # not be lost between reading and writing the count.
        self.lock = threading.Lock()

    def add(self, signal_path: str, receiver: ReceiverIdentity) -> None:
        """Count one call of ``receiver`` for the signal at ``signal_path``."""
        key = (signal_path, receiver)
        with self.lock:
            count = self.calls.get(key)
            if count is not None:
                self.calls[key] = count + 1
            elif len(self.calls) < MAX_RECEIVERS:
                self.calls[key] = 1
            else:
                self.dropped += 1


#: The counts being taken, or ``None`` (the normal state: nothing is counted).
active: ReceiverCallCounts | None = None


def start() -> ReceiverCallCounts:
    """Start counting receiver calls; return the counts, which fill as receivers run.

    The firings must also reach the tracer's traced path: callers hold a capture
    (``instrumentation.acquire_capture()``) for as long as they count.
    """
    global active
    if active is not None:
        raise RuntimeError("Receiver calls are already being counted.")
    active = ReceiverCallCounts()
    return active


def stop() -> None:
    """Stop counting; the counts returned by :func:`start` stay as they are."""
    global active
    active = None
