"""Instructions per request: the example site's ``POST /api/sms/code/``, traced many ways.

Run: ``python benchmarks/request_overhead.py [--requests N] [--write]``. Each variant runs in a
process of its own under valgrind's callgrind, which counts the instructions of the measured
requests only (everything inside ``functools.reduce``): start-up, migrations and warm-up
requests are not counted. The request goes through the example site's whole middleware stack
as a WSGI server would call it (``request_started`` and ``request_finished`` included, with
Django's ``close_old_connections``), with a new mobile number each time, the in-memory SMS
gateway and in-memory SQLite. ``--write`` puts the table in benchmarks/RESULTS.md (between
the markers of its "Requests" section).
"""

from __future__ import annotations

import argparse
import functools
import gc
import io
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_site")]

#: Every signal policy off: what is left is the request span alone.
ALL_OFF = {
    "DEFAULT_POLICY": "off",
    "POLICIES": {
        "django.db.models.signals.pre_init": "off",
        "django.db.models.signals.post_init": "off",
    },
}


@dataclass(frozen=True)
class Variant:
    name: str
    #: The SIGNAL_TRACING setting; None: signal_tracing is not installed.
    signal_tracing: dict[str, Any] | None = None
    #: The global tracer provider's sampler: "on", "off", or None for no SDK at all.
    sdk: str | None = None
    otel_django: bool = False
    sentry: bool = False
    #: A signal_tracing variant whose spans this one emits by hand (see ``replay_spans``).
    floor_of: str | None = None


VARIANTS = (
    Variant("untraced"),
    Variant("signal_tracing defaults", signal_tracing={}, sdk="on"),
    Variant("signal_tracing, unsampled (ALWAYS_OFF)", signal_tracing={}, sdk="off"),
    Variant("signal_tracing, request span alone", signal_tracing=ALL_OFF, sdk="on"),
    Variant("signal_tracing, lean", signal_tracing={"DJANGO_RECEIVERS": "count"}, sdk="on"),
    Variant("opentelemetry-instrumentation-django", sdk="on", otel_django=True),
    Variant("both", signal_tracing={}, sdk="on", otel_django=True),
    Variant("sentry-sdk signals_spans", sentry=True),
    # What the OpenTelemetry SDK alone charges for the spans a signal_tracing variant emits:
    # the same spans (names, kinds, attributes, nesting, each made current) started and ended
    # straight through the API around the untraced request, with nothing worked out. No
    # tracer that emits those spans through the API can cost less.
    Variant("SDK floor: the defaults' 5 spans", sdk="on", floor_of="signal_tracing defaults"),
    Variant("SDK floor: the lean 3 spans", sdk="on", floor_of="signal_tracing, lean"),
    Variant(
        "SDK floor: the request span alone",
        sdk="on",
        floor_of="signal_tracing, request span alone",
    ),
)
BY_NAME = {variant.name: variant for variant in VARIANTS}


# --- one variant, in this process -------------------------------------------------------------


def set_up(
    variant: Variant, database: str, spans: list[dict[str, Any]] | None = None
) -> Callable[[int], None]:
    """Configure the process as ``variant`` says; return the function that makes one request.

    ``spans`` (a floor variant's, from ``capture_spans``) are emitted around each request.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.request_settings"
    if variant.signal_tracing is not None:
        os.environ["BENCH_SIGNAL_TRACING"] = json.dumps(variant.signal_tracing)
    if variant.sdk is not None:
        _global_provider(sampled=variant.sdk == "on")
    if variant.sentry:
        _sentry()
    import django

    django.setup()
    if variant.otel_django:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument()
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    connection.ensure_connection()
    with sqlite3.connect(database) as template:
        template.backup(connection.connection)
    application = get_wsgi_application()

    def one_request(number: int) -> None:
        body = json.dumps({"mobile": f"139{number:08d}", "sms_type": 1}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/sms/code/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        statuses: list[str] = []
        response = application(environ, lambda status, headers: statuses.append(status))
        for _chunk in response:
            pass
        response.close()  # sends request_finished, as a WSGI server does
        if statuses != ["201 Created"]:
            raise RuntimeError(f"POST /api/sms/code/ answered {statuses}")

    if spans is not None:
        return replay_spans(spans, one_request)
    return one_request


# --- the SDK floor ----------------------------------------------------------------------------


def capture_spans(variant: Variant, database: str) -> list[dict[str, Any]]:
    """The spans one request exports under ``variant``, as plain data, parents first."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    one_request = set_up(Variant(variant.name, signal_tracing=variant.signal_tracing), database)
    for number in range(5):
        one_request(number)
    exporter.clear()
    one_request(5)
    finished = sorted(exporter.get_finished_spans(), key=lambda span: span.start_time or 0)
    index = {span.context.span_id: position for position, span in enumerate(finished)}
    return [
        {
            "name": span.name,
            "kind": span.kind.name,
            "attributes": {
                key: list(value) if isinstance(value, tuple) else value
                for key, value in (span.attributes or {}).items()
            },
            "parent": index.get(span.parent.span_id) if span.parent is not None else None,
        }
        for span in finished
    ]


