"""Fail a test that leaves receivers connected: the check behind ``signal_no_leaks``.

The pytest marker and :class:`SignalAssertionsMixin` both start a :class:`LeakCheck` before the
test and ask it for a failure message after; what counts as a leak is
:mod:`signal_tracing.leaks`'s business.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Final

from signal_tracing import leaks
from signal_tracing.leaks import LeakedReceiver

ADVICE: Final = """\
A receiver left connected runs in every later test and keeps alive whatever it references.
Disconnect it before the test ends, with the sender= and dispatch_uid= it was connected with:
signal.disconnect(receiver, ...) from a fixture that connects, yields, then disconnects, or
self.addCleanup(signal.disconnect, receiver, ...). A receiver meant to stay connected for the
whole run belongs in AppConfig.ready() or a session-scoped fixture."""


def _location(leak: LeakedReceiver) -> str:
    receiver = leak.receiver
    if receiver.file_path is None:
        return ""
    path = receiver.file_path
    relative = os.path.relpath(path)
    if not relative.startswith(os.pardir + os.sep):
        path = relative
    return f" ({path}:{receiver.line_number})"


def describe_leak(leak: LeakedReceiver) -> str:
    """One line: signal, receiver, file:line, how it is held, and what it listens to."""
    receiver = leak.receiver
    facts = ["weak, but still referenced elsewhere" if receiver.weak else "strong (weak=False)"]
    if receiver.is_async:
        facts.append("async")
    if receiver.sender is not None:
        facts.append(f"sender={receiver.sender}")
    if receiver.dispatch_uid is not None:
        facts.append(f"dispatch_uid={receiver.dispatch_uid!r}")
        if leak.replaced:
            facts.append("replacing the receiver connected under it before the test")
    return f"  {leak.signal_name} <- {receiver.name}{_location(leak)}: {', '.join(facts)}"


def failure_message(test: str, found: list[LeakedReceiver], ignore_hint: str) -> str:
    count = len(found)
    head = f"{test} left {count} receiver{'s' if count != 1 else ''} connected:"
    lines = [head, *(describe_leak(leak) for leak in found), ADVICE, ignore_hint]
    return "\n".join(lines)


class LeakCheck:
    """Snapshot the connections now; :meth:`failure` tells what the test left connected."""

    def __init__(self, ignore: Iterable[str] = ()) -> None:
        self.ignore = tuple(ignore)
        self.before = leaks.take_snapshot()

    def failure(self, test: str, ignore_hint: str) -> str | None:
        """Return the failure message, or ``None`` when nothing leaked."""
        found = leaks.find_leaks(self.before, ignore=self.ignore)
        if not found:
            return None
        return failure_message(test, found, ignore_hint)
