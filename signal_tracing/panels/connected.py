"""The "Connected receivers" section: every live receiver of every known signal, the way the
toolbar's own Signals panel lists them, and whether each one ran in this request.

Connections are read as ``manage.py signal_map`` reads them
(:func:`~signal_tracing.management.connections.connected_receivers`: name, file:line, weak or
strong, ``dispatch_uid`` and sender filter, without calling anything), once per request, when
its stats are made. Signals are those of loaded modules (``naming.registry``), plus the
toolbar's ``EXTRA_SIGNALS``.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypedDict

from django.dispatch import Signal
from django.utils.module_loading import import_string

from signal_tracing._dispatch import connection_entries
from signal_tracing.attributes import matches_any
from signal_tracing.conf import Config
from signal_tracing.management.connections import ConnectedReceiver, connected_receivers
from signal_tracing.naming import ReceiverIdentity, receiver_identity, registry
from signal_tracing.panels.leak_watch import LeakRow, ReceiverRow
from signal_tracing.panels.summary import CountTotal, LeftOut
from signal_tracing.panels.timeline import code_location
from signal_tracing.records import DispatchRecord, Outcome, Policy

#: How the tracer treats a receiver's firings: recorded one by one, counted (count policy),
#: left alone by EXCLUDE_RECEIVERS / EXCLUDE_SENDERS, not traced at all (the "off" policy), or
#: traced but always outside the panel's recording.
Tracing = Literal["traced", "counted", "excluded", "off", "outside"]

#: Sent before the toolbar enables its panels and after it has made their stats: these are
#: in the request's trace, never in the panel's recording.
OUTSIDE_THE_PANEL = frozenset(
    {"django.core.signals.request_started", "django.core.signals.request_finished"}
)


class ConnectedRow(ReceiverRow):
    """One connected receiver, and what it did in this request."""

    tracing: Tracing
    #: Recorded calls in this request (receivers that never ran are not counted).
    calls: int
    #: Count-policy firings in this request that it heard: it ran once for each.
    counted: int
    #: Firings past the recording limit that it may have heard.
    not_recorded: int
    #: Connected while the request ran (a "left connected" warning is about it).
    leaked: bool


class ConnectedSignal(TypedDict):
    signal: str
    signal_path: str
    receivers: list[ConnectedRow]


class SignalName(TypedDict):
    signal: str
    signal_path: str


class SignalConnections(NamedTuple):
    """A signal and its live receivers, as read from the process (no request in it yet)."""

    name: str
    path: str
    receivers: tuple[ConnectedReceiver, ...]


def _signals(extra_signal_paths: Iterable[str]) -> list[tuple[str, str, Signal]]:
    for dotted_path in extra_signal_paths:
        # The toolbar's Signals panel imports these itself: importing them here lists them
        # (through the registry's module scan) when that panel is gone. A path that doesn't
        # import is left out rather than failing the request.
        try:
            import_string(dotted_path)
        except ImportError:
            continue
    return [(name.name, name.path, signal) for name, signal in registry.known_signals()]


def _live_identity(receiver: Any) -> ReceiverIdentity | None:
    if isinstance(receiver, weakref.ReferenceType):
        receiver = receiver()
        if receiver is None:
            return None
    return receiver_identity(receiver)


def _fingerprint(signals: Sequence[tuple[str, str, Signal]]) -> tuple[Any, ...]:
    # What connected_receivers() reports, minus the sender labels, which are the costly part
    # (on Django 5.2 a sender filter is only an id, resolved by scanning loaded modules).
    return tuple(
        (
            path,
            id(signal),
            tuple(
                (entry.lookup_key, entry.is_async, _live_identity(entry.receiver))
                for entry in connection_entries(signal)
            ),
        )
        for _name, path, signal in signals
    )


_last_read: tuple[tuple[Any, ...], list[SignalConnections]] | None = None


def read_connections(extra_signal_paths: Iterable[str] = ()) -> list[SignalConnections]:
    """Return every known signal with its live receivers, sorted by dotted path.

    The previous answer is reused while nothing was connected or disconnected since.
    """
    global _last_read
    signals = _signals(extra_signal_paths)
    fingerprint = _fingerprint(signals)
    last = _last_read
    if last is not None and last[0] == fingerprint:
        return last[1]
    connections = [
        SignalConnections(name, path, tuple(connected_receivers(signal)))
        for name, path, signal in signals
    ]
    _last_read = (fingerprint, connections)
    return connections


def _tracing(signal_path: str, receiver: ConnectedReceiver, config: Config) -> Tracing:
    policy = config.policy_for_path(signal_path)
    if policy is Policy.OFF:
        return "off"
    if matches_any(receiver.name, config.exclude_receivers) or (
        receiver.sender is not None and matches_any(receiver.sender, config.exclude_senders)
    ):
        return "excluded"
    if signal_path in OUTSIDE_THE_PANEL:
        return "outside"
    return "counted" if policy is Policy.COUNT else "traced"


class _Heard:
    """Firings of this request per signal and sender, and recorded calls per receiver."""

    def __init__(
        self,
        dispatches: Iterable[DispatchRecord],
        counts: Sequence[CountTotal],
        left_out: LeftOut,
    ) -> None:
        # Each tally is keyed by what identifies the receiver or signal, then the sender label.
        self.calls: dict[tuple[Any, ...], int] = {}
        for record in dispatches:
            for call in record.calls:
                if call.outcome is not Outcome.NOT_RUN:
                    receiver = (call.receiver_name, call.file_path or "", call.line_number or 0)
                    called = (record.signal_path, *receiver, record.sender_label)
                    self.calls[called] = self.calls.get(called, 0) + 1
        self.counted: dict[tuple[Any, ...], int] = {}
        for total in counts:
            counted = (total["signal_path"], total["sender"])
            self.counted[counted] = self.counted.get(counted, 0) + total["count"]
        self.left_out: dict[tuple[Any, ...], int] = {}
        for (_name, signal_path, sender), count in left_out.items():
            fired = (signal_path, sender)
            self.left_out[fired] = self.left_out.get(fired, 0) + count

    @staticmethod
    def _matching(
        totals: Mapping[tuple[Any, ...], int], prefix: tuple[Any, ...], sender: str | None
    ) -> int:
        # A receiver with a sender filter heard that sender's firings only.
        return sum(
            count
            for key, count in totals.items()
            if key[:-1] == prefix and (sender is None or key[-1] == sender)
        )

    def row(self, signal_path: str, receiver: ConnectedReceiver, tracing: Tracing) -> ConnectedRow:
        file_path = receiver.file_path or ""
        line = receiver.line_number or 0
        return ConnectedRow(
            receiver=receiver.name,
            location=code_location(receiver.file_path, receiver.line_number),
            file_path=file_path,
            line=line,
            sender=receiver.sender or "",
            weak=receiver.weak,
            is_async=receiver.is_async,
            dispatch_uid=receiver.dispatch_uid or "",
            tracing=tracing,
            calls=self._matching(
                self.calls, (signal_path, receiver.name, file_path, line), receiver.sender
            ),
            counted=self._matching(self.counted, (signal_path,), receiver.sender),
            not_recorded=self._matching(self.left_out, (signal_path,), receiver.sender),
            leaked=False,
        )


def _leak_key(signal_path: str, row: ConnectedRow | LeakRow) -> tuple[object, ...]:
    return (
        signal_path,
        row["receiver"],
        row["file_path"],
        row["line"],
        row["sender"],
        row["weak"],
        row["dispatch_uid"],
    )


def _mark_leaked(signal_path: str, rows: Sequence[ConnectedRow], left: Counter[Any]) -> None:
    # Django appends each new connection, so a request's leaks are the last rows that look
    # like them: earlier rows with the same name (a closure connected by every visit) are
    # earlier requests'.
    for row in reversed(rows):
        key = _leak_key(signal_path, row)
        if left[key] > 0:
            left[key] -= 1
            row["leaked"] = True


def connected_section(
    connections: Sequence[SignalConnections],
    dispatches: Iterable[DispatchRecord],
    counts: Sequence[CountTotal],
    left_out: LeftOut,
    config: Config,
    leaks: Iterable[LeakRow] = (),
) -> tuple[list[ConnectedSignal], list[SignalName]]:
    """Return the signals with receivers (each receiver with its use in this request, and
    whether it is one of ``leaks``), and the names of the known signals that have none."""
    heard = _Heard(dispatches, counts, left_out)
    leaked = Counter(_leak_key(leak["signal_path"], leak) for leak in leaks)
    connected: list[ConnectedSignal] = []
    unconnected: list[SignalName] = []
    for signal in connections:
        if not signal.receivers:
            unconnected.append(SignalName(signal=signal.name, signal_path=signal.path))
            continue
        rows = [
            heard.row(signal.path, receiver, _tracing(signal.path, receiver, config))
            for receiver in signal.receivers
        ]
        if leaked:
            _mark_leaked(signal.path, rows, leaked)
        connected.append(
            ConnectedSignal(signal=signal.name, signal_path=signal.path, receivers=rows)
        )
    return connected, unconnected
