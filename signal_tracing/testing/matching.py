"""What a test asks for: a signal, a sender, a receiver and keyword arguments, as a filter.

Strings are resolved when the filter is built (by :mod:`signal_tracing.naming`), so a typo
(``"post_sav"``) is an immediate ``ValueError`` suggesting ``"post_save"``, instead of an
``assert_not_sent`` that can never fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from django.dispatch import Signal

from signal_tracing.naming import (
    UNNAMED_SIGNAL,
    registry,
    resolve_receiver_name,
    resolve_signal,
    sender_label,
)
from signal_tracing.testing.values import MAX_COMPARED_LENGTH, safe_repr

if TYPE_CHECKING:
    from signal_tracing.testing.firing import Firing


class _Any:
    """Matches any sender, including ``None`` (a valid sender)."""

    def __repr__(self) -> str:
        return "ANY_SENDER"


ANY_SENDER: Final = _Any()

#: A signal given as the object, its dotted path or its short name.
SignalLike: TypeAlias = Signal | str


def signal_label(signal: SignalLike) -> str:
    if isinstance(signal, str):
        return signal
    name, path = registry.name_of(signal)
    return path if name == UNNAMED_SIGNAL else name


class Sent:
    """A description of firings: ``Sent(post_save, sender=SmsCode, created=True)``.

    ``signal`` is a Signal, its dotted path, or its short name if no other loaded signal has
    it (``None``: any signal); a name that does not resolve is a ``ValueError`` at once.
    ``sender`` is the sender object, or a string compared with the sender's label (a model
    label such as ``"sms.SmsCode"``) and with string senders. ``receiver`` (a callable or its
    dotted path) keeps firings in which that receiver ran. Keyword filters compare the sent
    keyword arguments with ``==``, expected value first, so ``unittest.mock.ANY`` works; use
    ``kwargs={...}`` for argument names that clash with these parameters.
    """

    __slots__ = ("kwargs", "receiver_name", "sender", "signal", "signal_object")

    def __init__(
        self,
        signal: SignalLike | None = None,
        *,
        sender: Any = ANY_SENDER,
        receiver: Callable[..., Any] | str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **kwarg_filters: Any,
    ) -> None:
        __tracebackhide__ = True
        #: As the test gave it (for messages), and the object it names.
        self.signal = signal
        self.signal_object = None if signal is None else resolve_signal(signal)
        self.sender = sender
        self.receiver_name = None if receiver is None else resolve_receiver_name(receiver)
        self.kwargs: dict[str, Any] = {**(kwargs or {}), **kwarg_filters}

    def matches(self, firing: Firing) -> bool:
        if self.signal_object is not None and firing.signal is not self.signal_object:
            return False
        if self.sender is not ANY_SENDER and not self._sender_matches(firing):
            return False
        if self.receiver_name is not None and self.receiver_name not in firing.receivers:
            return False
        sent = firing.kwargs
        return all(key in sent and expected == sent[key] for key, expected in self.kwargs.items())

    def _sender_matches(self, firing: Firing) -> bool:
        expected = self.sender
        actual = firing.sender
        if isinstance(expected, str):
            return firing.sender_label == expected or (type(actual) is str and actual == expected)
        if actual is expected:
            return True
        return not isinstance(expected, type) and bool(expected == actual)

    def describe(self) -> str:
        """Return e.g. ``post_save with sender=sms.SmsCode, created=True``."""
        subject = "a signal" if self.signal is None else signal_label(self.signal)
        conditions = []
        if self.sender is not ANY_SENDER:
            label = repr(self.sender) if isinstance(self.sender, str) else sender_label(self.sender)
            conditions.append(f"sender={label}")
        conditions += [
            f"{key}={safe_repr(value, MAX_COMPARED_LENGTH)}" for key, value in self.kwargs.items()
        ]
        text = subject + (" with " + ", ".join(conditions) if conditions else "")
        if self.receiver_name is not None:
            text += (", " if conditions else " ") + f"received by {self.receiver_name}"
        return text

    def __repr__(self) -> str:
        return f"Sent({self.describe()})"


def as_filter(expected: Sent | SignalLike) -> Sent:
    return expected if isinstance(expected, Sent) else Sent(expected)
