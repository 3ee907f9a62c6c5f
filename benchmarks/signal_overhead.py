"""Overhead of signal_tracing against untraced Django, a bare SDK span, and Sentry.

Run: ``python benchmarks/signal_overhead.py [--quick] [--write]``. Every variant of a workload
is timed in the same process, with repeats interleaved in shuffled order, and the medians are
compared. ``--write`` rewrites benchmarks/RESULTS.md with the table, the machine and versions.

The unit is one bare OpenTelemetry SDK span, ``with tracer.start_as_current_span(name): pass``
on a TracerProvider with a SimpleSpanProcessor and an exporter that does nothing.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import os
import platform
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_site")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
os.environ.setdefault("SMS_BACKEND", "sms.backends.locmem.SmsBackend")

import django  # noqa: E402

django.setup()

import sentry_sdk  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models.signals import post_init, post_save  # noqa: E402
from django.dispatch import Signal  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased  # noqa: E402
from sentry_sdk.integrations.django import DjangoIntegration  # noqa: E402
from sentry_sdk.transport import Transport  # noqa: E402
from sms.models import SmsCode  # noqa: E402

import signal_tracing  # noqa: E402
from signal_tracing import spans  # noqa: E402
from signal_tracing.nesting import Scope, current_node  # noqa: E402


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class NoopTransport(Transport):
    def capture_envelope(self, envelope: Any) -> None:
        return None


def sdk_provider(sampled: bool = True) -> TracerProvider:
    provider = TracerProvider() if sampled else TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))
    return provider


PROVIDER = sdk_provider()
UNIT_TRACER = PROVIDER.get_tracer("benchmark")
PARENT_TRACER = PROVIDER.get_tracer("benchmark.parent")
UNSAMPLED = sdk_provider(sampled=False)


# --- variants: how the process is set up while one timing runs -------------------------------


@dataclass
class Variant:
    name: str
    enter: Callable[[], None]
    exit: Callable[[], None]


def _untraced() -> None:
    signal_tracing.uninstrument()


def _traced() -> None:
    # No span cap: a measured loop of thousands of firings in one "request" would otherwise
    # hit MAX_SPANS_PER_TRACE and measure dropped spans instead of recorded ones.
    signal_tracing.instrument(tracer_provider=PROVIDER, max_spans_per_trace=0)


def _traced_dropping() -> None:
    # A process whose sampler drops what has no sampled parent (a script, a worker).
    signal_tracing.instrument(tracer_provider=UNSAMPLED, max_spans_per_trace=0)


def _disabled() -> None:
    # What ENABLED=False leaves behind: nothing patched at all.
    signal_tracing.instrument(tracer_provider=PROVIDER, enabled=False)


_django_live_receivers = Signal._live_receivers
sentry_sdk.init(
    dsn="http://public@127.0.0.1:9/1",
    transport=NoopTransport,
    traces_sample_rate=1.0,
    integrations=[DjangoIntegration(signals_spans=True)],
    default_integrations=False,
)
_sentry_live_receivers = Signal._live_receivers
Signal._live_receivers = _django_live_receivers  # type: ignore[method-assign]


def _sentry_on() -> None:
    signal_tracing.uninstrument()
    Signal._live_receivers = _sentry_live_receivers  # type: ignore[method-assign]


def _sentry_off() -> None:
    Signal._live_receivers = _django_live_receivers  # type: ignore[method-assign]


def _noop() -> None:
    return None


UNTRACED = Variant("untraced Django", _untraced, _noop)
TRACED = Variant("signal_tracing", _traced, _untraced)
DISABLED = Variant("ENABLED=False", _disabled, _untraced)
DROPPING = Variant("signal_tracing, sampler drops", _traced_dropping, _untraced)
SENTRY = Variant("sentry-sdk signals_spans", _sentry_on, _sentry_off)


# --- workloads ---------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    run: Callable[[], Any]
    number: int
    variants: list[Variant]
    receiver_calls: int = 0
    #: Wrap every timed call in a parent span/transaction, as a request would be
    #: ("sampled", "unsampled"), or in nothing at all ("none").
    parent: str = "sampled"
    #: Not a tracer workload: its cost is shown in span units, for comparison.
    reference: bool = False
    #: Undo what a timing left behind (rows, outbox), outside the timed region.
    reset: Callable[[], None] | None = None
    results: dict[str, list[float]] = field(default_factory=dict)


def receiver_fn(sender: Any, **kwargs: Any) -> None:
    return None


def make_signal(receivers: int) -> Signal:
    signal = Signal()
    for index in range(receivers):

        def receiver(sender: Any, _index: int = index, **kwargs: Any) -> None:
            return None

        receiver.__qualname__ = f"receiver_{index}"
        signal.connect(receiver, weak=False)
    return signal


SIGNAL_0, SIGNAL_1, SIGNAL_5 = make_signal(0), make_signal(1), make_signal(5)


def unit_span() -> None:
    with UNIT_TRACER.start_as_current_span("unit"):
        pass


#: What a merged span for SmsCode's post_save carries: the contract's attributes, and its
#: send site (SEND_SITE_ATTRIBUTES = "compact", the default).
MERGED_SPAN_ATTRIBUTES = {
    "django.signal.name": "post_save",
    "django.signal.path": "django.db.models.signals.post_save",
    "django.signal.sender": "sms.SmsCode",
    "django.signal.method": "send",
    "django.signal.receivers": 1,
    "django.signal.depth": 0,
    "code.function.name": "sms.receivers.send_sms_code",
    "code.file.path": "/srv/example_site/sms/receivers.py",
    "code.line.number": 27,
    "django.signal.send_site": "sms/views.py:78 in resend_codes_page",
}


def sdk_span_with_attributes() -> None:
    # The SDK's own share of a merged span: the same attributes, made current, ended.
    with UNIT_TRACER.start_as_current_span(
        "post_save sms.receivers.send_sms_code", attributes=MERGED_SPAN_ATTRIBUTES
    ):
        pass


def save_one() -> None:
    # One SmsCode insert: post_save runs send_sms_code (in-memory gateway), which sends
    # sms_code_sent, whose receiver logs: two traced receiver calls per save.
    SmsCode.objects.create(mobile="13800138000", device_sn="bench-save", sms_type=1)


def reset_saves() -> None:
    from sms.backends import locmem

    SmsCode.objects.filter(device_sn="bench-save")._raw_delete(connection.alias)
    locmem.outbox.clear()


def load_rows() -> None:
    for _code in SmsCode.objects.all()[:10_000]:
        pass


def on_post_init(sender: Any, instance: Any, **kwargs: Any) -> None:
    return None


def setup_database() -> None:
    template = os.environ.get("BENCH_DATABASE")
    if template:
        # A measured process copies the database the driver built: migrating and loading
        # 10,000 rows under valgrind would take minutes per process.
        connection.ensure_connection()
        with sqlite3.connect(template) as source:
            source.backup(connection.connection)
        return
    call_command("migrate", verbosity=0, run_syncdb=True)
    SmsCode.objects.all().delete()
    post_save_receivers = post_save.receivers
    post_save.receivers = []  # bulk rows need no SMS
    try:
        SmsCode.objects.bulk_create(
            SmsCode(mobile=f"138{i:08d}", device_sn="bench", sms_type=1) for i in range(10_000)
        )
    finally:
        post_save.receivers = post_save_receivers
        post_save.sender_receivers_cache.clear()


@contextmanager
def request_scope(span: Any) -> Iterator[None]:
    """Stand in for the request scope lifecycle opens: the node firings nest under, which
    makes the request span current as ``lifecycle.scopes.enter`` does (``spans.attach``)."""
    scope = Scope("request", "GET /benchmark", span if span.is_recording() else None)
    token = current_node.set(scope)
    otel_token = spans.attach(span, scope)
    try:
        yield
    finally:
        spans.detach(otel_token)
        current_node.reset(token)


def timed(workload: Workload, variant: Variant) -> float:
    variant.enter()
    try:
        if workload.parent == "sampled" and variant is SENTRY:
            with sentry_sdk.start_transaction(name="benchmark", op="benchmark"):
                seconds = timeit.timeit(workload.run, number=workload.number)
        elif workload.parent == "sampled":
            with PARENT_TRACER.start_as_current_span("request") as span, request_scope(span):
                seconds = timeit.timeit(workload.run, number=workload.number)
        elif workload.parent == "unsampled":
            tracer = UNSAMPLED.get_tracer("parent")
            with tracer.start_as_current_span("request") as span, request_scope(span):
                seconds = timeit.timeit(workload.run, number=workload.number)
        else:
            seconds = timeit.timeit(workload.run, number=workload.number)
    finally:
        variant.exit()
        if workload.reset is not None:
            workload.reset()
    return seconds / workload.number


def run(workloads: list[Workload], repeats: int) -> None:
    rng = random.Random(1234)
    for workload in workloads:
        with workload_state(workload):
            workload.run()  # warm caches (names, sender labels, SQL compilation)
            for _ in range(repeats):
                order = list(workload.variants)
                rng.shuffle(order)
                for variant in order:
                    gc.collect()
                    workload.results.setdefault(variant.name, []).append(timed(workload, variant))


@contextmanager
def workload_state(workload: Workload) -> Iterator[None]:
    """Connect what a workload needs for its duration only."""
    if workload.name == INIT_RECEIVER_WORKLOAD:
        post_init.connect(on_post_init, sender=SmsCode)
    try:
        yield
    finally:
        post_init.disconnect(on_post_init, sender=SmsCode)


INIT_RECEIVER_WORKLOAD = "10k rows, 1 post_init receiver"


def build_workloads(scale: float) -> list[Workload]:
    def n(count: int) -> int:
        return max(int(count * scale), 1)

    return [
        Workload("bare SDK span (the unit)", unit_span, n(20_000), [UNTRACED]),
        Workload(
            "send, 0 receivers",
            lambda: SIGNAL_0.send(sender=None),
            n(500_000),
            [UNTRACED, TRACED, DISABLED],
        ),
        Workload(
            "send, 1 receiver",
            lambda: SIGNAL_1.send(sender=None),
            n(20_000),
            [UNTRACED, TRACED, SENTRY],
            receiver_calls=1,
        ),
        Workload(
            "send, 5 receivers",
            lambda: SIGNAL_5.send(sender=None),
            n(5_000),
            [UNTRACED, TRACED, SENTRY],
            receiver_calls=5,
        ),
        Workload(
            "SmsCode.save(): post_save + sms_code_sent",
            save_one,
            n(2_000),
            [UNTRACED, TRACED, DISABLED, SENTRY],
            receiver_calls=2,
            reset=reset_saves,
        ),
        Workload(
            "SmsCode.save(), trace not sampled",
            save_one,
            n(2_000),
            [UNTRACED, TRACED],
            parent="unsampled",
            reset=reset_saves,
        ),
        Workload(
            "SmsCode.save(), no parent, sampler drops",
            save_one,
            n(2_000),
            [UNTRACED, DROPPING],
            parent="none",
            reset=reset_saves,
        ),
        Workload("10k rows, no init receivers", load_rows, n(20), [UNTRACED, TRACED]),
        Workload(INIT_RECEIVER_WORKLOAD, load_rows, n(20), [UNTRACED, TRACED, SENTRY]),
        Workload(
            "reference: SDK span with a merged span's 10 attributes",
            sdk_span_with_attributes,
            n(20_000),
            [UNTRACED],
            reference=True,
        ),
    ]


VARIANTS = {variant.name: variant for variant in (UNTRACED, TRACED, DISABLED, SENTRY, DROPPING)}


# --- deterministic mode: instructions counted by valgrind's callgrind -------------------------
#
# Wall-clock medians on a shared 2-core machine swing by 2x; instruction counts do not. Each
# (workload, variant) runs in its own process under callgrind, collecting only inside
# functools.reduce, which drives the measured loop, so start-up is not counted.


def measure_one(workload_index: int, variant_name: str, scale: float) -> None:
    setup_database()
    workload = build_workloads(scale)[workload_index]
    variant = VARIANTS[variant_name]
    with workload_state(workload):
        variant.enter()
        try:
            for _ in range(3):
                workload.run()
            gc.collect()  # the measured loop starts from a collected heap in every variant
            with measured_parent(workload, variant):
                functools.reduce(_step, itertools.repeat(workload.run, workload.number), None)
        finally:
            variant.exit()


def _step(_previous: None, run: Callable[[], Any]) -> None:
    run()


@contextmanager
def measured_parent(workload: Workload, variant: Variant) -> Iterator[None]:
    if workload.parent == "sampled" and variant is SENTRY:
        with sentry_sdk.start_transaction(name="benchmark", op="benchmark"):
            yield
    elif workload.parent == "sampled":
        with PARENT_TRACER.start_as_current_span("request") as span, request_scope(span):
            yield
    elif workload.parent == "none":
        yield
    else:
        tracer = UNSAMPLED.get_tracer("parent")
        with tracer.start_as_current_span("request") as span, request_scope(span):
            yield


def count_instructions(workload_index: int, variant: Variant, scale: float) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--toggle-collect=functools_reduce",
        sys.executable,
        __file__,
        "--measure-one",
        str(workload_index),
        variant.name,
        "--scale",
        str(scale),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        # A fixed hash seed: with a random one, dict and set layouts (and so the count) differ
        # from one process to the next.
        env={**os.environ, "BENCH_DATABASE": _template_database(), "PYTHONHASHSEED": "0"},
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{result.stderr[-2000:]}")
    return int(match.group(1))


@functools.cache
def _template_database() -> str:
    """Save this process's database (migrated, 10,000 rows) for the measured processes."""
    path = os.path.join(tempfile.mkdtemp(prefix="signal-overhead-"), "bench.sqlite3")
    connection.ensure_connection()
    with sqlite3.connect(path) as target:
        connection.connection.backup(target)
    return path


