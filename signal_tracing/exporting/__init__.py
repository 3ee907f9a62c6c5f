"""Opt-in OpenTelemetry SDK set-up from ``SIGNAL_TRACING["EXPORTER"]`` and ``OTEL_*`` variables.

The app's ``ready()`` calls :func:`set_up_export` before tracing starts. If the application (or
``opentelemetry-instrument``) already installed a tracer provider, that provider is used and
nothing here changes it. Otherwise, when ``EXPORTER`` is ``"otlp"`` or ``"console"``, an SDK
provider with a batching exporter becomes the process's global provider, so every other
instrumentation in the process (OpenTelemetry's Django, WSGI or database instrumentations, the
application's own spans) shares its traces, resource and exporter.

Importing this package imports no SDK: the SDK is only loaded when an exporter is asked for.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import logging
import os
import sys
import threading
from typing import Final

from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider

from signal_tracing.conf import Config, Problem
from signal_tracing.exporting import reloader, requirements

logger = logging.getLogger("signal_tracing.exporting")


class SetupOutcome(enum.Enum):
    NOT_ASKED = "no exporter is configured"
    SDK_DISABLED = "OTEL_SDK_DISABLED is true"
    AUTORELOADER_PARENT = "runserver's autoreloader only watches files; its child exports"
    APPLICATION_PROVIDER = "the application's own tracer provider is used"
    UNAVAILABLE = "the exporter cannot be set up"
    CONFIGURED = "spans are exported"


@dataclasses.dataclass(frozen=True)
class ExportSetup:
    """What :func:`set_up_export` did, and a human-readable detail."""

    outcome: SetupOutcome
    detail: str = ""
    tracer_provider: trace.TracerProvider | None = None


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.configured: ExportSetup | None = None


_state: Final = _State()


def application_has_provider() -> bool:
    """Whether a tracer provider other than the API's placeholder is installed globally."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


def check_problems(exporter: str | None) -> list[Problem]:
    """Problems with the ``EXPORTER`` choice, for the system checks.

    None when the process's provider comes from elsewhere: then ``EXPORTER`` is not used.
    """
    configured = _state.configured
    if configured is None and application_has_provider():
        return []
    return requirements.problems(exporter, os.environ)


def set_up_export(config: Config) -> ExportSetup:
    """Install an SDK tracer provider exporting to ``config.exporter``, unless one exists.

    Safe to call more than once: once a provider is installed, later calls return that set-up.
    Never raises: what prevents exporting is logged as a warning and returned.
    """
    with _state.lock:
        if _state.configured is not None:
            return _state.configured
        setup = _set_up(config)
        if setup.outcome is SetupOutcome.CONFIGURED:
            _state.configured = setup
        return setup


def _set_up(config: Config) -> ExportSetup:
    if not config.enabled or config.exporter is None:
        return ExportSetup(SetupOutcome.NOT_ASKED)
    if reloader.is_autoreloader_parent(sys.argv, os.environ):
        # Silent: the child it starts logs the same decisions, and exports.
        logger.debug("runserver's file-watching process: spans are exported by its child.")
        return ExportSetup(SetupOutcome.AUTORELOADER_PARENT)
    if requirements.sdk_disabled(os.environ):
        logger.info("Not exporting spans: %s is true.", requirements.SDK_DISABLED)
        return ExportSetup(SetupOutcome.SDK_DISABLED)
    if application_has_provider():
        provider = trace.get_tracer_provider()
        logger.info(
            "Using the application's tracer provider (%s); SIGNAL_TRACING['EXPORTER'] is not used.",
            type(provider).__qualname__,
        )
        return ExportSetup(SetupOutcome.APPLICATION_PROVIDER, tracer_provider=provider)
    problems = requirements.problems(config.exporter, os.environ)
    if problems:
        detail = " ".join(f"{problem.message} {problem.hint}" for problem in problems)
        logger.warning("Not exporting spans: %s", detail)
        return ExportSetup(SetupOutcome.UNAVAILABLE, detail)
    try:
        from signal_tracing.exporting.provider import build_provider
        from signal_tracing.exporting.shutdown import ExitFlush, flush_on_sigterm

        provider, processor, guard, destination = build_provider(config)
    except Exception as error:  # a bad OTEL_* value the SDK refuses, a broken install...
        logger.warning("Not exporting spans: the exporter could not be set up.", exc_info=True)
        return ExportSetup(SetupOutcome.UNAVAILABLE, f"{type(error).__name__}: {error}")
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:  # another thread installed one first
        provider.shutdown()
        return ExportSetup(
            SetupOutcome.APPLICATION_PROVIDER, tracer_provider=trace.get_tracer_provider()
        )
    exit_flush = ExitFlush(provider, processor, guard, config.exit_flush_timeout)
    atexit.register(exit_flush)
    flush_on_sigterm(exit_flush)
    if reloader.is_autoreloader_child(os.environ):
        reloader.flush_before_reload(exit_flush.flush_ahead)
    logger.info("Exporting spans to %s.", destination)
    return ExportSetup(SetupOutcome.CONFIGURED, destination, provider)