def replay_spans(
    spans: list[dict[str, Any]], one_request: Callable[[int], None]
) -> Callable[[int], None]:
    """Wrap ``one_request``: each call emits ``spans`` through the API, the request inside.

    Every attribute is given when its span starts (the cheapest way the SDK takes them), and
    each span is current while its children are emitted, as a tracer's would be.
    """
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind

    tracer = trace.get_tracer("floor")
    children: dict[int | None, list[int]] = {}
    for position, span in enumerate(spans):
        children.setdefault(span["parent"], []).append(position)
    prepared = [
        (
            span["name"],
            SpanKind[span["kind"]],
            {
                key: tuple(value) if isinstance(value, list) else value
                for key, value in span["attributes"].items()
            },
        )
        for span in spans
    ]

    def emit(position: int, inside: Callable[[], None] | None) -> None:
        name, kind, attributes = prepared[position]
        span = tracer.start_span(name, kind=kind, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span))
        for child in children.get(position, ()):
            emit(child, None)
        if inside is not None:
            inside()
        context.detach(token)
        span.end()

    roots = children.get(None, [])

    def floor_request(number: int) -> None:
        for position, root in enumerate(roots):
            # The request runs inside the first root (the request span), as it would.
            emit(root, functools.partial(one_request, number) if position == 0 else None)
        if not roots:
            one_request(number)

    return floor_request


def _global_provider(sampled: bool) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    class DoNothingExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
    provider.add_span_processor(BatchSpanProcessor(DoNothingExporter()))
    trace.set_tracer_provider(provider)


def _sentry() -> None:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.transport import Transport

    class DroppingTransport(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            return None

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=DroppingTransport,
        traces_sample_rate=1.0,
        integrations=[DjangoIntegration(signals_spans=True)],
        default_integrations=False,
    )


def measure(
    variant: Variant, database: str, requests: int, spans: list[dict[str, Any]] | None = None
) -> None:
    one_request = set_up(variant, database, spans)
    numbers = itertools.count()
    for _ in range(5):  # warm caches: names, SQL compilation, templates, lazy imports
        one_request(next(numbers))
    # Start from a collected heap: otherwise whether the youngest generation's collection
    # (about one per 25 requests here, ~110,000 instructions) falls among the measured requests
    # depends on what set-up allocated, not on the variant. Enough requests are measured that
    # the collections a variant's own allocations cause are counted in proportion.
    gc.collect()
    functools.reduce(_step, itertools.islice(numbers, requests), one_request)


def _step(one_request: Callable[[int], None], number: int) -> Callable[[int], None]:
    one_request(number)
    return one_request


# --- the driver -------------------------------------------------------------------------------


def build_database(path: str) -> None:
    """Migrate once, outside valgrind: each measured process copies the result into memory."""
    subprocess.run(
        [sys.executable, __file__, "--build-database", path], check=True, capture_output=True
    )


def _migrate_into(path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.request_settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with sqlite3.connect(path) as target:
        connection.connection.backup(target)


def count_instructions(
    variant: Variant, database: str, requests: int, spans_file: str | None = None
) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--toggle-collect=functools_reduce",
        sys.executable,
        __file__,
        "--measure",
        variant.name,
        "--database",
        database,
        "--requests",
        str(requests),
        *(["--spans", spans_file] if spans_file is not None else []),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode or match is None:
        raise RuntimeError(f"{variant.name}: callgrind failed:\n{result.stderr[-3000:]}")
    return int(match.group(1))


def table(per_request: dict[str, float]) -> str:
    base = per_request["untraced"]
    lines = [
        "| variant | instructions/request | x untraced |",
        "|---|---:|---:|",
    ]
    for name, value in per_request.items():
        lines.append(f"| {name} | {value:,.0f} | {value / base:.3f} |")
    return "\n".join(lines)


MARKERS = ("<!-- requests: start -->", "<!-- requests: end -->")


def write_results(text: str) -> None:
    path = ROOT / "benchmarks" / "RESULTS.md"
    results = path.read_text()
    start, end = MARKERS
    section = f"{start}\n{text}\n{end}"
    if start in results:
        before, rest = results.split(start, 1)
        results = before + section + rest.split(end, 1)[1]
    else:
        results += "\n" + section + "\n"
    path.write_text(results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--variants", nargs="*", default=[variant.name for variant in VARIANTS])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--measure")
    parser.add_argument("--database")
    parser.add_argument("--build-database")
    parser.add_argument("--spans", help="a floor variant's spans (JSON, from --capture-spans)")
    parser.add_argument("--capture-spans", metavar="FILE")
    args = parser.parse_args()
    if args.build_database:
        _migrate_into(args.build_database)
        return
    if args.capture_spans:
        captured = capture_spans(BY_NAME[args.measure], args.database)
        Path(args.capture_spans).write_text(json.dumps(captured))
        return
    if args.measure:
        spans = json.loads(Path(args.spans).read_text()) if args.spans else None
        measure(BY_NAME[args.measure], args.database, args.requests, spans)
        return
    with tempfile.TemporaryDirectory() as directory:
        database = str(Path(directory) / "migrated.sqlite3")
        build_database(database)
        per_request: dict[str, float] = {}
        for name in ["untraced", *[n for n in args.variants if n != "untraced"]]:
            variant = BY_NAME[name]
            spans_file = None
            if variant.floor_of is not None:
                spans_file = str(Path(directory) / f"spans-{len(per_request)}.json")
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--measure",
                        variant.floor_of,
                        "--database",
                        database,
                        "--capture-spans",
                        spans_file,
                    ],
                    check=True,
                    capture_output=True,
                )
            per_request[name] = (
                count_instructions(variant, database, args.requests, spans_file) / args.requests
            )
            print(f"  {name}: {per_request[name]:,.0f}", flush=True)
    text = table(per_request)
    print(text)
    if args.write:
        write_results(text)


if __name__ == "__main__":
    main()