def instruction_table(scale: float) -> str:
    workloads = build_workloads(scale)
    per_op: dict[tuple[int, str], float] = {}
    for index, workload in enumerate(workloads):
        for variant in workload.variants:
            per_op[index, variant.name] = (
                count_instructions(index, variant, scale) / workload.number
            )
            print(f"  {workload.name} / {variant.name}: {per_op[index, variant.name]:,.0f}")
    unit = per_op[0, UNTRACED.name]
    lines = [
        f"Unit: one bare SDK span = {unit:,.0f} instructions",
        "",
        "| workload | variant | instructions/op | x untraced | span units per receiver call |",
        "|---|---|---:|---:|---:|",
    ]
    for index, workload in enumerate(workloads[1:], start=1):
        base = per_op[index, UNTRACED.name]
        for variant in workload.variants:
            value = per_op[index, variant.name]
            units = (
                f"{(value - base) / workload.receiver_calls / unit:.2f}"
                if workload.receiver_calls and variant is not UNTRACED
                else ""
            )
            if workload.reference:
                units = f"{value / unit:.2f} (the span itself)"
            ratio = value / base
            lines.append(
                f"| {workload.name} | {variant.name} | {value:,.0f} | {ratio:.3f} | {units} |"
            )
    return "\n".join(lines)


