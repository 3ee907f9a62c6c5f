"""``instrument()`` / ``uninstrument()``: start and stop tracing, idempotently and exactly.

Settings are read when available (``SIGNAL_TRACING``); options passed to ``instrument()`` win
over them and are kept, so the app's ``ready()`` and live setting changes re-apply them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from signal_tracing import _dispatch, firings
from signal_tracing.conf import Config, config_from_settings, options_to_setting
from signal_tracing.spans import SpanEmitter

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider


class _Requested:
    """What code asked for explicitly, re-applied whenever settings change."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tracer_provider: TracerProvider | None = None
        self.options: dict[str, Any] = {}


_requested: Final = _Requested()


def instrument(tracer_provider: TracerProvider | None = None, **options: Any) -> None:
    """Trace every ``django.dispatch.Signal`` firing as OpenTelemetry spans.

    ``tracer_provider`` defaults to the global one. ``options`` are ``SIGNAL_TRACING`` keys in
    lower case (``instrument(policies={...}, exclude_senders=[...])``) and take precedence over
    the setting. Calling it again updates the provider and options; it is safe before
    ``django.setup()``. If the setting says ``"ENABLED": False``, nothing is patched.
    """
    setting = options_to_setting(options)
    with _requested.lock:
        if tracer_provider is not None:
            _requested.tracer_provider = tracer_provider
        _requested.options.update(setting)
        apply_settings()


def uninstrument() -> None:
    """Stop tracing and put ``django.dispatch.Signal`` back exactly as it was."""
    with _requested.lock:
        _requested.tracer_provider = None
        _requested.options.clear()
        _stop()


@contextmanager
def instrumented_with(tracer_provider: TracerProvider, **options: Any) -> Iterator[None]:
    """Trace into ``tracer_provider`` inside the block, then restore what was requested before.

    For test fixtures: ``options`` win as in :func:`instrument`; afterwards the earlier
    ``instrument()`` provider and options (or the setting alone) apply again.
    """
    setting = options_to_setting(options)
    with _requested.lock:
        saved_provider, saved_options = _requested.tracer_provider, dict(_requested.options)
        _requested.tracer_provider = tracer_provider
        _requested.options.update(setting)
        apply_settings()
    try:
        yield
    finally:
        with _requested.lock:
            _requested.tracer_provider = saved_provider
            _requested.options.clear()
            _requested.options.update(saved_options)
            apply_settings()


def is_instrumented() -> bool:
    """Return whether signal firings are being traced."""
    return firings.is_tracing()


def effective_config() -> Config:
    """Return the configuration in force: defaults, then the setting, then options."""
    return config_from_settings(_requested.options)


def apply_settings() -> None:
    """(Re)start or stop tracing according to the current setting and requested options."""
    with _requested.lock:
        config = effective_config()
        if not config.enabled:
            _stop()
            return
        emitter = firings.current_emitter()
        if emitter is None or emitter.tracer_provider is not _requested.tracer_provider:
            emitter = SpanEmitter(_requested.tracer_provider)
        _dispatch.start_tracing(emitter, config)
        from signal_tracing import lifecycle

        lifecycle.start(config)


def reconfigure_if_instrumented() -> None:
    """Pick up a changed setting; called when ``SIGNAL_TRACING`` changes at run time."""
    with _requested.lock:
        _dispatch.reconfigure(effective_config())


def _stop() -> None:
    from signal_tracing import lifecycle

    lifecycle.stop()
    _dispatch.stop_tracing()
