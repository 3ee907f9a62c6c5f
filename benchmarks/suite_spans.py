"""How many spans a test suite exports: Django's receivers with spans of their own, or not.

Run: ``python benchmarks/suite_spans.py [--tests N]``. Each synthetic test does what a typical
project test does (the shape of django-allauth's suite, where ``setting_changed`` firings
dominated): it overrides two settings, saves a model and makes a request with the test client,
inside a test span, as ``TEST_SPANS`` gives under Django's test runner or pytest. The same
tests run with ``DJANGO_RECEIVERS`` ``"span"`` (each of Django's receivers its own span) and
with the default (``"attributes"``), and the exported spans are counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_site")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.request_settings")
os.environ.setdefault("BENCH_SIGNAL_TRACING", json.dumps({"TEST_SPANS": True}))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from sms.models import SmsCode  # noqa: E402

import signal_tracing  # noqa: E402
from signal_tracing.lifecycle import test_scope  # noqa: E402


def one_test(number: int, client: Client) -> None:
    with override_settings(SMS_CODE_TTL=60), override_settings(USE_THOUSAND_SEPARATOR=True):
        SmsCode.objects.create(mobile=f"137{number:08d}", sms_type=1)
        client.post(
            "/api/sms/code/",
            json.dumps({"mobile": f"136{number:08d}", "sms_type": 1}),
            content_type="application/json",
        )


def count_spans(tests: int, django_receivers: str) -> int:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(
        tracer_provider=provider, django_receivers=django_receivers, test_spans=True
    )
    client = Client()
    try:
        for number in range(tests):
            with test_scope(f"tests/test_synthetic.py::test_{number}"):
                one_test(number, client)
    finally:
        signal_tracing.uninstrument()
    return len(exporter.get_finished_spans())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=100)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    with_spans = count_spans(args.tests, "span")
    default = count_spans(args.tests, "attributes")
    print(f"{args.tests} tests: {with_spans:,} spans with Django's receivers spanned, ")
    print(f"{default:,} with the default: {with_spans / default:.2f}x fewer")


if __name__ == "__main__":
    main()
