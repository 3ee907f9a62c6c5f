"""``SignalTracingPanel``: what fired in this request, nested, timed, with warnings."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

from debug_toolbar.panels import Panel
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from signal_tracing import recording
from signal_tracing.instrumentation import effective_config, is_instrumented
from signal_tracing.panels.connected import read_connections
from signal_tracing.panels.stats import (
    MAX_FIRINGS,
    STATS_VERSION,
    PanelStats,
    build_stats,
    empty_stats,
)
from signal_tracing.panels.trace import RequestTrace
from signal_tracing.recording import Recording


class SignalTracingPanel(Panel):
    """Every signal firing and receiver call of the request, read from our own records.

    Recording starts when the toolbar enables its panels and stops when it disables them,
    in the request's own context, so concurrent requests never mix. It needs no
    OpenTelemetry SDK: spans, when an SDK is configured, only add the trace id.
    """

    is_async = True
    title = _("Signal tracing")
    nav_icon = "signal_tracing/img/signal_tracing.svg"  # type: ignore[assignment]
    template = "signal_tracing/panel.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recording: Recording | None = None
        self._token: contextvars.Token[tuple[Recording, ...]] | None = None
        self._trace: RequestTrace | None = None
        self._tracing = False

    def _stored_stats(self) -> Mapping[str, Any]:
        stats: Mapping[str, Any] = self.get_stats()  # type: ignore[no-untyped-call]
        return stats

    def _record(self, stats: PanelStats) -> None:
        self.record_stats(stats)  # type: ignore[no-untyped-call]

    @property
    def nav_subtitle(self) -> str:
        stats = self._stored_stats()
        if not stats:
            return ""
        if not stats.get("tracing"):
            return str(_("tracing off"))
        firings = stats.get("firings", 0)
        subtitle = ngettext("%(count)d firing", "%(count)d firings", firings) % {"count": firings}
        counted = stats.get("counted", 0)
        if counted:
            # Count-policy firings (post_init...) are not in "firings": say them apart, as the
            # headline does, or a page of 717 counted post_init would read "0 firings".
            subtitle += " · " + str(_("%(count)d counted")) % {"count": counted}
        subtitle += " · " + str(_("%(ms)0.2f ms")) % {"ms": stats.get("receiver_ms", 0.0)}
        warnings = len(stats.get("findings", [])) + stats.get("findings_omitted", 0)
        if warnings:
            subtitle += " · " + ngettext("%(count)d warning", "%(count)d warnings", warnings) % {
                "count": warnings
            }
        return subtitle

    def enable_instrumentation(self) -> None:
        if self._recording is not None:
            return
        self._tracing = is_instrumented()
        self._trace = RequestTrace.current()
        self._recording = Recording(max_firings=MAX_FIRINGS)
        self._token = recording.start(self._recording)

    def disable_instrumentation(self) -> None:
        if self._recording is not None and self._token is not None:
            recording.stop(self._recording, self._token)
            self._token = None

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        config = effective_config()
        # What the toolbar's Signals panel lists, so that this panel can replace it.
        connections = read_connections(self.toolbar.config.get("EXTRA_SIGNALS", ()))
        active = self._recording
        if active is None or not self._tracing:
            self._record(empty_stats(config, tracing=False, connections=connections))
            return
        request_trace = self._trace
        self._record(
            build_stats(
                active,
                config,
                trace_id=request_trace.trace_id() if request_trace is not None else None,
                spans_dropped=request_trace.spans_dropped() if request_trace is not None else 0,
                connections=connections,
            )
        )
        # The stored stats are all the panel needs from now on; let the records go.
        self._recording = None
        self._trace = None

    def generate_server_timing(self, request: HttpRequest, response: HttpResponse) -> None:
        stats = self._stored_stats()
        if stats.get("tracing"):
            title = ngettext(
                "Signal receivers (%(count)d firing)",
                "Signal receivers (%(count)d firings)",
                stats["firings"],
            ) % {"count": stats["firings"]}
            self.record_server_timing(  # type: ignore[no-untyped-call]
                "receivers", title, stats["receiver_ms"]
            )

    @property
    def content(self) -> str:
        stats = dict(self._stored_stats())
        stats["current_version"] = stats.get("version") == STATS_VERSION
        return render_to_string(self.template, stats)
