"""Request, management command, test and start-up scopes: the roots our spans hang from.

Placeholder contract for the lifecycle issue: ``start(config)`` installs the hooks that open
root scopes, ``stop()`` removes them exactly.
"""

from __future__ import annotations

from signal_tracing.conf import Config


def start(config: Config) -> None:
    return None


def stop() -> None:
    return None
