"""A dict that forgets everything when it is full: for facts that are cheap to work out again.

The tracer caches what it learns about signals, senders and receivers, keyed by objects the
application may create without bound (a signal per object, a sender per row). Emptying the
cache when it reaches its limit keeps memory flat with no bookkeeping on the hot path, where
a lookup stays a plain ``dict.get``; the facts are rebuilt on the next miss.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict of at most ``limit`` entries, emptied when a new key would exceed it."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` (emptying the cache first if it is full); return it."""
        if len(self) >= self.limit and key not in self:
            self.clear()
        self[key] = value
        return value
