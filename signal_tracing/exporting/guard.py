"""The exporter the batch processor calls: an outage told once, and an exit kept within budget.

While the process runs, batches go to the OTLP exporter. The exporters log every retry and
every failed batch, and the batch processor each dropped batch: a collector down for an hour
would fill the application's log. So the exporters' own records are held back while one of
our exports runs; the guard logs one WARNING when exporting starts failing, DEBUG lines while
it keeps failing, and one INFO line when it works again.

Once the process exits (:meth:`GuardedExporter.begin_exit`), each batch is sent by
``sending.send_by``: through a fresh exporter whose timeout is what is left of the exit budget,
without retries. After the first failed batch, or once the budget is spent, batches are dropped
at once and counted; ``shutdown.ExitFlush`` runs the exit and logs its one line. A flush ahead
of an exit (``runserver``'s child when a file changed) sends the same way until ``send_by``,
but reports as a running process does: the process may go on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from signal_tracing.exporting.exit_logging import log_at_exit
from signal_tracing.exporting.reasons import Attempt, HeldRecords
from signal_tracing.exporting.sending import ExporterWithTimeout, OneShutdown, send, send_by

logger = logging.getLogger("signal_tracing.exporting")

#: Loggers of the batch processor, which warns about a full queue from application threads.
PROCESSOR_LOGGERS: Final = (
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
)


class _ProcessorNoise(logging.Filter):
    """The processor's "queue full" warnings during a reported outage, and all of it at exit.

    At exit the processor logs one notice per span ended after its shutdown, from threads
    still serving; the exit's own line already counts what was not sent.
    """

    def __init__(self, guard: GuardedExporter) -> None:
        super().__init__("signal_tracing.exporting")
        self.guard = guard

    def filter(self, record: logging.LogRecord) -> bool:
        if self.guard.deadline is not None:
            return False
        return not (self.guard.failing and str(record.msg).startswith("Queue"))


class GuardedExporter(SpanExporter):
    """Delegates to ``exporter``; logs an outage once and says when export works again.

    ``exit_exporter`` builds the exporter used at exit with a given timeout in seconds; None
    (the console) uses ``exporter`` at exit too. With ``renew_after_fork``, a forked child
    (a gunicorn worker) gets an exporter of its own: the parent's holds a keep-alive
    connection to the collector that two processes must not share.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        destination: str,
        exit_exporter: ExporterWithTimeout | None = None,
        *,
        renew_after_fork: bool = False,
    ) -> None:
        self.exporter = exporter
        self.destination = destination
        self.exit_exporter = exit_exporter
        self.renew_after_fork = renew_after_fork and exit_exporter is not None
        self.failing = False
        self.retrying = False
        self.reason = ""
        self.failed_batches = 0
        self.lost_spans = 0
        self.sent_spans = 0
        self.reported_lost_spans = 0
        self.send_by: float | None = None
        self.deadline: float | None = None
        self.failed_at_exit = False
        self.out_of_time = False
        self.closed = False
        self._shut_down = OneShutdown(exporter)
        self._idle = threading.Condition()
        self._exporting = 0
        self._held = HeldRecords()
        self._held.attach()
        self._processor_noise = _ProcessorNoise(self)
        for name in PROCESSOR_LOGGERS:
            logging.getLogger(name).addFilter(self._processor_noise)
        if hasattr(os, "register_at_fork"):
            reset = weakref.WeakMethod(self._reset_in_child)

            def reset_in_child() -> None:
                method = reset()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=reset_in_child)

    def _reset_in_child(self) -> None:
        # A forked worker starts with no export in progress (the thread doing it stayed in the
        # parent) and has sent nothing yet; an outage seen by the parent is still worth telling.
        self._idle = threading.Condition()
        self._exporting = 0
        self.sent_spans = 0
        self.reported_lost_spans = 0
        if self.renew_after_fork and self.exit_exporter is not None:
            try:
                renewed = self.exit_exporter(None)
            except Exception:  # keep the inherited one: sharing beats not exporting at all
                return
            # Closing the inherited one closes this process's copy of the socket only: the
            # parent's connection stays open.
            with self._held.holding():
                self._shut_down()
            self.exporter = renewed
            self._shut_down = OneShutdown(renewed)

    # ----------------------------------------------------------------------------------------
    # The batch processor's calls.

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._idle:
            self._exporting += 1
        try:
            if self.deadline is not None:
                return self._export_exiting(spans, self.deadline)
            send_by = self.send_by
            if send_by is None:
                result, attempt = self._send(spans)
            elif time.monotonic() < send_by:
                result, attempt = self._send_by(send_by, spans)
            else:  # a flush ahead of a reload ran out of time: it must not block the reload
                self.lost_spans += len(spans)
                return SpanExportResult.FAILURE
            self._record(len(spans), result, attempt)
            return result
        finally:
            with self._idle:
                self._exporting -= 1
                self._idle.notify_all()

    def shutdown(self) -> None:
        try:
            with self._held.holding():
                self._shut_down()
        finally:
            # At exit the filters stay: an export abandoned at the deadline may still log.
            if self.deadline is None:
                self._held.detach()
                for name in PROCESSOR_LOGGERS:
                    logging.getLogger(name).removeFilter(self._processor_noise)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    # ----------------------------------------------------------------------------------------
    # While the process runs.

    def _send(self, spans: Sequence[ReadableSpan]) -> tuple[SpanExportResult, Attempt]:
        self.retrying = False
        with self._held.holding() as attempt:
            attempt.on_warning = lambda: self._attempt_failed(attempt)
            return send(self.exporter, spans, attempt), attempt

    def _send_by(
        self, deadline: float, spans: Sequence[ReadableSpan]
    ) -> tuple[SpanExportResult, Attempt]:
        with self._held.holding() as attempt:
            if self.exit_exporter is None:  # the console: it never waits
                return send(self.exporter, spans, attempt), attempt
            return send_by(self.exit_exporter, deadline, spans, attempt), attempt

    def _record(self, span_count: int, result: SpanExportResult, attempt: Attempt) -> None:
        if result is SpanExportResult.SUCCESS:
            self._succeeded(span_count)
        else:
            self._failed(span_count, attempt)

    def _attempt_failed(self, attempt: Attempt) -> None:
        # The exporter logs a warning before it waits to retry: the collector is failing,
        # which the exit needs to know (and why) before the export ends.
        self.reason = attempt.reason()
        self.retrying = True

    def _succeeded(self, span_count: int) -> None:
        self.sent_spans += span_count
        self.retrying = False
        if self.failing:
            self._log(
                logging.INFO,
                "Exporting spans to %s works again; %d span(s) in %d batch(es) were lost "
                "while it failed.",
                self.destination,
                self.lost_spans,
                self.failed_batches,
            )
            self.reported_lost_spans += self.lost_spans
        self.failing = False
        self.failed_batches = 0
        self.lost_spans = 0

    def _failed(self, span_count: int, attempt: Attempt) -> None:
        self.failed_batches += 1
        self.lost_spans += span_count
        self.reason = attempt.reason()
        if self.deadline is not None:  # the exit's line reports it
            self.failed_at_exit = True
            self.out_of_time = self.out_of_time or attempt.timed_out
            self._log(
                logging.DEBUG,
                "At exit, exporting %d span(s) to %s failed after %.2f s: %s",
                span_count,
                self.destination,
                attempt.seconds,
                attempt.details(),
            )
            return
        if not self.failing:
            self._outage_begins()
        logger.debug(
            "Exporting %d span(s) to %s failed after %.2f s: %s",
            span_count,
            self.destination,
            attempt.seconds,
            attempt.details(),
        )

    def _outage_begins(self) -> None:
        self.failing = True
        logger.warning(
            "Cannot export spans to %s: %s. The application is not affected; spans are "
            "dropped until the collector accepts them again, which will be logged. "
            "Repeated failures are logged at DEBUG level.",
            self.destination,
            self.reason,
        )

    def _log(self, level: int, message: str, *args: object) -> None:
        if self.deadline is None:
            logger.log(level, message, *args)
        else:
            log_at_exit(logger, level, message, *args)

    def no_answer_within(self, seconds: float) -> None:
        """An export that started earlier still runs after ``seconds``: the collector does not
        answer. Told like a failure; the export is counted when it ends."""
        self.reason = Attempt(seconds=seconds).reason()
        if not self.failing:
            self._outage_begins()

    # ----------------------------------------------------------------------------------------
    # While the process exits.

    def begin_exit(self, deadline: float) -> None:
        """The process is exiting: send what comes until ``deadline`` (``time.monotonic()``).

        When the collector is already failing (an export failed, or the one running is waiting
        to retry), nothing more is tried, and an export waiting to retry stops waiting.
        """
        self.deadline = deadline
        if self.failing or self.retrying:
            self.failed_at_exit = True
            with self._held.holding():
                self._shut_down()

    def wait_idle(self, deadline: float) -> bool:
        """Wait until no export runs, at most until ``deadline``; return whether none runs."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self._exporting == 0, timeout=max(0.0, deadline - time.monotonic())
            )

    def close(self) -> None:
        """The exit is done: batches still coming are dropped without a try."""
        self.closed = True

    def _export_exiting(self, spans: Sequence[ReadableSpan], deadline: float) -> SpanExportResult:
        out_of_time = time.monotonic() >= deadline
        self.out_of_time = self.out_of_time or out_of_time
        if self.closed or self.failed_at_exit or out_of_time:
            self.lost_spans += len(spans)
            return SpanExportResult.FAILURE
        result, attempt = self._send_by(deadline, spans)
        self._record(len(spans), result, attempt)
        return result
