"""Showing values in failure messages without running the application's code.

A value is ``repr()``-ed only when its exact type is one whose ``repr()`` is the standard
library's own: numbers, strings, ``Decimal``, dates and times, ``UUID``... and lists, tuples,
sets and dicts of them. Exact types, never ``isinstance()``: a subclass may have its own
``__repr__``, and ``isinstance()`` reads ``__class__``, which evaluates a lazy object. A model
instance becomes ``<sms.SmsCode pk=1>`` (its ``__str__`` may query the database), a class its
label, an enum member its name (``SendStatus.FAILURE``), anything else its type: a QuerySet's
``repr()`` would run the query, and arbitrary ``repr()`` methods may raise.

The values a test passes to a filter are shown by the same rules: they are often the
application's objects too (``instance=code``).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import inspect
import ipaddress
import pathlib
import unittest.mock
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Final, cast

from django.db.models import Model
from django.utils.functional import Promise
from django.utils.safestring import SafeString

from signal_tracing.naming import sender_label, truncate

#: The longest text a value gets in the tree of what fired.
MAX_VALUE_LENGTH: Final = 60
#: The longest text a value gets where a message compares it: the expected value, and the
#: value sent under the same name. Long enough for a zoned datetime or a UUID, both sides.
MAX_COMPARED_LENGTH: Final = 200
#: Containers holding more items than this (all levels together) are shown by their type.
MAX_ITEMS: Final = 100

_REPR_TYPES: Final = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        SafeString,  # str's own repr
        decimal.Decimal,
        fractions.Fraction,
        datetime.date,
        datetime.timedelta,
        datetime.timezone,
        zoneinfo.ZoneInfo,
        uuid.UUID,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        pathlib.PosixPath,
        pathlib.WindowsPath,
        ipaddress.IPv4Address,
        ipaddress.IPv6Address,
        ipaddress.IPv4Network,
        ipaddress.IPv6Network,
        ipaddress.IPv4Interface,
        ipaddress.IPv6Interface,
        range,
        type(unittest.mock.ANY),  # <ANY>, for expected values
    }
)
#: repr() shows their tzinfo's repr too: safe only for the standard library's time zones.
_ZONED_TYPES: Final = frozenset({datetime.datetime, datetime.time})
_TZINFO_TYPES: Final = frozenset({type(None), datetime.timezone, zoneinfo.ZoneInfo})
_CONTAINERS: Final = frozenset({list, tuple, set, frozenset})


def _type_path(value_type: type) -> str:
    return f"{value_type.__module__}.{value_type.__qualname__}"


class _Budget:
    """How many more items a container check may look at."""

    def __init__(self) -> None:
        self.items_left = MAX_ITEMS


def _plain(value: object, depth: int, budget: _Budget) -> bool:
    value_type = type(value)
    if value_type in _REPR_TYPES:
        return True
    if value_type in _ZONED_TYPES:
        tzinfo = cast("datetime.time", value).tzinfo
        return type(tzinfo) in _TZINFO_TYPES
    if depth > 2 or (value_type not in _CONTAINERS and value_type is not dict):
        return False
    budget.items_left -= len(cast("list[object]", value))
    if budget.items_left < 0:
        return False
    if value_type is dict:
        items = cast("dict[object, object]", value).items()
        return all(
            _plain(key, depth + 1, budget) and _plain(item, depth + 1, budget)
            for key, item in items
        )
    return all(_plain(item, depth + 1, budget) for item in cast("Iterable[object]", value))


def _enum_member(value: enum.Enum) -> str:
    # Read statically: an enum of the application's may define properties and __repr__.
    name = inspect.getattr_static(value, "_name_", None)
    value_type = type(value)
    if type(name) is not str:  # an empty Flag value has no name
        return f"<{_type_path(value_type)}>"
    return f"{value_type.__qualname__}.{name}"


def safe_repr(value: object, limit: int = MAX_VALUE_LENGTH) -> str:
    """Return a text of at most ``limit`` characters for ``value`` that runs no app code."""
    value_type = type(value)
    if value_type is str or value_type is bytes:
        # Cut before repr(): a megabyte-long string is shown by its first characters only.
        return truncate(repr(cast("str", value)[: limit + 1]), limit)
    if issubclass(value_type, Model):
        label = value_type._meta.label
        pk = cast("Model", value).pk
        return f"<{label} pk={safe_repr(pk)}>"
    if issubclass(value_type, type):
        return sender_label(value)
    if issubclass(value_type, Promise):  # gettext_lazy() and other lazy() results
        return "<lazy object>"
    if issubclass(value_type, enum.Enum):
        return _enum_member(cast("enum.Enum", value))
    if _plain(value, 0, _Budget()):
        return truncate(repr(value), limit)
    if value_type in _ZONED_TYPES:  # a time zone of a third party's (pytz) or the app's own
        zoned = cast("datetime.datetime", value)
        naive = repr(zoned.replace(tzinfo=None))
        return truncate(f"{naive[:-1]}, tzinfo=<{_type_path(type(zoned.tzinfo))}>)", limit)
    return f"<{_type_path(value_type)}>"
