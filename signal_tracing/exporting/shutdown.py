"""Sending the last spans when the process ends, within a time budget.

Every exit of a process whose provider ``EXPORTER`` set up goes through :class:`ExitFlush`:
a normal exit (end of a command, a script or a test run, Ctrl-C, a server's graceful stop) runs
it from ``atexit``; a SIGTERM nobody handles would kill the process without ``atexit``
(``runserver`` or a plain script under ``docker stop``), so for that case only a handler runs it
and then dies of the same signal, exactly as before.

The SDK's own exit handler would wait for each batch up to the exporter's timeout, retries
included (about 8 s per command against a collector that is down, 10 s against one that does
not answer). Here the whole exit gets ``EXIT_FLUSH_TIMEOUT`` seconds: a collector that refuses
costs a few milliseconds, one that does not answer the budget, and what was not sent is counted
in one line.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from opentelemetry.sdk.trace import TracerProvider

from signal_tracing.conf import SETTING_NAME
from signal_tracing.exporting.batching import CountingBatchSpanProcessor
from signal_tracing.exporting.exit_logging import log_at_exit
from signal_tracing.exporting.guard import GuardedExporter

logger = logging.getLogger("signal_tracing.exporting")


class ExitFlush:
    """Sends what is queued within ``budget`` seconds, then logs how many spans were not sent.

    Runs once, whichever of ``atexit`` and SIGTERM comes first.
    """

    def __init__(
        self,
        provider: TracerProvider,
        processor: CountingBatchSpanProcessor,
        guard: GuardedExporter,
        budget: float,
    ) -> None:
        self.provider = provider
        self.processor = processor
        self.guard = guard
        self.budget = budget
        self.started = False
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            if self.started:
                return
            self.started = True
        deadline = time.monotonic() + self.budget
        finished = False
        try:
            self.guard.begin_exit(deadline)
            if self.guard.failed_at_exit:
                # The collector is known to fail: nothing is sent, and nothing waited for. An
                # export waiting to retry was stopped; one blocked on a collector that does not
                # answer is left behind, in a thread that ends with the process.
                self.guard.close()
                return
            # An export that started before the exit runs with the exporter's own timeout (10 s
            # by default): wait for it no longer than the budget.
            if self.guard.wait_idle(deadline):
                self.processor.force_flush(_millis_until(deadline))
            self.guard.close()
            # Shutting the provider down joins the processor's thread: only once it is idle.
            finished = self.guard.wait_idle(deadline)
            if finished:
                self.provider.shutdown()
        except Exception as error:  # the exit goes on; what was not sent is still counted
            log_at_exit(logger, logging.DEBUG, "Flushing spans at exit failed: %r", error)
        finally:
            self._report(finished)

    def flush_ahead(self) -> None:
        """Send what is queued now, within the budget, when the process is about to exit.

        ``runserver``'s child calls this when a file changed, before it restarts: the site still
        serves meanwhile, and the exit that follows finds the collector's state known and
        little or nothing left to send.
        """
        deadline = time.monotonic() + self.budget
        self.guard.send_by = deadline
        try:
            if self.guard.failing or self.guard.retrying:
                return  # the exit will not try either
            if self.guard.wait_idle(deadline):
                self.processor.force_flush(_millis_until(deadline))
            else:
                self.guard.no_answer_within(self.budget)
        except Exception as error:
            logger.debug("Flushing spans before a reload failed: %r", error)
        finally:
            self.guard.send_by = None

    def _report(self, finished: bool) -> None:
        guard = self.guard
        unsent = self.processor.spans_given() - guard.sent_spans - guard.reported_lost_spans
        if unsent <= 0:
            return
        if guard.failed_at_exit and not guard.out_of_time:
            reason = guard.reason
        elif guard.out_of_time or not finished:
            reason = (
                f"the exit budget of {self.budget:g} s "
                f"({SETTING_NAME}['EXIT_FLUSH_TIMEOUT']) ran out"
            )
        else:
            reason = "the export queue was full (OTEL_BSP_MAX_QUEUE_SIZE)"
        log_at_exit(
            logger,
            logging.WARNING,
            "%d span(s) were not sent to %s before the process exited: %s.",
            unsent,
            guard.destination,
            reason,
        )


def _millis_until(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))


def flush_on_sigterm(flush: Callable[[], None]) -> bool:
    """Call ``flush`` on an unhandled SIGTERM, then die of it; return whether a handler was
    installed.

    Nothing changes when SIGTERM already has a handler (gunicorn, uvicorn, celery install
    theirs, and their graceful exit runs ``atexit``), off the main thread, or off POSIX.
    """
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False

    def flush_then_terminate(signum: int, frame: FrameType | None) -> None:
        try:
            flush()
        finally:
            # Die of the signal itself, so the exit status is what it would have been.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, flush_then_terminate)
    return True
