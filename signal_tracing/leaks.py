"""Receiver leaks: receivers connected during a request or a test and still connected after it.

A receiver connected inside a view (a closure, a bound method of a per-request object, or any
receiver connected with ``weak=False``) stays connected after the response, and keeps alive
whatever it references: the classic slow memory leak of connecting in a view. In a test, the
same receiver keeps running in every later test.

Take a snapshot before, and ask what leaked after::

    from signal_tracing import leaks

    before = leaks.take_snapshot()
    ...  # the request, the test
    for leak in leaks.find_leaks(before):
        print(leak.signal_name, leak.receiver.name, leak.receiver.file_path, leak.receiver.weak)

Observing changes nothing: ``Signal.receivers`` is copied under each signal's own lock, no
receiver is wrapped, called or re-connected, and a snapshot keeps no reference to a receiver
or a sender (signals are held weakly). Nothing runs unless these functions are called.

What counts as a leak, and what does not:

- A weakly connected receiver that died before :func:`find_leaks` is not a leak. One still
  alive only through a reference cycle is not either: if a new weak receiver is found, the
  garbage collector runs once and the question is asked again.
- Connecting a receiver that is already connected (same receiver, or same ``dispatch_uid``)
  changes nothing in Django, and is not a leak; nor is disconnecting and re-connecting it
  (Django's test client does that with ``close_old_connections``). A different receiver
  connected under a ``dispatch_uid`` that was in use before is.
- Receivers whose code is Django's or signal_tracing's own are never reported: Django
  connects some while it works (storages on ``setting_changed``, ``ImageField`` on
  ``post_init``, the test client on ``template_rendered``), and they are not the caller's.
- Receivers defined in a module first imported in between are not reported: connecting at
  import time (``@receiver`` at module level) happens once per process, not once per request.
- Signals are those of loaded modules (``naming.registry``) and every ``Signal`` object alive
  when the first snapshot was taken (class attributes included); a signal created in between
  and still alive is examined when it is a module attribute.

Concurrent requests share the process: a snapshot sees what every thread connected.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from types import FunctionType, MethodType
from typing import Any, Final

from django.dispatch import Signal

from signal_tracing._dispatch import ConnectionEntry, connection_entries
from signal_tracing.attributes import matches_any
from signal_tracing.management.connections import ConnectedReceiver, SenderLabels, describe
from signal_tracing.naming import registry

#: Modules whose receivers are never the caller's leaks (first component of the module name).
NOT_REPORTED_PACKAGES: Final = frozenset({"django", "signal_tracing"})

#: One connection: Django's lookup key (receiver key, sender key), and the receiver's identity
#: (which tells a different receiver connected under the same ``dispatch_uid``).
Connection = tuple[Any, Any]


@dataclass(frozen=True)
class LeakedReceiver:
    """A receiver connected since the snapshot and still connected."""

    signal_name: str
    signal_path: str
    receiver: ConnectedReceiver
    #: Another receiver was connected under the same ``dispatch_uid`` at the snapshot.
    replaced: bool = False


class ConnectionSnapshot:
    """The receivers connected to every known signal at one moment (ids only)."""

    __slots__ = ("modules", "signals")

    def __init__(
        self,
        signals: dict[int, tuple[weakref.ref[Signal], frozenset[Connection]]],
        modules: frozenset[str],
    ) -> None:
        #: id(signal) -> (weak reference to the signal, its connections).
        self.signals = signals
        #: The names of the modules imported at the time.
        self.modules = modules

    def connections_of(self, signal: Signal) -> frozenset[Connection]:
        known = self.signals.get(id(signal))
        if known is None or known[0]() is not signal:
            return frozenset()
        return known[1]

    def adopt(self, since: ConnectionSnapshot) -> None:
        """Count what was connected after ``since`` as already connected at this snapshot.

        For connections that belong to something longer-lived than what this snapshot
        watches: a session fixture set up in the middle of a test, say.
        """
        now = take_snapshot()
        for signal_id, (reference, connections) in now.signals.items():
            signal = reference()
            if signal is None:
                continue
            added = connections - since.connections_of(signal)
            if added:
                self.signals[signal_id] = (reference, self.connections_of(signal) | added)
        self.modules = self.modules | (now.modules - since.modules)


def _receiver_identity(entry: ConnectionEntry) -> Any:
    """Return an id-based identity of the live receiver, or None if it died.

    Computed from types and ids only: nothing of the receiver's runs (no ``hasattr``).
    """
    receiver = entry.receiver
    if isinstance(receiver, weakref.ReferenceType):
        receiver = receiver()
        if receiver is None:
            return None
    if type(receiver) is MethodType:  # a weakly held bound method is a new object each time
        return (id(receiver.__self__), id(receiver.__func__))
    return id(receiver)


def _connections(signal: Signal) -> frozenset[Connection]:
    found = set()
    for entry in connection_entries(signal):
        identity = _receiver_identity(entry)
        if identity is not None:
            found.add((entry.lookup_key, identity))
    return frozenset(found)


_discovered: weakref.WeakSet[Signal] = weakref.WeakSet()
_discovery_lock: Final = threading.Lock()
_discovery_done = False


def _discover_signals() -> None:
    # Once per process: finding signals that are not module attributes (class attributes,
    # signals kept by an object) means walking every object the garbage collector tracks.
    global _discovery_done
    with _discovery_lock:
        if _discovery_done:
            return
        for candidate in gc.get_objects():
            if issubclass(type(candidate), Signal):  # type(), never isinstance(): lazy objects
                _discovered.add(candidate)
        _discovery_done = True


#: The module-level signals found for a set of loaded modules (most snapshots see the same).
_module_signals: tuple[frozenset[str], tuple[weakref.ref[Signal], ...]] = (frozenset(), ())


def _signals_of_modules(modules: frozenset[str]) -> list[Signal]:
    global _module_signals
    loaded_then, references = _module_signals
    if modules != loaded_then:
        # Only a newly imported module can hold a new module-level signal: scanning every
        # loaded module is what a snapshot would otherwise spend most of its time on.
        found = [signal for _name, signal in registry.known_signals()]
        _module_signals = (modules, tuple(weakref.ref(signal) for signal in found))
        return found
    return [signal for signal in (reference() for reference in references) if signal is not None]


def known_signals(*snapshots: ConnectionSnapshot) -> dict[int, Signal]:
    """Return the signals watched for leaks (and those in ``snapshots``), by id."""
    _discover_signals()
    modules = frozenset(sys.modules)
    signals = {id(signal): signal for signal in _signals_of_modules(modules)}
    for signal in list(_discovered):
        signals.setdefault(id(signal), signal)
    for snapshot in snapshots:
        for reference, _connections in snapshot.signals.values():
            held = reference()
            if held is not None:
                signals.setdefault(id(held), held)
    return signals


def take_snapshot() -> ConnectionSnapshot:
    """Return the receivers connected to every known signal right now.

    The first call in a process also walks the garbage collector's objects once, to find
    signals that are not module attributes.
    """
    signals = {
        signal_id: (weakref.ref(signal), _connections(signal))
        for signal_id, signal in known_signals().items()
    }
    return ConnectionSnapshot(signals, frozenset(sys.modules))


def _defining_module(receiver: Any) -> str | None:
    # Read from types and code-carrying objects only, as naming.receiver_identity does.
    receiver_type = type(receiver)
    while issubclass(receiver_type, functools.partial):
        receiver = receiver.func
        receiver_type = type(receiver)
    if receiver_type is MethodType:
        receiver = receiver.__func__
        receiver_type = type(receiver)
    module = receiver.__module__ if receiver_type is FunctionType else receiver_type.__module__
    return module if isinstance(module, str) else None


def _new_connections(
    before: ConnectionSnapshot, signals: dict[int, Signal]
) -> list[tuple[Signal, ConnectionEntry, bool]]:
    found = []
    for signal in signals.values():
        old = before.connections_of(signal)
        old_keys = {key for key, _identity in old}
        for entry in connection_entries(signal):
            identity = _receiver_identity(entry)
            if identity is None or (entry.lookup_key, identity) in old:
                continue
            receiver = entry.receiver
            if isinstance(receiver, weakref.ReferenceType):
                receiver = receiver()
            module = _defining_module(receiver)
            if module is not None:
                if module not in before.modules:
                    continue  # connected while its module was imported: once per process
                if module.partition(".")[0] in NOT_REPORTED_PACKAGES:
                    continue
            found.append((signal, entry, entry.lookup_key in old_keys))
    return found


def find_leaks(before: ConnectionSnapshot, *, ignore: Iterable[str] = ()) -> list[LeakedReceiver]:
    """Return the receivers connected since ``before`` and still connected, oldest first.

    ``ignore`` holds fnmatch-style patterns of receiver names (``"myapp.receivers.*"``) that
    are never reported. See the module's docstring for what else is not reported.
    """
    patterns = tuple(ignore)
    signals = known_signals(before)
    found = _new_connections(before, signals)
    if any(isinstance(entry.receiver, weakref.ReferenceType) for _s, entry, _r in found):
        # A weak receiver that only a reference cycle keeps alive would die at the next
        # collection: it is not a leak. Collect once, only when it can change the answer.
        del found
        gc.collect()
        found = _new_connections(before, signals)
    senders = SenderLabels()
    leaks = []
    for signal, entry, replaced in found:
        connected = describe(entry, senders)
        if connected is None or matches_any(connected.name, patterns):
            continue
        name = registry.name_of(signal)
        leaks.append(LeakedReceiver(name.name, name.path, connected, replaced))
    return leaks
