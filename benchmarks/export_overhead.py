"""What exporting costs a request, with the collector up, down, slow or refusing.

Run: ``python benchmarks/export_overhead.py [--quick]``. Needs the ``otlp`` and ``dev`` extras
(Rotel is installed into its cache by the test harness on first use).

Each request is ``POST /api/sms/code/`` on the example site through Django's full handler
(middleware, request span, pre_save/post_save, the SMS receiver and its custom signal), with
signal tracing exporting through the provider ``SIGNAL_TRACING["EXPORTER"] = "otlp"`` builds:
a BatchSpanProcessor and the OTLP exporter with their default queue, batch and timeout. The
collector is real Rotel (up), a closed port (down), a receiver that holds every request for
30 s (slow), or one answering HTTP 503 / gRPC UNAVAILABLE (refusing). Variants are timed in
blocks interleaved in shuffled order; medians of the blocks are compared with the same
requests untraced and with the collector up. After the timing, each failing variant sends
a burst of requests and reports how many finished spans the process still holds (the queue
bound) and what was logged.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_site")]

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    SECRET_KEY="benchmarks-only",
    DEBUG=False,
    USE_TZ=True,
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["django.contrib.contenttypes", "sms", "kitchen"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    ROOT_URLCONF="example_site.urls",
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    SMS_BACKEND="sms.backends.locmem.SmsBackend",
    LOGGING_CONFIG=None,
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

import signal_tracing  # noqa: E402
from signal_tracing.conf import Config  # noqa: E402
from signal_tracing.exporting.provider import build_provider  # noqa: E402
from tests.collector.receiver import Behaviour, grpc_receiver, http_receiver  # noqa: E402
from tests.collector.rotel import Rotel, free_port  # noqa: E402

BODY = json.dumps({"mobile": "13800138000", "sms_type": 1})


class Counter(logging.Handler):
    """Counts what reaches the log, by logger, instead of printing it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [
            f"{record.name}: {record.getMessage()[:110]}"
            for record in self.records
            if record.levelno >= logging.WARNING
        ]


LOG = Counter()
logging.getLogger().addHandler(LOG)
logging.getLogger().setLevel(logging.INFO)


@dataclass
class Variant:
    name: str
    #: OTEL_* variables for the provider; None: untraced.
    environment: dict[str, str] | None
    provider: TracerProvider | None = None
    seconds: list[float] = field(default_factory=list)

    def build(self) -> None:
        if self.environment is None:
            return
        if self.environment is RECORD_ONLY:
            # The same batch processor, with an exporter that sends nothing: what recording
            # spans costs, so the rows below show what sending them adds.
            self.provider = TracerProvider()
            self.provider.add_span_processor(BatchSpanProcessor(NothingSent()))
            return
        saved = {name: os.environ.get(name) for name in self.environment}
        os.environ.update(self.environment)
        try:
            self.provider = build_provider(Config(exporter="otlp")).provider
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def enter(self) -> None:
        if self.provider is None:
            signal_tracing.uninstrument()
        else:
            signal_tracing.instrument(tracer_provider=self.provider)


RECORD_ONLY: dict[str, str] = {}


