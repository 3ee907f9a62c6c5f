"""``instrument()`` / ``uninstrument()``: start and stop tracing, idempotently and exactly.

Settings are read when available (``SIGNAL_TRACING``); options passed to ``instrument()`` win
over them and are kept, so the app's ``ready()`` and live setting changes re-apply them.

This is the one writer of the running state (``state``): it sets the configuration and the
emitter, counts test captures, and puts in or takes out the patches that follow from them
(``_dispatch`` on ``Signal``, ``lifecycle`` on Django's handlers), all under ``state.lock``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from signal_tracing import _dispatch, lifecycle, routing, state
from signal_tracing.conf import Config, config_from_settings, options_to_setting
from signal_tracing.spans import SpanEmitter

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider


class _Requested:
    """What code asked for explicitly, re-applied whenever settings change."""

    def __init__(self) -> None:
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
    with state.lock:
        if tracer_provider is not None:
            _requested.tracer_provider = tracer_provider
        _requested.options.update(setting)
        apply_settings()


def uninstrument() -> None:
    """Stop tracing and put ``django.dispatch.Signal`` back exactly as it was."""
    with state.lock:
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
    with state.lock:
        saved_provider, saved_options = _requested.tracer_provider, dict(_requested.options)
        _requested.tracer_provider = tracer_provider
        _requested.options.update(setting)
        apply_settings()
    try:
        yield
    finally:
        with state.lock:
            _requested.tracer_provider = saved_provider
            _requested.options.clear()
            _requested.options.update(saved_options)
            apply_settings()


def is_instrumented() -> bool:
    """Return whether signal firings are being traced."""
    return state.is_tracing()


def effective_config() -> Config:
    """Return the configuration in force: defaults, then the setting, then options."""
    return config_from_settings(_requested.options)


def apply_settings() -> None:
    """(Re)start or stop tracing according to the current setting and requested options."""
    with state.lock:
        config = effective_config()
        if not config.enabled:
            _stop()
            return
        emitter = state.current_emitter()
        if emitter is None or emitter.tracer_provider is not _requested.tracer_provider:
            emitter = SpanEmitter(_requested.tracer_provider)
        state.set_config(config)
        routing.clear_caches()  # policies and exclusions may have changed
        state.set_emitter(emitter)
        _sync_patch()
        lifecycle.install(config)


def acquire_capture() -> None:
    """Keep ``Signal`` patched, and record firings without receivers, until released."""
    with state.lock:
        state.change_captures(+1)
        _sync_patch()


def release_capture() -> None:
    with state.lock:
        state.change_captures(-1)
        _sync_patch()


def _stop() -> None:
    with state.lock:
        lifecycle.uninstall()
        state.set_emitter(None)
        _sync_patch()


def _sync_patch() -> None:
    # Caller holds state.lock. Captures need the patch even while tracing is off.
    if state.is_tracing() or state.running.captures:
        _dispatch.patch()
    else:
        _dispatch.unpatch()
