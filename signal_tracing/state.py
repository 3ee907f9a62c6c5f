"""The running state: what this process traces firings with, right now.

One owner, one writer: :mod:`signal_tracing.instrumentation` changes it (holding :data:`lock`),
through the functions at the bottom of this module; every other module only reads it, the hot
path directly from :data:`running`, the rest through :func:`current_config` and friends. This
module imports nothing of Django's, so the pytest plugin can ask :func:`is_tracing` cheaply.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Final

from signal_tracing.conf import Config

if TYPE_CHECKING:
    from signal_tracing.spans import SpanEmitter

logger = logging.getLogger("signal_tracing")


class RunningState:
    """What the firings in this process are traced with."""

    __slots__ = ("captures", "config", "emitter", "failures_logged")

    def __init__(self) -> None:
        #: Set while instrumented; None means records only (test captures, the panel).
        self.emitter: SpanEmitter | None = None
        self.config = Config()
        #: Active test captures; while any exists, firings with no receivers are recorded too.
        self.captures = 0
        #: The places a tracer failure was already logged from (each is logged once).
        self.failures_logged: set[str] = set()


running: Final = RunningState()

#: Held by the writer while it changes the state and the patches that depend on it.
lock: Final = threading.RLock()


def current_config() -> Config:
    """Return the configuration firings are traced with."""
    return running.config


def current_emitter() -> SpanEmitter | None:
    """Return what starts our spans, or ``None`` while tracing is off."""
    return running.emitter


def is_tracing() -> bool:
    """Return whether firings are traced as spans (``instrument()`` is in force)."""
    return running.emitter is not None


def report_tracer_failure(where: str) -> None:
    """Log a tracer-internal failure once per place; the application call goes on."""
    if where in running.failures_logged:
        logger.debug("signal_tracing failed again in %s", where, exc_info=True)
        return
    running.failures_logged.add(where)
    logger.warning(
        "signal_tracing failed in %s; the signal was sent normally but this firing's record "
        "is incomplete. Further failures here are logged at DEBUG level.",
        where,
        exc_info=True,
    )


# Writers: called by ``instrumentation`` only, with ``lock`` held.


def set_config(config: Config) -> None:
    running.config = config


def set_emitter(emitter: SpanEmitter | None) -> None:
    running.emitter = emitter


def change_captures(delta: int) -> int:
    """Add ``delta`` to the number of active test captures; return the new number."""
    running.captures = max(running.captures + delta, 0)
    return running.captures
