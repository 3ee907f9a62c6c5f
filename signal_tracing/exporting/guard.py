"""An exporter wrapper that reports a collector outage once, and its end once.

The OTLP exporters log every retry and every failed batch, and the batch processor logs each
dropped span batch: a collector down for an hour fills the application's log. While an export
of ours runs, the exporters' own records are held back (their first words are kept as the
reason); the guard then logs one WARNING when exporting starts failing, DEBUG lines while it
keeps failing, and one INFO line when it works again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

logger = logging.getLogger("signal_tracing.exporting")

#: Loggers of the OTLP exporters and their HTTP client, across supported SDK versions.
EXPORTER_LOGGERS: Final = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.common._internal",
)
#: Loggers of the batch processor, which warns about a full queue from application threads.
PROCESSOR_LOGGERS: Final = (
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
)
_REASON_LIMIT: Final = 300


class _HeldBack(logging.Filter):
    """Keeps exporter records out of the log while a guarded export runs in this thread."""

    def __init__(self) -> None:
        super().__init__("signal_tracing.exporting")
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        held: list[str] | None = getattr(self.local, "held", None)
        if held is None:
            return True
        held.append(record.getMessage())
        return False


class _QueueFullWhileFailing(logging.Filter):
    """Drops the processor's "queue full" warnings while an outage is already reported."""

    def __init__(self, guard: GuardedExporter) -> None:
        super().__init__("signal_tracing.exporting")
        self.guard = guard

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.guard.failing and str(record.msg).startswith("Queue"))


class GuardedExporter(SpanExporter):
    """Delegates to ``exporter``; logs an outage once and says when export works again."""

    def __init__(self, exporter: SpanExporter, destination: str) -> None:
        self.exporter = exporter
        self.destination = destination
        self.failing = False
        self.failed_batches = 0
        self.lost_spans = 0
        self.exiting = False
        self.failed_at_exit = False
        self._held_back = _HeldBack()
        self._queue_full = _QueueFullWhileFailing(self)
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self._held_back)
        for name in PROCESSOR_LOGGERS:
            logging.getLogger(name).addFilter(self._queue_full)

    def begin_exit(self) -> None:
        """The process is exiting: once an export fails, drop what is left at once.

        The batch processor exports every remaining batch at shutdown, each allowed the full
        exporter timeout: against a dead collector and a full queue that delays the exit by up
        to half a minute. One failed export at exit is enough to know.
        """
        self.exiting = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.failed_at_exit:
            self.failed_batches += 1
            self.lost_spans += len(spans)
            logger.debug("Exiting: %d span(s) for %s dropped.", len(spans), self.destination)
            return SpanExportResult.FAILURE
        held: list[str] = []
        self._held_back.local.held = held
        try:
            result = self.exporter.export(spans)
        except Exception as error:  # the batch processor would log a traceback per batch
            held.append(f"{type(error).__name__}: {error}")
            result = SpanExportResult.FAILURE
        finally:
            self._held_back.local.held = None
        if result is SpanExportResult.SUCCESS:
            self._succeeded()
        else:
            self._failed(len(spans), held)
        return result

    def _succeeded(self) -> None:
        if self.failing:
            logger.info(
                "Exporting spans to %s works again; %d span(s) in %d batch(es) were lost "
                "while it failed.",
                self.destination,
                self.lost_spans,
                self.failed_batches,
            )
        self.failing = False
        self.failed_batches = 0
        self.lost_spans = 0

    def _failed(self, span_count: int, held: list[str]) -> None:
        self.failed_at_exit = self.exiting
        self.failed_batches += 1
        self.lost_spans += span_count
        # The first record usually names the cause (status, connection error), the last one
        # how it ended (gave up at the timeout): keep each distinct one, in order.
        reason = " / ".join(message.rstrip(".") for message in dict.fromkeys(held))
        reason = reason or "the exporter reported a failure"
        if len(reason) > _REASON_LIMIT:
            reason = reason[:_REASON_LIMIT] + "…"
        if self.failing:
            logger.debug("Exporting spans to %s failed again: %s", self.destination, reason)
            return
        self.failing = True
        logger.warning(
            "Cannot export spans to %s: %s. The application is not affected; spans are "
            "dropped until the collector accepts them again, which will be logged. "
            "Repeated failures are logged at DEBUG level.",
            self.destination,
            reason,
        )

    def shutdown(self) -> None:
        try:
            self.exporter.shutdown()
        finally:
            for name in EXPORTER_LOGGERS:
                logging.getLogger(name).removeFilter(self._held_back)
            for name in PROCESSOR_LOGGERS:
                logging.getLogger(name).removeFilter(self._queue_full)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)
