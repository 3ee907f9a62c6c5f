"""A recorded firing as a test sees it: the live signal, sender and kwargs, and who ran."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from signal_tracing.naming import resolve_receiver_name
from signal_tracing.origins import SendSite
from signal_tracing.records import DispatchRecord, Outcome, ReceiverCall


class Firing:
    """One ``send()``, ``send_robust()``, ``asend()`` or ``asend_robust()`` call.

    ``signal``, ``sender`` and ``kwargs`` are the objects that were sent, not copies: a model
    instance shows its state now, not at the time it was sent. ``record`` is the underlying
    :class:`~signal_tracing.records.DispatchRecord`.
    """

    __slots__ = ("_index", "record")

    def __init__(self, record: DispatchRecord, index: FiringIndex) -> None:
        if record.objects is None:
            raise ValueError("This record was made without keep_objects=True.")
        self.record = record
        self._index = index

    @property
    def signal(self) -> Signal:
        return self.record.objects.signal  # type: ignore[union-attr, no-any-return]

    @property
    def sender(self) -> Any:
        return self.record.objects.sender  # type: ignore[union-attr]

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.record.objects.kwargs  # type: ignore[union-attr]

    @property
    def signal_name(self) -> str:
        return self.record.signal_name

    @property
    def signal_path(self) -> str:
        return self.record.signal_path

    @property
    def sender_label(self) -> str:
        return self.record.sender_label

    @property
    def method(self) -> str:
        return self.record.method

    @property
    def outcome(self) -> Outcome:
        return self.record.outcome

    @property
    def depth(self) -> int:
        """How many firings enclose this one (0 for a firing sent outside any receiver)."""
        return self.record.depth

    @property
    def reentrant(self) -> bool:
        """Whether the same signal and sender were already being sent when this one started."""
        return self.record.reentrant

    @property
    def send_site(self) -> SendSite | None:
        """Where it was sent from: the first line of the app's on the way to ``send()``
        (``site.location`` is ``"sms/views.py:42"``); ``None`` when no frame qualifies."""
        return self.record.send_site

    @property
    def in_atomic_block(self) -> bool | None:
        """Model signals: whether it ran inside ``transaction.atomic()`` on its ``using``
        database; ``None`` for other signals."""
        return self.record.in_atomic_block

    @property
    def calls(self) -> list[ReceiverCall]:
        """Every receiver, in Django's calling order, including those that did not run."""
        return list(self.record.calls)

    @property
    def receivers(self) -> list[str]:
        """Dotted names of the receivers that ran, in Django's calling order."""
        return [
            call.receiver_name for call in self.record.calls if call.outcome is not Outcome.NOT_RUN
        ]

    def call(self, receiver: Callable[..., Any] | str) -> ReceiverCall:
        """Return ``receiver``'s call in this firing (raise ``LookupError`` if it had none)."""
        name = resolve_receiver_name(receiver)
        for call in self.record.calls:
            if call.receiver_name == name:
                return call
        raise LookupError(
            f"{name} was not called for {self.signal_name} "
            f"(receivers: {', '.join(self.receivers) or 'none'})."
        )

    @property
    def parent(self) -> Firing | None:
        """The firing during whose receivers this one was sent, if it was captured too."""
        call = self.record.parent_call
        if call is not None:
            return self._index.by_record.get(id(call.dispatch))
        # Sent from async receivers that Django ran in one shared context: no call owns it.
        for firing in self._index.by_record.values():
            if any(child is self.record for child in firing.record.children):
                return firing
        return None

    @property
    def children(self) -> list[Firing]:
        """Captured firings sent while this one's receivers ran, in start order."""
        index = self._index
        nested = [child for call in self.record.calls for child in index.by_call.get(id(call), ())]
        nested += [
            index.by_record[id(record)]
            for record in self.record.children
            if id(record) in index.by_record
        ]
        nested.sort(key=lambda firing: firing.record.start_ns)
        return nested

    def __repr__(self) -> str:
        return f"<Firing {self.signal_name} {self.method} sender={self.sender_label}>"


class FiringIndex:
    """The firings of one capture, found by record and by the receiver call that sent them."""

    def __init__(self) -> None:
        self.by_record: dict[int, Firing] = {}
        self.by_call: dict[int, list[Firing]] = {}
        self.in_order: list[Firing] = []

    def add(self, record: DispatchRecord) -> Firing:
        firing = Firing(record, self)
        self.by_record[id(record)] = firing
        self.in_order.append(firing)
        call = record.parent_call
        if call is not None:
            self.by_call.setdefault(id(call), []).append(firing)
        return firing

    def clear(self) -> None:
        self.by_record.clear()
        self.by_call.clear()
        self.in_order.clear()
