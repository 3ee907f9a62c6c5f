"""What is connected to a signal right now: one record per live receiver, read without calling it.

Reading ``Signal.receivers`` is the one place outside ``_dispatch.py`` that depends on Django's
private dispatcher layout; :func:`_entries` holds every version-specific detail.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.dispatch import Signal

from signal_tracing.naming import receiver_identity, sender_label


def _make_id(target: Any) -> Any:
    # The key Django's connect() stores for a receiver or sender (dispatcher._make_id, the
    # same in Django 5.2 and 6.x): bound methods by (instance, function), the rest by id().
    if hasattr(target, "__func__"):
        return (id(target.__self__), id(target.__func__))
    return id(target)


_NO_SENDER_KEY = _make_id(None)


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


@dataclass(frozen=True)
class _Entry:
    lookup_key: tuple[Any, Any]
    receiver: Any  # the receiver, or a weak reference to it
    sender: Any  # the sender object when Django kept a weak reference to it, else None
    is_async: bool


def _entries(signal: Signal) -> list[_Entry]:
    """Copy ``signal.receivers`` into one layout, under the signal's own lock.

    Django 5.2 stores ``(lookup_key, receiver_or_ref, is_async)``; Django 6.0 added a weak
    reference to the sender: ``(lookup_key, receiver_or_ref, sender_ref, is_async)``.
    Delete the 3-tuple branch when Django 5.2 support ends (April 2028).
    """
    with signal.lock:
        stored = list(signal.receivers)
    entries = []
    for item in stored:
        if len(item) == 4:
            lookup_key, receiver, sender_ref, is_async = item
            sender = sender_ref() if sender_ref is not None else None
            if sender_ref is not None and sender is None:
                continue  # the sender was collected: Django drops this entry on next connect
        else:  # Django 5.2
            lookup_key, receiver, is_async = item
            sender = None
        entries.append(_Entry(lookup_key, receiver, sender, bool(is_async)))
    return entries


def _senders_by_key() -> dict[Any, Any]:
    # Django 5.2 keeps only id(sender). Model classes and app configs (pre/post_migrate) are
    # the usual filters; any other object is looked for among module-level names. Only
    # identities are compared, so no lazy object is evaluated.
    found: dict[Any, Any] = {}
    for model in apps.get_models(include_auto_created=True, include_swapped=True):
        found[_make_id(model)] = model
    for app_config in apps.get_app_configs():
        found[_make_id(app_config)] = app_config
    for module in list(sys.modules.values()):
        try:
            namespace = vars(module)
        except TypeError:
            continue
        for value in list(namespace.values()):
            found.setdefault(id(value), value)
    return found


class _SenderLabels:
    def __init__(self) -> None:
        self._known: dict[Any, Any] | None = None

    def label(self, entry: _Entry) -> str | None:
        sender_key = entry.lookup_key[1]
        if sender_key == _NO_SENDER_KEY:
            return None
        if entry.sender is not None:
            return sender_label(entry.sender)
        if self._known is None:
            self._known = _senders_by_key()
        if sender_key in self._known:
            return sender_label(self._known[sender_key])
        return f"<unresolved sender {sender_key!r}>"


def _live(entry: _Entry) -> tuple[Any, bool] | None:
    if isinstance(entry.receiver, weakref.ReferenceType):
        target = entry.receiver()
        return None if target is None else (target, True)
    return entry.receiver, False


def connected_receivers(signal: Signal) -> Iterator[ConnectedReceiver]:
    """Yield the signal's live receivers in connection order (dead weak ones are skipped)."""
    senders = _SenderLabels()
    for entry in _entries(signal):
        live = _live(entry)
        if live is None:
            continue
        receiver, weak = live
        receiver_key = entry.lookup_key[0]
        # connect() keys a receiver by its dispatch_uid when given, else by its identity.
        dispatch_uid = None if receiver_key == _make_id(receiver) else str(receiver_key)
        identity = receiver_identity(receiver)
        yield ConnectedReceiver(
            name=identity.name,
            file_path=identity.file_path,
            line_number=identity.line_number,
            is_async=entry.is_async,
            weak=weak,
            dispatch_uid=dispatch_uid,
            sender=senders.label(entry),
        )
