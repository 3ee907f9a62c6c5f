"""What is connected to a signal right now: one record per live receiver, read without calling it.

Django's private dispatcher layout is read by ``_dispatch.connection_entries``; this module
turns its entries into names, file:line, weak/strong, dispatch_uid and sender filters.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.dispatch import Signal

from signal_tracing._dispatch import NO_SENDER_KEY, ConnectionEntry, connection_entries, lookup_key
from signal_tracing.naming import loaded_modules, receiver_identity, sender_label


@dataclass(frozen=True)
class ConnectedReceiver:
    """A receiver as ``Signal.connect()`` stored it."""

    name: str
    file_path: str | None
    line_number: int | None
    is_async: bool
    weak: bool
    dispatch_uid: str | None
    #: ``None`` when the receiver hears every sender.
    sender: str | None


def _senders_by_key() -> dict[Any, Any]:
    # Django 5.2 keeps only id(sender). Model classes and app configs (pre/post_migrate) are
    # the usual filters; any other object is looked for among module-level names. Only
    # identities are compared, so no lazy object is evaluated.
    found: dict[Any, Any] = {}
    for model in apps.get_models(include_auto_created=True, include_swapped=True):
        found[lookup_key(model)] = model
    for app_config in apps.get_app_configs():
        found[lookup_key(app_config)] = app_config
    for _module_name, _module, namespace in loaded_modules():
        for _attribute, value in namespace:
            found.setdefault(id(value), value)
    return found


class SenderLabels:
    """Labels the senders of connection entries; Django 5.2's ids are resolved once, lazily."""

    def __init__(self) -> None:
        self._known: dict[Any, Any] | None = None

    def label(self, entry: ConnectionEntry) -> str | None:
        sender_key = entry.lookup_key[1]
        if sender_key == NO_SENDER_KEY:
            return None
        if entry.sender is not None:
            return sender_label(entry.sender)
        if self._known is None:
            self._known = _senders_by_key()
        if sender_key in self._known:
            return sender_label(self._known[sender_key])
        return f"<unresolved sender {sender_key!r}>"


def _live(entry: ConnectionEntry) -> tuple[Any, bool] | None:
    if isinstance(entry.receiver, weakref.ReferenceType):
        target = entry.receiver()
        return None if target is None else (target, True)
    return entry.receiver, False


def describe(entry: ConnectionEntry, senders: SenderLabels) -> ConnectedReceiver | None:
    """Return what ``entry`` connects, or ``None`` if its weakly referenced receiver died."""
    live = _live(entry)
    if live is None:
        return None
    receiver, weak = live
    receiver_key = entry.lookup_key[0]
    # connect() keys a receiver by its dispatch_uid when given, else by its identity.
    dispatch_uid = None if receiver_key == lookup_key(receiver) else str(receiver_key)
    identity = receiver_identity(receiver)
    return ConnectedReceiver(
        name=identity.name,
        file_path=identity.file_path,
        line_number=identity.line_number,
        is_async=entry.is_async,
        weak=weak,
        dispatch_uid=dispatch_uid,
        sender=senders.label(entry),
    )


def connected_receivers(signal: Signal) -> Iterator[ConnectedReceiver]:
    """Yield the signal's live receivers in connection order (dead weak ones are skipped)."""
    senders = SenderLabels()
    for entry in connection_entries(signal):
        connected = describe(entry, senders)
        if connected is not None:
            yield connected
