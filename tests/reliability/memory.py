"""Measuring what a block of code leaves allocated, with tracemalloc."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Growth:
    """Bytes still allocated after the block (garbage collected) and its peak, over the start."""

    retained: int = 0
    peak: int = 0

    def __str__(self) -> str:
        return f"retained {self.retained / 1024:+.1f} KiB, peak {self.peak / 1024:+.1f} KiB"


@contextmanager
def measured() -> Iterator[Growth]:
    """Trace allocations inside the block; fill in the :class:`Growth` when it ends."""
    growth = Growth()
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    gc.collect()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        yield growth
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        growth.retained = current - before
        growth.peak = peak - before
    finally:
        if started_here:
            tracemalloc.stop()
