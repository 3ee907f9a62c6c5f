"""Record real firings the way the panel does, and read the resulting stats as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signal_tracing import recording
from signal_tracing.conf import Config
from signal_tracing.panels.stats import PanelStats, build_stats


def recorded(action: Callable[[], object], **config: Any) -> PanelStats:
    """Run ``action`` inside a recording and return the stats the panel would store.

    Slow-receiver warnings are off unless asked for: on a busy machine any receiver may take
    20 ms, and the tests count warnings exactly.
    """
    config.setdefault("slow_receiver_ms", 0)
    with recording.recording() as active:
        action()
    return build_stats(active, Config(**config))


def tree(stats: PanelStats) -> str:
    """The waterfall as indented text: firings by signal and method, calls by receiver."""
    lines = []
    for row in stats["rows"]:
        if row["kind"] == "dispatch":
            text = f"{row['signal']} {row['method']} sender={row['sender']}"
            if row["reentrant"]:
                text += " reentrant"
        else:
            text = f"{row['receiver'].rsplit('.', 1)[-1]} {row['outcome']}"
            if row["is_async"]:
                text += " async"
        lines.append("  " * row["indent"] + text)
    return "\n".join(lines)
