"""Application objects that punish anyone who looks at them: slow or raising ``repr``/``str``,
lazy objects that count their evaluations, and huge values."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.functional import SimpleLazyObject

#: How long a slow ``repr`` takes: a traced send taking this long called it.
SLOW_SECONDS = 1.0


class Looked:
    """Counts every ``repr``/``str``/``format`` of its instances (the tracer must make none)."""

    looks = 0

    def _looked(self) -> str:
        Looked.looks += 1
        return "looked"

    def __repr__(self) -> str:
        return self._looked()

    def __str__(self) -> str:
        return self._looked()

    def __format__(self, spec: str) -> str:
        return self._looked()


class SlowRepr(Looked):
    def _looked(self) -> str:
        super()._looked()
        time.sleep(SLOW_SECONDS)
        return "slow"


class RaisingRepr(Looked):
    def _looked(self) -> str:
        super()._looked()
        raise RuntimeError("do not look at me")


class LazyFactory:
    """Builds the object behind a SimpleLazyObject and counts how often it had to."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.evaluations = 0

    def lazy(self) -> SimpleLazyObject:
        def build() -> Any:
            self.evaluations += 1
            return self.value

        return SimpleLazyObject(build)


class UnprintableError(Exception):
    """An exception whose message cannot be read."""

    def __str__(self) -> str:
        raise RuntimeError("no message for you")


PLAIN_TYPES = (str, bool, int, float)


def not_plain(attributes: dict[str, Any]) -> dict[str, str]:
    """Attributes that are not plain OpenTelemetry values (a plain value, or a homogeneous
    sequence of one plain type), by key, with the offending type."""
    # type() only: isinstance() reads __class__, which evaluates a lazy object.
    odd: dict[str, str] = {}
    for key, value in attributes.items():
        if type(value) in PLAIN_TYPES:
            continue
        if type(value) in (list, tuple) and _homogeneous(value):
            continue
        odd[key] = type(value).__name__
    return odd


def _homogeneous(values: Iterable[Any]) -> bool:
    kinds = {type(value) for value in values}
    return len(kinds) <= 1 and kinds <= set(PLAIN_TYPES)


def text_size(attributes: Mapping[str, Any]) -> int:
    """Characters in an attribute map's values (strings, and strings in sequences)."""
    size = 0
    for value in attributes.values():
        items = value if type(value) in (list, tuple) else [value]
        size += sum(len(item) if type(item) is str else 8 for item in items)
    return size
