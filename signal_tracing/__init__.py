"""signal_tracing: every Django signal firing and receiver call as OpenTelemetry spans.

Importing this package imports nothing else: the public names load on first use, so the pytest
plugin and ``manage.py`` can import it before Django is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "capture_signals",
    "instrument",
    "is_instrumented",
    "uninstrument",
]

if TYPE_CHECKING:
    from signal_tracing.instrumentation import instrument, is_instrumented, uninstrument
    from signal_tracing.testing import capture_signals

_LAZY = {
    "instrument": "signal_tracing.instrumentation",
    "uninstrument": "signal_tracing.instrumentation",
    "is_instrumented": "signal_tracing.instrumentation",
    "capture_signals": "signal_tracing.testing",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'signal_tracing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
