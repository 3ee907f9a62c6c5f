"""One call to an exporter, and one that must be over by a deadline.

The OTLP exporters retry a failed send after 1, 2, 4... seconds, up to their timeout
(``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s by default). That suits a process that runs on; a process
that exits, or is about to, has a budget instead: :func:`send_by` builds an exporter whose
timeout is what is left of it, and stops it from waiting to retry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from signal_tracing.exporting.reasons import Attempt

#: Builds an exporter to the same destination whose export gives up after that many seconds
#: (None: the ``OTEL_EXPORTER_OTLP_*TIMEOUT`` variables decide).
ExporterWithTimeout = Callable[[float | None], SpanExporter]

#: A send that failed after this share of its timeout ran out of time.
_TIMED_OUT: Final = 0.9


class OneShutdown:
    """Shuts an exporter down once: a second call would log a warning of the exporter's."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.lock = threading.Lock()
        self.done = False

    def __call__(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        self.exporter.shutdown()


def send(
    exporter: SpanExporter, spans: Sequence[ReadableSpan], attempt: Attempt
) -> SpanExportResult:
    """Export ``spans``; what the exporter raised and how long it took go into ``attempt``."""
    started = time.monotonic()
    try:
        return exporter.export(spans)
    except Exception as error:  # the batch processor would log a traceback per batch
        attempt.error = error
        return SpanExportResult.FAILURE
    finally:
        attempt.seconds = time.monotonic() - started


def send_by(
    exporter_with_timeout: ExporterWithTimeout,
    deadline: float,
    spans: Sequence[ReadableSpan],
    attempt: Attempt,
) -> SpanExportResult:
    """Export ``spans`` through a new exporter that gives up at ``deadline`` and never retries.

    ``attempt`` must be the one holding this thread's exporter records: the exporter logs a
    warning before it waits to retry, and is then shut down, which ends the wait at once.
    """
    timeout = deadline - time.monotonic()
    try:
        exporter = exporter_with_timeout(timeout)
    except Exception as error:
        attempt.error = error
        return SpanExportResult.FAILURE
    stop = attempt.on_warning = OneShutdown(exporter)
    try:
        result = send(exporter, spans, attempt)
    finally:
        stop()
    attempt.timed_out = result is not SpanExportResult.SUCCESS and (
        attempt.seconds >= _TIMED_OUT * timeout
    )
    return result