class NothingSent(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def otlp(endpoint: str, protocol: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}


def request(client: Client) -> None:
    response = client.post("/api/sms/code/", BODY, content_type="application/json")
    if response.status_code != 201:
        raise AssertionError(f"the request failed: {response.status_code} {response.content!r}")


def timed_block(client: Client, variant: Variant, requests: int) -> float:
    variant.enter()
    started = time.perf_counter()
    for _ in range(requests):
        request(client)
    return (time.perf_counter() - started) / requests


def live_spans() -> int:
    gc.collect()
    return sum(issubclass(type(thing), ReadableSpan) for thing in gc.get_objects())


@contextlib.contextmanager
def collectors(workdir: Path) -> Iterator[dict[str, dict[str, str]]]:
    slow = Behaviour(delay=30.0)
    refusing = Behaviour(refuse_with=503)
    rotel = Rotel(workdir)
    rotel.start()
    down = f"http://127.0.0.1:{free_port()}"
    try:
        with (
            http_receiver(slow) as slow_http,
            http_receiver(refusing) as refusing_http,
            grpc_receiver(refusing) as refusing_grpc,
        ):
            yield {
                "collector up (http/protobuf)": otlp(rotel.http_endpoint, "http/protobuf"),
                "collector up (grpc)": otlp(rotel.grpc_endpoint, "grpc"),
                "collector down (http/protobuf)": otlp(down, "http/protobuf"),
                "collector down (grpc)": otlp(down, "grpc"),
                "collector slow, 30 s (http/protobuf)": otlp(slow_http, "http/protobuf"),
                "collector refusing, 503 (http/protobuf)": otlp(refusing_http, "http/protobuf"),
                "collector refusing, UNAVAILABLE (grpc)": otlp(refusing_grpc, "grpc"),
            }
    finally:
        rotel.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, for a smoke run")
    args = parser.parse_args()
    requests, repeats = (100, 5) if args.quick else (300, 11)
    burst = 2000 if args.quick else 5000

    call_command("migrate", verbosity=0)
    client = Client()
    with tempfile.TemporaryDirectory() as workdir, collectors(Path(workdir)) as endpoints:
        variants = [Variant("untraced", None), Variant("spans recorded, not sent", RECORD_ONLY)]
        variants += [Variant(name, environment) for name, environment in endpoints.items()]
        for variant in variants:
            variant.build()
            variant.enter()
            for _ in range(20):  # warm up: SQL compilation, name caches, connections
                request(client)
        rng = random.Random(6)
        for _ in range(repeats):
            order = list(variants)
            rng.shuffle(order)
            for variant in order:
                gc.collect()
                variant.seconds.append(timed_block(client, variant, requests))
        report(variants, requests, repeats)
        held = burst_memory(client, variants[4:], burst)
        per_request = spans_per_request(client)
        signal_tracing.uninstrument()
        shut_down(variants)
    print()
    print(
        f"Memory: each request makes {per_request} spans; the batch queue holds at most 2048 "
        f"finished spans plus one 512-span batch in flight, per provider ({len(variants) - 1} "
        "providers here). Live finished spans in the whole process, after each burst:"
    )
    for name, (first, second) in held.items():
        print(f"  {name}: {first} after {burst} requests, {second} after {2 * burst}")
    print()
    print("WARNING+ records logged during the whole run (all variants):")
    for line in LOG.warnings():
        print(f"  {line}")


def report(variants: list[Variant], requests: int, repeats: int) -> None:
    medians = {variant.name: statistics.median(variant.seconds) * 1e3 for variant in variants}
    untraced = medians["untraced"]
    recorded = medians["spans recorded, not sent"]
    print(f"{requests} requests per block, {repeats} blocks per variant, medians of blocks.")
    print()
    print("| variant | ms/request | + ms vs untraced | x untraced | + ms vs recorded, not sent |")
    print("|---|---:|---:|---:|---:|")
    for variant in variants:
        value = medians[variant.name]
        print(
            f"| {variant.name} | {value:.3f} | {value - untraced:+.3f} | "
            f"{value / untraced:.2f} | {value - recorded:+.3f} |"
        )


def burst_memory(client: Client, failing: list[Variant], burst: int) -> dict[str, tuple[int, int]]:
    """Live finished spans in the process after ``burst`` and after ``2 * burst`` requests."""
    held: dict[str, tuple[int, int]] = {}
    for variant in failing:
        variant.enter()
        counts = []
        for _ in range(2):
            for _ in range(burst):
                request(client)
            counts.append(live_spans())
        held[variant.name] = (counts[0], counts[1])
    return held


def spans_per_request(client: Client) -> int:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(tracer_provider=provider)
    request(client)
    signal_tracing.uninstrument()
    return len(exporter.get_finished_spans())


def shut_down(variants: list[Variant]) -> None:
    # A failing exporter's shutdown waits up to its timeout: shut them down side by side.
    import threading

    threads = [
        threading.Thread(target=variant.provider.shutdown, daemon=True)
        for variant in variants
        if variant.provider is not None
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 15
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


if __name__ == "__main__":
    main()
