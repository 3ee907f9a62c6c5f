"""What a test asks for: a signal, a sender, a receiver and keyword arguments, as a filter.

Strings are resolved when the filter is built, so a typo (``"post_sav"``) is an immediate
``ValueError`` instead of an ``assert_not_sent`` that can never fail.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from django.dispatch import Signal

from signal_tracing.naming import receiver_identity, registry, sender_label
from signal_tracing.testing.values import safe_repr

if TYPE_CHECKING:
    from signal_tracing.testing.firing import Firing


class _Any:
    """Matches any sender, including ``None`` (a valid sender)."""

    def __repr__(self) -> str:
        return "ANY_SENDER"


ANY_SENDER: Final = _Any()

#: A signal given as the object, its dotted path or its short name.
SignalLike: TypeAlias = Signal | str


def _resolve_object(dotted_path: str) -> Any:
    """Return the object at ``dotted_path`` in an already imported module, or ``None``.

    Nothing is imported: importing a module can connect receivers and change what a test sees.
    """
    parts = dotted_path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            continue
        value: Any = module
        for attribute in parts[split:]:
            value = getattr(value, attribute, None)
            if value is None:
                return None
        return value
    return None


def resolve_signals(signal: SignalLike) -> tuple[Signal, ...]:
    """Return the signal objects that ``signal`` names (several when a short name is shared)."""
    __tracebackhide__ = True  # pytest: a usage error points at the test's line
    if isinstance(signal, Signal):
        return (signal,)
    if not isinstance(signal, str):
        raise TypeError(
            f"Expected a Signal, its dotted path or its short name, not {type(signal).__name__}."
        )
    known = registry.known_signals()
    if "." in signal:
        found = tuple(obj for name, obj in known if name.path == signal)
        if not found:
            obj = _resolve_object(signal)
            found = (obj,) if isinstance(obj, Signal) else ()
    else:
        found = tuple(obj for name, obj in known if name.name == signal)
    if not found:
        raise ValueError(
            f"No loaded signal is called {signal!r}. Pass the signal object, its dotted path "
            "(such as 'django.db.models.signals.post_save') or the short name of a signal "
            "defined at module level (such as 'post_save')."
        )
    return found


def resolve_receiver_name(receiver: Callable[..., Any] | str) -> str:
    """Return the dotted name our records use for ``receiver``."""
    __tracebackhide__ = True
    if isinstance(receiver, str):
        obj = _resolve_object(receiver)
        if obj is None or not callable(obj):
            raise ValueError(
                f"{receiver!r} is not a callable in an imported module. Pass the receiver "
                "itself, or its dotted path such as 'sms.receivers.send_sms_code'."
            )
        return receiver_identity(obj).name
    if not callable(receiver):
        raise TypeError(f"Expected a receiver or its dotted path, not {type(receiver).__name__}.")
    return receiver_identity(receiver).name


def signal_label(signal: SignalLike) -> str:
    if isinstance(signal, str):
        return signal
    name, path = registry.name_of(signal)
    return path if name == "unnamed_signal" else name


class Sent:
    """A description of firings: ``Sent(post_save, sender=SmsCode, created=True)``.

    ``signal`` is a Signal, its dotted path or its short name (``None``: any signal).
    ``sender`` is the sender object, or a string compared with the sender's label (a model
    label such as ``"sms.SmsCode"``) and with string senders. ``receiver`` (a callable or its
    dotted path) keeps firings in which that receiver ran. Keyword filters compare the sent
    keyword arguments with ``==``, expected value first, so ``unittest.mock.ANY`` works; use
    ``kwargs={...}`` for argument names that clash with these parameters.
    """

    __slots__ = ("kwargs", "receiver_name", "sender", "signal", "signals")

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
        self.signal = signal
        self.signals = None if signal is None else resolve_signals(signal)
        self.sender = sender
        self.receiver_name = None if receiver is None else resolve_receiver_name(receiver)
        self.kwargs: dict[str, Any] = {**(kwargs or {}), **kwarg_filters}

    def matches(self, firing: Firing) -> bool:
        if self.signals is not None and not any(firing.signal is s for s in self.signals):
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
        conditions += [f"{key}={safe_repr(value)}" for key, value in self.kwargs.items()]
        text = subject + (" with " + ", ".join(conditions) if conditions else "")
        if self.receiver_name is not None:
            text += (", " if conditions else " ") + f"received by {self.receiver_name}"
        return text

    def __repr__(self) -> str:
        return f"Sent({self.describe()})"


def as_filter(expected: Sent | SignalLike) -> Sent:
    return expected if isinstance(expected, Sent) else Sent(expected)
