"""Showing sent values in failure messages without side effects.

Only plain data is ``repr()``-ed. A model instance becomes ``<sms.SmsCode pk=1>`` (its
``__str__`` may query the database), a class its label, anything else its type: a QuerySet's
``repr()`` would run the query, and arbitrary ``repr()`` methods may raise.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final, cast

from django.db.models import Model

from signal_tracing.naming import sender_label, truncate

MAX_VALUE_LENGTH: Final = 60
_PLAIN: Final = (str, bytes, int, float, complex, bool, type(None), enum.Enum)
_CONTAINERS: Final = (list, tuple, set, frozenset)


def _plain(value: object, depth: int) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if depth > 2:
        return False
    if type(value) in _CONTAINERS:
        # Exact types only: a subclass may have its own __repr__.
        return all(_plain(item, depth + 1) for item in cast("Iterable[object]", value))
    if type(value) is dict:
        items = cast("dict[object, object]", value).items()
        return all(_plain(key, depth + 1) and _plain(item, depth + 1) for key, item in items)
    return False


def safe_repr(value: object) -> str:
    """Return a short text for ``value`` that never runs application code."""
    if isinstance(value, Model):
        label = type(value)._meta.label
        pk = value.pk
        pk_text = truncate(repr(pk), 40) if _plain(pk, 0) else f"<{type(pk).__name__}>"
        return f"<{label} pk={pk_text}>"
    if isinstance(value, type):
        return sender_label(value)
    if _plain(value, 0):
        return truncate(repr(value), MAX_VALUE_LENGTH)
    value_type = type(value)
    return f"<{value_type.__module__}.{value_type.__qualname__}>"
