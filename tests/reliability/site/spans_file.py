"""An in-process span exporter for the served site: each ended span as a JSON line in a file.

Installed as the global tracer provider by ``wsgi.py``/``asgi.py`` when RELIABILITY_SPANS_FILE
is set, before Django starts, so signal_tracing uses it (as it would any application's own
provider). Each span is written as it ends, with the layout of ``tests/collector/processor.py``
(what Rotel writes), so the same checks read both.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

SPANS_FILE = "RELIABILITY_SPANS_FILE"


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def span_as_json(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "kind": span.kind.value,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else "",
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "attributes": {key: _plain(value) for key, value in (span.attributes or {}).items()},
        "status": {"code": span.status.status_code.value, "message": ""},
        "pid": os.getpid(),
    }


class JsonLinesExporter(SpanExporter):
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_as_json(span)) + "\n" for span in spans)
        with self.lock, open(self.path, "a", encoding="utf-8") as sink:
            sink.write(lines)
        return SpanExportResult.SUCCESS


def install_from_environment() -> None:
    path = os.environ.get(SPANS_FILE)
    if path:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
        trace.set_tracer_provider(provider)
