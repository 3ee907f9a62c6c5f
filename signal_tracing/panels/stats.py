"""A request's recording turned, once, into the panel's JSON-safe stats.

The toolbar serialises panel stats to JSON and renders the panel (and History snapshots)
from the stored form only, so everything here is str, int, float, bool, list or dict, and
nothing refers back to live records. Like spans, stats hold names, labels, numbers and the
privacy-safe attributes only: never field values, request data or exception messages.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypedDict

from signal_tracing.conf import Config
from signal_tracing.panels import connected, findings, summary, timeline
from signal_tracing.panels.connected import ConnectedSignal, SignalConnections, SignalName
from signal_tracing.panels.findings import Finding
from signal_tracing.panels.summary import CountedSignal, CountTotal, SenderTotal, SignalTotal
from signal_tracing.panels.timeline import Nesting, Row, Window
from signal_tracing.recording import Recording

#: Bumped when the shape changes, so old stored snapshots can be recognised.
STATS_VERSION = 2
#: Firings a request's recording keeps: each is at least one row of the waterfall, so no
#: more can be shown. Later ones are counted per signal and sender only.
MAX_FIRINGS = timeline.MAX_ROWS


class PanelStats(TypedDict):
    version: int
    #: Whether signal tracing was on for the request (nothing is recorded otherwise).
    tracing: bool
    request_ms: float
    receiver_ms: float
    #: Time in receivers as a percentage of ``request_ms``.
    receiver_share: float
    #: Every firing of a traced signal, recorded or not.
    firings: int
    #: Firings past MAX_FIRINGS: in the totals, without receiver calls, times or warnings.
    firings_not_recorded: int
    receiver_calls: int
    rows: list[Row]
    rows_omitted: int
    signals: list[SignalTotal]
    senders: list[SenderTotal]
    counts: list[CountTotal]
    counted_signals: list[CountedSignal]
    counted: int
    findings: list[Finding]
    findings_omitted: int
    trace_id: str
    trace_url: str
    spans_dropped: int
    slow_receiver_ms: float
    init_flood_threshold: int
    #: Signals with live receivers at the end of the request, each receiver with its use.
    connected: list[ConnectedSignal]
    connected_receivers: int
    #: Connected receivers that ran in this request (called, or heard a counted firing).
    receivers_run: int
    #: Known signals with no receiver connected.
    unconnected_signals: list[SignalName]


def trace_url(jaeger_url: str | None, trace_id: str | None) -> str:
    """Return the Jaeger UI address of a trace, or ``""`` without both parts."""
    if not jaeger_url or not trace_id:
        return ""
    return f"{jaeger_url.rstrip('/')}/trace/{trace_id}"


def empty_stats(
    config: Config, *, tracing: bool, connections: Sequence[SignalConnections] = ()
) -> PanelStats:
    signals, unconnected = connected.connected_section(connections, (), (), {}, config)
    return PanelStats(
        version=STATS_VERSION,
        tracing=tracing,
        request_ms=0.0,
        receiver_ms=0.0,
        receiver_share=0.0,
        firings=0,
        firings_not_recorded=0,
        receiver_calls=0,
        rows=[],
        rows_omitted=0,
        signals=[],
        senders=[],
        counts=[],
        counted_signals=[],
        counted=0,
        findings=[],
        findings_omitted=0,
        trace_id="",
        trace_url="",
        spans_dropped=0,
        slow_receiver_ms=config.slow_receiver_ms,
        init_flood_threshold=config.init_flood_threshold,
        connected=signals,
        connected_receivers=sum(len(signal["receivers"]) for signal in signals),
        receivers_run=0,
        unconnected_signals=unconnected,
    )


def build_stats(
    recording: Recording,
    config: Config,
    *,
    trace_id: str | None = None,
    spans_dropped: int = 0,
    connections: Sequence[SignalConnections] = (),
) -> PanelStats:
    """Return the stats for one request's recording.

    ``trace_id`` is the request's trace (from its root span) when known; otherwise the
    first recorded firing's trace is shown. ``spans_dropped`` comes from the request's span
    budget (MAX_SPANS_PER_TRACE). ``connections`` are the live receivers of the known signals
    (:func:`~signal_tracing.panels.connected.read_connections`).
    """
    stopped_ns = recording.stopped_ns or time.perf_counter_ns()
    window = Window(recording.started_ns, stopped_ns)
    slow_ns = int(config.slow_receiver_ms * 1e6) if config.slow_receiver_ms > 0 else None
    dispatches = list(recording.dispatches)
    nesting = Nesting(dispatches)
    shown = timeline.build_timeline(nesting, window, slow_ns)

    counts = summary.counted(recording.counts)
    slow, raised = findings.slow_and_raised(dispatches, shown.row_ids, slow_ns)
    found, omitted = findings.capped(
        [
            *findings.reentrant(dispatches, shown.row_ids),
            *raised,
            *slow,
            *findings.init_floods(
                dispatches, counts, recording.left_out, config.init_flood_threshold
            ),
            *findings.spans_dropped(spans_dropped),
            *findings.not_recorded(recording.firings_left_out, len(dispatches)),
        ]
    )
    for row in shown.rows:
        row["trace_url"] = trace_url(config.jaeger_url, row["trace_id"])
    if trace_id is None:
        trace_id = next((record.trace_id for record in dispatches if record.trace_id), None)

    signals, unconnected = connected.connected_section(
        connections, dispatches, counts, recording.left_out, config
    )
    rows_connected = [row for signal in signals for row in signal["receivers"]]

    request_ns = window.duration_ns
    receiver_ns = summary.receiver_time_ns(nesting.roots)
    return PanelStats(
        version=STATS_VERSION,
        tracing=True,
        request_ms=round(request_ns / 1e6, 3),
        receiver_ms=round(receiver_ns / 1e6, 3),
        receiver_share=round(receiver_ns / request_ns * 100, 1) if request_ns else 0.0,
        firings=len(dispatches) + recording.firings_left_out,
        firings_not_recorded=recording.firings_left_out,
        receiver_calls=sum(len(record.calls) for record in dispatches),
        rows=shown.rows,
        rows_omitted=shown.omitted,
        signals=summary.per_signal(dispatches, recording.left_out),
        senders=summary.per_sender(dispatches, recording.left_out),
        counts=counts,
        counted_signals=summary.counted_per_signal(counts),
        counted=sum(total["count"] for total in counts),
        findings=found,
        findings_omitted=omitted,
        trace_id=trace_id or "",
        trace_url=trace_url(config.jaeger_url, trace_id),
        spans_dropped=spans_dropped,
        slow_receiver_ms=config.slow_receiver_ms,
        init_flood_threshold=config.init_flood_threshold,
        connected=signals,
        connected_receivers=len(rows_connected),
        receivers_run=sum(1 for row in rows_connected if row["calls"] or row["counted"]),
        unconnected_signals=unconnected,
    )
