"""A real toolbar store (MemoryStore) that also counts what each panel saved."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from debug_toolbar.store import MemoryStore


class CountingStore(MemoryStore):
    saves: ClassVar[Counter[tuple[str, str]]] = Counter()

    @classmethod
    def save_panel(cls, request_id: str, panel_id: str, data: Any = None) -> None:
        cls.saves[(request_id, panel_id)] += 1
        super().save_panel(request_id, panel_id, data)