# --- wall-clock mode ------------------------------------------------------------------------


def median_us(workload: Workload, variant: Variant) -> float:
    return statistics.median(workload.results[variant.name]) * 1e6


def wall_clock_table(scale: float, repeats: int) -> str:
    workloads = build_workloads(scale)
    run(workloads, repeats)
    unit_us = median_us(workloads[0], UNTRACED)
    lines = [
        f"Unit: one bare SDK span = {unit_us:.2f} µs",
        "",
        "| workload | variant | median µs/op | x untraced | span units per receiver call |",
        "|---|---|---:|---:|---:|",
    ]
    for workload in workloads[1:]:
        base = median_us(workload, UNTRACED)
        for variant in workload.variants:
            value = median_us(workload, variant)
            units = (
                f"{(value - base) / workload.receiver_calls / unit_us:.2f}"
                if workload.receiver_calls and variant is not UNTRACED
                else ""
            )
            if workload.reference:
                units = f"{value / unit_us:.2f} (the span itself)"
            lines.append(
                f"| {workload.name} | {variant.name} | {value:.2f} | {value / base:.3f} | {units} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/RESULTS.md")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions with valgrind (deterministic; takes ~15 minutes)",
    )
    parser.add_argument("--measure-one", nargs=2, metavar=("WORKLOAD", "VARIANT"))
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument(
        "--instructions-only", action="store_true", help="count instructions, skip wall clock"
    )
    args = parser.parse_args()

    if args.measure_one:
        measure_one(int(args.measure_one[0]), args.measure_one[1], args.scale or 0.05)
        return

    setup_database()
    if args.instructions_only:
        print(instruction_table(0.05))
        return
    scale = args.scale or (0.1 if args.quick else 1.0)
    repeats = 5 if args.quick else 15
    wall = wall_clock_table(scale, repeats)
    print(wall)
    instructions = None
    if args.instructions:
        print("\nCounting instructions under callgrind...")
        instructions = instruction_table(0.05)
        print(instructions)
    if args.write:
        write_results(wall, instructions, repeats)


def write_results(wall: str, instructions: str | None, repeats: int) -> None:
    import importlib.metadata as metadata

    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("Django", "opentelemetry-sdk", "sentry-sdk", "signal-tracing")
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    sections = [
        "# Benchmark results",
        "",
        "Produced by `python benchmarks/signal_overhead.py --instructions --write`. Machine: "
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}; {versions}.",
        "",
        '"Span units per receiver call" = (traced - untraced) / receiver calls / one bare SDK '
        "span (`with tracer.start_as_current_span(name): pass`, SimpleSpanProcessor, an exporter "
        "that does nothing). Every measured call runs inside a sampled parent span and a "
        "request scope, as in a request.",
    ]
    if instructions is not None:
        sections += [
            "",
            "## Instructions (deterministic: valgrind callgrind)",
            "",
            "Counted only inside the measured loop; independent of machine load.",
            "",
            instructions,
        ]
    sections += [
        "",
        f"## Wall clock ({repeats} interleaved repeats per variant, medians)",
        "",
        "On a shared machine these move with the load: compare ratios within one run only.",
        "",
        wall,
        "",
    ]
    (ROOT / "benchmarks" / "RESULTS.md").write_text("\n".join(sections))


if __name__ == "__main__":
    main()
