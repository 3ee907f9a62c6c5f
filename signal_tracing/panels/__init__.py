"""The django-debug-toolbar panel: add ``"signal_tracing.panels.SignalTracingPanel"`` to
``DEBUG_TOOLBAR_PANELS``.

The panel class is loaded on first access, so the stats modules here stay importable (and
testable) without django-debug-toolbar installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["SignalTracingPanel"]

if TYPE_CHECKING:
    from signal_tracing.panels.panel import SignalTracingPanel


def __getattr__(name: str) -> Any:
    if name == "SignalTracingPanel":
        from signal_tracing.panels.panel import SignalTracingPanel

        return SignalTracingPanel
    raise AttributeError(f"module 'signal_tracing.panels' has no attribute {name!r}")
