"""The start-up span, ``django.setup``: the models prepared before any ``AppConfig.ready()``.

``class_prepared`` fires once per model while ``apps.populate()`` imports models, before any
app's ``ready()``. When tracing starts earlier than that (``instrument()`` in ``manage.py``,
``wsgi.py`` or ``asgi.py``, or ``opentelemetry-instrument``), a root ``django.setup`` span opens
at once and stays current in that thread, so start-up's firings nest under it. It closes when
signal_tracing's own ``ready()`` re-applies the settings (so it covers the apps before ours in
``INSTALLED_APPS``), or when the thread opens a request, command or test span first, and lists
the models prepared meanwhile.

When tracing starts in ``ready()`` (the usual way, from ``INSTALLED_APPS``), start-up is over
already. Rather than pretend, a zero-length ``django.setup`` span says so once per process:
``django.startup.observed`` false, with the number of models prepared before.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.context import Context

from signal_tracing import attributes as attrs
from signal_tracing.lifecycle.scopes import LifecycleScope, close, enter, start_span
from signal_tracing.naming import truncate
from signal_tracing.state import current_config

if TYPE_CHECKING:
    from django.apps.registry import Apps


class StartupScope(LifecycleScope):
    """``django.setup()``, from ``instrument()`` to signal_tracing's ``ready()``."""

    __slots__ = ("apps", "models_before")
    superseded_by_next = True

    def __init__(self, span: Any, apps: Apps) -> None:
        super().__init__("startup", attrs.STARTUP_SPAN_NAME, span, None)
        self.apps = apps
        self.models_before = prepared_models(apps)

    def before_close(self) -> None:
        assert self.span is not None
        limit = current_config().max_attribute_length
        prepared = sorted(prepared_models(self.apps) - self.models_before)
        self.span.set_attribute(
            attrs.STARTUP_MODELS, [truncate(label, limit) for label in prepared]
        )
        self.span.set_attribute(attrs.STARTUP_MODELS_COUNT, len(prepared))


def prepared_models(apps: Apps) -> set[str]:
    """Labels of every model class prepared so far (``class_prepared`` was sent for each)."""
    return {
        model._meta.label
        for app_models in list(apps.all_models.values())
        for model in app_models.values()
    }


class Startup:
    """Start-up as one process sees it (one instance per process; tests make their own)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: Whether this process already opened, or reported it missed, start-up.
        self.handled = False
        self.scope: StartupScope | None = None

    def begin(self, apps: Apps) -> None:
        """Open the start-up span if start-up is ahead, or say once that it was missed."""
        with self.lock:
            scope = self.scope
            if scope is not None:
                if scope.closed:
                    self.scope = None
                elif apps.models_ready:
                    self.scope = None
                    close(scope)
                return
            if self.handled:
                return
            self.handled = True
        root = Context()
        if not apps.models_ready:
            span = start_span(attrs.STARTUP_SPAN_NAME, {attrs.STARTUP_OBSERVED: True}, context=root)
            scope = StartupScope(span, apps)
            enter(scope)
            self.scope = scope
            return
        # Zero-length: it marks when tracing began, not a duration.
        now = time.time_ns()
        span = start_span(
            attrs.STARTUP_SPAN_NAME,
            {attrs.STARTUP_OBSERVED: False, attrs.STARTUP_MODELS_COUNT: len(prepared_models(apps))},
            context=root,
            start_time=now,
        )
        if span is not None:
            span.end(end_time=now)

    def end(self) -> None:
        """Close the start-up span if it is still open (tracing stops)."""
        with self.lock:
            scope, self.scope = self.scope, None
        if scope is not None:
            close(scope)


_process: Final = Startup()


def begin() -> None:
    """Open (or close, once the models are ready) this process's start-up span."""
    from django.apps import apps

    _process.begin(apps)


def end() -> None:
    _process.end()
