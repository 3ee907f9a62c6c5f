"""A real OpenTelemetry SDK provider whose exporter counts spans and drops them.

Spans are really built, batched and exported (``BatchSpanProcessor``), so a run pays what an
application exporting its traces pays, minus the network. Each process writes its running
totals (all spans, by kind, by name) to ``$SUITES_SPANS_DIR/<pid>.json`` after every batch and
when it exits (including ``--parallel`` workers, which leave through multiprocessing's
finalizers, not ``atexit``).
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import Counter
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


def _kind(span: ReadableSpan) -> str:
    """A coarse, low-cardinality family for a span: what signal_tracing opened it for."""
    attributes = span.attributes or {}
    for key, kind in _KINDS:
        if key in attributes:
            return kind
    return span.name if span.name == "django.setup" else "other"


_KINDS = (
    ("django.signal.method", "dispatch"),  # a firing (or one merged with its only receiver)
    ("code.function.name", "receiver"),
    ("test.case.name", "test"),
    ("django.command.name", "command"),
    ("http.request.method", "request"),
)


class CountingExporter(SpanExporter):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        # A forked worker starts with a copy of the parent's totals: without this, spans the
        # parent exported before the fork are counted again in every worker's file.
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.kinds: Counter[str] = Counter()
        self.names: Counter[str] = Counter()
        self.errors = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.lock:
            self.total += len(spans)
            for span in spans:
                self.kinds[_kind(span)] += 1
                self.names[span.name] += 1
                if not span.status.is_ok:
                    self.errors += 1
            self.write()
        return SpanExportResult.SUCCESS

    def write(self) -> None:
        directory = os.environ.get("SUITES_SPANS_DIR")
        if not directory:
            return
        path = os.path.join(directory, f"{os.getpid()}.json")
        data = {
            "total": self.total,
            "error_status": self.errors,
            "kinds": dict(self.kinds),
            "names": dict(self.names),
        }
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(data, file)
        os.replace(path + ".tmp", path)

    def shutdown(self) -> None:
        pass


_provider: TracerProvider | None = None


def provider() -> TracerProvider:
    global _provider
    if _provider is None:
        exporter = CountingExporter()
        _provider = TracerProvider(resource=Resource.create({"service.name": "suite"}))
        _provider.add_span_processor(BatchSpanProcessor(exporter))
        atexit.register(_provider.shutdown)
        # --parallel workers end through multiprocessing's finalizers, never atexit, and a
        # forked worker starts with none: register one in each child. (The
        # BatchSpanProcessor re-creates its own thread in a forked child.)
        from multiprocessing import util

        util.Finalize(None, _provider.force_flush, exitpriority=100)
        util.register_after_fork(_provider, _flush_at_worker_exit)
    return _provider


def _flush_at_worker_exit(tracer_provider: TracerProvider) -> None:
    from multiprocessing import util

    util.Finalize(None, tracer_provider.force_flush, exitpriority=100)


def install_globally() -> TracerProvider:
    """Make the counting provider the global one (for ``INSTALLED_APPS``-driven tracing)."""
    result = provider()
    trace.set_tracer_provider(result)
    return result
