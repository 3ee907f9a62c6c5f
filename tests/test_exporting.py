"""Export set-up: SIGNAL_TRACING["EXPORTER"], the OTEL_* variables, and when we stay out of it.

Tests that would install a global tracer provider run in a subprocess; in this process the
global provider stays the API's placeholder. Endpoints, headers and timeouts are checked
against a real OTLP receiver (``tests/collector/receiver.py``), not by reading attributes.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExportResult

from signal_tracing.conf import Config, build_config
from signal_tracing.exporting import SetupOutcome, application_has_provider, set_up_export
from signal_tracing.exporting.exit_logging import log_at_exit
from signal_tracing.exporting.guard import GuardedExporter
from signal_tracing.exporting.provider import Built, build_provider, otlp_destination, resource
from signal_tracing.exporting.reloader import AUTORELOAD_ENV, is_autoreloader_parent
from signal_tracing.exporting.requirements import otlp_protocol
from signal_tracing.exporting.shutdown import ExitFlush, flush_on_sigterm
from tests.collector.receiver import Behaviour, grpc_receiver, http_receiver
from tests.collector.rotel import free_port
from tests.collector.site import ROOT, site_environment

OTLP = Config(exporter="otlp")


@pytest.fixture(autouse=True)
def clean_otel_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_* variable of the machine running the tests leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    assert not application_has_provider(), "a test installed a global tracer provider"
    yield
    assert not application_has_provider(), "a test installed a global tracer provider"


@pytest.fixture
def provider_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[TracerProvider]]:
    """Providers built by a test, shut down after it (their exporters hold connections)."""
    providers: list[TracerProvider] = []
    yield providers
    for provider in providers:
        provider.shutdown()


def build(providers: list[TracerProvider], config: Config = OTLP) -> TracerProvider:
    provider = build_provider(config).provider
    providers.append(provider)
    return provider


def export_one_span(provider: TracerProvider, name: str = "post_save send") -> float:
    """End a span and flush it; return how long the flush took."""
    provider.get_tracer("tests").start_span(name).end()
    started = time.monotonic()
    provider.force_flush()
    return time.monotonic() - started


# --------------------------------------------------------------------------------------------
# When nothing is set up.


def test_no_exporter_sets_up_nothing() -> None:
    assert set_up_export(Config()).outcome is SetupOutcome.NOT_ASKED


def test_disabled_tracing_sets_up_no_exporter() -> None:
    assert set_up_export(Config(enabled=False, exporter="otlp")).outcome is SetupOutcome.NOT_ASKED


def test_otel_sdk_disabled_wins_over_the_exporter_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")

    assert set_up_export(OTLP).outcome is SetupOutcome.SDK_DISABLED


def test_unsupported_protocol_is_logged_and_nothing_is_exported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")

    with caplog.at_level(logging.WARNING, "signal_tracing.exporting"):
        setup = set_up_export(OTLP)

    assert setup.outcome is SetupOutcome.UNAVAILABLE
    assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='http/json'" in caplog.text


def test_unsupported_protocol_is_check_error_e007(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")

    with override_settings(SIGNAL_TRACING={"EXPORTER": "otlp"}):
        errors = [error for error in run_checks() if error.id.startswith("signal_tracing.")]

    assert [error.id for error in errors] == ["signal_tracing.E007"]
    assert "grpc" in errors[0].hint
    assert "http/protobuf" in errors[0].hint


def test_installed_extra_gives_no_check_error() -> None:
    with override_settings(SIGNAL_TRACING={"EXPORTER": "otlp"}):
        errors = [error for error in run_checks() if error.id.startswith("signal_tracing.")]

    assert errors == []


# --------------------------------------------------------------------------------------------
# Resource and sampler: what the SDK reads, and the service name we decide.


@pytest.mark.parametrize(
    ("environment", "setting", "service_name"),
    [
        ({}, None, "example_site"),
        ({}, "shop", "shop"),
        ({"OTEL_SERVICE_NAME": "shop-eu"}, "shop", "shop-eu"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=shop-us"}, "shop", "shop-us"),
        (
            {"OTEL_SERVICE_NAME": "shop-eu", "OTEL_RESOURCE_ATTRIBUTES": "service.name=shop-us"},
            None,
            "shop-eu",
        ),
    ],
)
def test_service_name_from_environment_then_setting_then_settings_module(
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    setting: str | None,
    service_name: str,
) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "example_site.settings")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    attributes = resource(Config(exporter="otlp", service_name=setting)).attributes

    assert attributes["service.name"] == service_name


def test_resource_attributes_from_environment_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,team=web")

    attributes = resource(Config(exporter="otlp", service_name="shop")).attributes

    assert attributes["deployment.environment.name"] == "staging"
    assert attributes["team"] == "web"
    assert attributes["service.name"] == "shop"


def test_sampler_variables_are_honoured(
    monkeypatch: pytest.MonkeyPatch, provider_for: list[TracerProvider]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")

    provider = build(provider_for)

    assert provider.sampler.get_description() == "TraceIdRatioBased{0.25}"


def test_always_off_sampler_records_nothing(
    monkeypatch: pytest.MonkeyPatch, provider_for: list[TracerProvider]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")

    span = build(provider_for).get_tracer("tests").start_span("post_save send")

    assert not span.is_recording()


# --------------------------------------------------------------------------------------------
# Exporter variables, checked on the wire.


def test_protocol_specific_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")

    assert otlp_protocol(os.environ) == ("http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")


def test_default_protocol_is_http_protobuf_to_port_4318(provider_for: list[TracerProvider]) -> None:
    built = build_provider(OTLP)
    provider_for.append(built.provider)
    destination = built.destination

    assert otlp_protocol(os.environ) == ("http/protobuf", None)
    assert destination == "http://localhost:4318/v1/traces (http/protobuf)"


@pytest.mark.parametrize(
    ("environment", "destination"),
    [
        ({}, "http://localhost:4318/v1/traces (http/protobuf)"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http://localhost:4317 (grpc)"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:s3cret@collector.example:4318/"},
            "https://collector.example:4318/v1/traces (http/protobuf)",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://general:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/custom/path",
            },
            "http://traces:4318/custom/path (http/protobuf)",
        ),
    ],
)
def test_destination_named_in_the_log_follows_the_variables_without_credentials(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], destination: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert otlp_destination() == destination


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_endpoint_and_headers_reach_the_receiver(
    protocol: str, monkeypatch: pytest.MonkeyPatch, provider_for: list[TracerProvider]
) -> None:
    behaviour = Behaviour()
    receiver = grpc_receiver if protocol == "grpc" else http_receiver
    with receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t0ken,x-tenant=a")
        export_one_span(build(provider_for))

    assert behaviour.span_names() == ["post_save send"]
    headers = behaviour.requests[0].headers
    assert headers["authorization"] == "Bearer t0ken"
    assert headers["x-tenant"] == "a"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_traces_specific_endpoint_and_headers_win(
    protocol: str, monkeypatch: pytest.MonkeyPatch, provider_for: list[TracerProvider]
) -> None:
    behaviour = Behaviour()
    receiver = grpc_receiver if protocol == "grpc" else http_receiver
    with receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # discard port
        specific = endpoint if protocol == "grpc" else f"{endpoint}/v1/traces"
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=general")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=traces")
        export_one_span(build(provider_for))

    assert behaviour.span_names() == ["post_save send"]
    assert behaviour.requests[0].headers["x-tenant"] == "traces"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_timeout_variable_is_in_seconds_and_bounds_an_export(
    protocol: str, monkeypatch: pytest.MonkeyPatch, provider_for: list[TracerProvider]
) -> None:
    # The specification says milliseconds; Python's exporters read seconds. 1 means 1 s here.
    behaviour = Behaviour(delay=4.0)
    receiver = grpc_receiver if protocol == "grpc" else http_receiver
    with receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
        took = export_one_span(build(provider_for))

    assert 0.8 < took < 3.0


# --------------------------------------------------------------------------------------------
# A failing collector: said once, and its recovery once.


def _unused_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    ("protocol", "refuse_with", "timeout", "reason"),
    [
        # 1.5 s leaves time for one retry, whose warning names the status.
        ("http/protobuf", 503, "1.5", "Service Unavailable"),
        ("http/protobuf", 401, "0.5", "401"),
        ("http/protobuf", "down", "1.5", "Connection refused"),
        ("grpc", 503, "0.5", "UNAVAILABLE"),
        ("grpc", "down", "0.5", "UNAVAILABLE"),
    ],
)
def test_outage_is_logged_once_then_recovery_once(
    protocol: str,
    refuse_with: int | str,
    timeout: str,
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    provider_for: list[TracerProvider],
    caplog: pytest.LogCaptureFixture,
) -> None:
    behaviour = Behaviour(refuse_with=refuse_with if isinstance(refuse_with, int) else None)
    receiver = grpc_receiver if protocol == "grpc" else http_receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", timeout)
    with receiver(behaviour) as endpoint, caplog.at_level(logging.DEBUG):
        down = _unused_endpoint()
        monkeypatch.setenv(
            "OTEL_EXPORTER_OTLP_ENDPOINT", down if refuse_with == "down" else endpoint
        )
        failing = build(provider_for)
        for _ in range(3):
            export_one_span(failing, "failed batch")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        # The same guard sees the collector come back (a new exporter for "down").
        recovering = failing if refuse_with != "down" else None
        behaviour.refuse_with = None
        if recovering is not None:
            export_one_span(recovering, "exported")
            export_one_span(recovering, "exported")

    ours = [record for record in caplog.records if record.name == "signal_tracing.exporting"]
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1, [record.getMessage() for record in warnings]
    assert warnings[0].name == "signal_tracing.exporting"
    assert "Cannot export spans to" in warnings[0].getMessage()
    assert reason in warnings[0].getMessage()
    # The details of each failed export, the first one's included, at DEBUG.
    assert [record.levelname for record in ours].count("DEBUG") == 3
    if recovering is not None:
        assert [record.levelname for record in ours][-1] == "INFO"
        assert "works again; 3 span(s) in 3 batch(es) were lost" in ours[-1].getMessage()
        assert behaviour.span_names().count("exported") == 2


# --------------------------------------------------------------------------------------------
# In a real process: the application's provider, the console, a missing extra.


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_application_provider_is_used_and_left_unchanged(tmp_path: Path) -> None:
    env = site_environment(
        tmp_path, DJANGO_SETTINGS_MODULE="example_site.settings", SIGNAL_TRACING_EXPORTER="otlp"
    )
    result = run_python(
        """
        import django
        from django.core.signals import request_finished
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        mine = TracerProvider()
        mine.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(mine)
        django.setup()
        request_finished.send(sender=None)
        print(trace.get_tracer_provider() is mine)
        print("request_finished send" in {span.name for span in exporter.get_finished_spans()})
        """,
        env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True", "True"]


def test_console_exporter_writes_spans_to_stderr_and_keeps_stdout_clean(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "example_site" / "manage.py"), "migrate", "-v0"],
        env=site_environment(tmp_path, SIGNAL_TRACING_EXPORTER="console"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert '"name": "post_migrate ' in result.stderr
    assert '"service.name": "example_site"' in result.stderr


def _interpreter_without_sdk(directory: Path) -> list[str]:
    """This venv's packages minus the OpenTelemetry SDK and exporters, as PYTHONPATH entries.

    A real interpreter where ``import opentelemetry.sdk`` fails, as on a machine that
    installed ``signal-tracing`` without the ``otlp`` extra.
    """
    import django
    import opentelemetry.trace

    site_packages = Path(django.__file__).parent.parent
    namespace = Path(opentelemetry.trace.__file__).parent.parent
    keep = ("django", "asgiref", "sqlparse", "typing_extensions", "opentelemetry_api")
    for entry in site_packages.iterdir():
        if entry.name.startswith(keep):
            (directory / entry.name).symlink_to(entry)
    (directory / "opentelemetry").mkdir()
    for entry in namespace.iterdir():
        if entry.name not in {"sdk", "exporter", "proto", "distro", "instrumentation", "semconv"}:
            (directory / "opentelemetry" / entry.name).symlink_to(entry)
    return [str(directory), str(ROOT), str(ROOT / "example_site")]


def test_otlp_without_the_extra_is_check_error_e006_not_a_crash(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    packages.mkdir()
    env = site_environment(tmp_path, PYTHONPATH=os.pathsep.join(_interpreter_without_sdk(packages)))
    manage = [sys.executable, "-S", str(ROOT / "example_site" / "manage.py")]

    check = subprocess.run(
        [*manage, "check"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    served = subprocess.run(
        [sys.executable, "-S", "-c", "from example_site.wsgi import application; print('ok')"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert check.returncode == 1
    assert "(signal_tracing.E006) SIGNAL_TRACING['EXPORTER'] is 'otlp'" in check.stderr
    assert 'HINT: Install the extra: pip install "signal-tracing[otlp]".' in check.stderr
    assert "Traceback" not in check.stderr
    # A WSGI server runs no checks: the application starts, and the log says why no export.
    assert served.returncode == 0, served.stderr
    assert served.stdout == "ok\n"
    assert "Not exporting spans: SIGNAL_TRACING['EXPORTER'] is 'otlp'" in served.stderr
    assert "Traceback" not in served.stderr


# --------------------------------------------------------------------------------------------
# SIGTERM: flushed only where nobody handles it (the flush itself: test_exporting_collector).


def never_called() -> None:
    raise AssertionError("the flush ran")


def test_existing_sigterm_handler_is_left_alone() -> None:
    def servers_handler(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, servers_handler)
    try:
        assert not flush_on_sigterm(never_called)
        assert signal.getsignal(signal.SIGTERM) is servers_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_no_handler_is_installed_from_another_thread() -> None:
    installed: list[bool] = []
    thread = threading.Thread(target=lambda: installed.append(flush_on_sigterm(never_called)))
    thread.start()
    thread.join()

    assert installed == [False]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_exporter_that_raises_is_one_warning_and_a_failed_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = io.StringIO()
    closed.close()
    guard = GuardedExporter(ConsoleSpanExporter(out=closed), "the console (stderr)")
    provider = TracerProvider()
    span = provider.get_tracer("tests").start_span("post_save send")
    span.end()

    with caplog.at_level(logging.DEBUG, "signal_tracing.exporting"):
        results = [guard.export([span]), guard.export([span])]
    guard.shutdown()

    assert results == [SpanExportResult.FAILURE, SpanExportResult.FAILURE]
    assert [record.levelname for record in caplog.records] == ["WARNING", "DEBUG", "DEBUG"]
    assert "ValueError: I/O operation on closed file" in caplog.records[0].getMessage()


# --------------------------------------------------------------------------------------------
# Log lines are never cut: a short reason in the warning, the exporter's own words at DEBUG.


def test_outage_warning_is_whole_with_the_exporters_messages_at_debug(
    monkeypatch: pytest.MonkeyPatch,
    provider_for: list[TracerProvider],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The HTTP exporter's message for a refused connection is some 330 characters long; 1.5 s
    # leaves time for the retry that logs it.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", _unused_endpoint())
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1.5")
    with caplog.at_level(logging.DEBUG, "signal_tracing.exporting"):
        export_one_span(build(provider_for))

    warning, details = (r for r in caplog.records if r.name == "signal_tracing.exporting")
    assert warning.getMessage() == (
        f"Cannot export spans to {otlp_destination()}: Connection refused. The application is "
        "not affected; spans are dropped until the collector accepts them again, which will be "
        "logged. Repeated failures are logged at DEBUG level."
    )
    assert details.levelname == "DEBUG"
    assert "Max retries exceeded with url: /v1/traces" in details.getMessage()
    assert "[Errno 111] Connection refused" in details.getMessage()
    assert "…" not in details.getMessage()


# --------------------------------------------------------------------------------------------
# Exit: one budget for the whole exit, each span that was not sent counted in one line.


def exit_flush(built: Built, budget: float = 1.0) -> ExitFlush:
    return ExitFlush(built.provider, built.processor, built.guard, budget)


def built_for(providers: list[TracerProvider]) -> Built:
    built = build_provider(OTLP)
    providers.append(built.provider)
    return built


def end_spans(built: Built, count: int, name: str = "post_save send") -> None:
    tracer = built.provider.get_tracer("tests")
    for _ in range(count):
        tracer.start_span(name).end()


def exit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "signal_tracing.exporting" and record.levelno >= logging.INFO
    ]


def test_exit_against_a_slow_collector_is_bounded_by_the_budget_and_counts_every_span(
    monkeypatch: pytest.MonkeyPatch,
    provider_for: list[TracerProvider],
    caplog: pytest.LogCaptureFixture,
) -> None:
    behaviour = Behaviour(delay=3.0)
    with http_receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1024")
        built = built_for(provider_for)
        end_spans(built, 2000)  # half of them dropped at once: the queue holds 1,024

        started = time.monotonic()
        with caplog.at_level(logging.DEBUG, "signal_tracing.exporting"):
            exit_flush(built, budget=1.0)()
        took = time.monotonic() - started

    assert took < 1.0 + 0.5
    assert exit_lines(caplog) == [
        f"2000 span(s) were not sent to {built.destination} before the process exited: "
        "the exit budget of 1 s (SIGNAL_TRACING['EXIT_FLUSH_TIMEOUT']) ran out."
    ]


def test_at_exit_batches_are_sent_until_one_fails(
    monkeypatch: pytest.MonkeyPatch, provider_for: list[TracerProvider]
) -> None:
    behaviour = Behaviour()
    with http_receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        built = built_for(provider_for)
        span = built.provider.get_tracer("tests").start_span("post_save send")
        span.end()

        built.guard.begin_exit(time.monotonic() + 5)
        results = [built.guard.export([span])]
        behaviour.refuse_with = 401
        results += [built.guard.export([span]), built.guard.export([span])]

    assert results == [SpanExportResult.SUCCESS, *[SpanExportResult.FAILURE] * 2]
    assert len(behaviour.requests) == 2  # the batch after the failure was never sent


def test_a_send_that_fails_at_exit_is_not_retried(
    monkeypatch: pytest.MonkeyPatch, provider_for: list[TracerProvider]
) -> None:
    # 503 is retryable: running, the exporter would try again after 1 s, 2 s, 4 s...
    behaviour = Behaviour(refuse_with=503)
    with http_receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        built = built_for(provider_for)
        end_spans(built, 3)

        started = time.monotonic()
        exit_flush(built, budget=5.0)()
        took = time.monotonic() - started

    assert took < 0.5
    assert len(behaviour.requests) == 1
    assert built.guard.reason.startswith("Transient error Service Unavailable")


def test_a_zero_budget_sends_nothing_at_exit_and_counts_it(
    monkeypatch: pytest.MonkeyPatch,
    provider_for: list[TracerProvider],
    caplog: pytest.LogCaptureFixture,
) -> None:
    behaviour = Behaviour()
    with http_receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        built = built_for(provider_for)
        end_spans(built, 7)
        with caplog.at_level(logging.INFO, "signal_tracing.exporting"):
            exit_flush(built, budget=0)()

    assert behaviour.requests == []
    assert exit_lines(caplog) == [
        f"7 span(s) were not sent to {built.destination} before the process exited: "
        "the exit budget of 0 s (SIGNAL_TRACING['EXIT_FLUSH_TIMEOUT']) ran out."
    ]


def test_spans_ended_after_the_exit_are_dropped_without_a_log_line(
    monkeypatch: pytest.MonkeyPatch,
    provider_for: list[TracerProvider],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # runserver's threads keep serving while its child exits after a reload.
    behaviour = Behaviour()
    with http_receiver(behaviour) as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        built = built_for(provider_for)
        end_spans(built, 2, "before the exit")
        exit_flush(built)()
        with caplog.at_level(logging.DEBUG):
            end_spans(built, 50, "after the exit")

    assert behaviour.span_names() == ["before the exit"] * 2
    assert caplog.records == []


def test_exit_line_counts_what_a_forked_worker_ended_not_its_parent(tmp_path: Path) -> None:
    # gunicorn --preload: the exporter is set up before the fork; each worker counts its own.
    env = site_environment(
        tmp_path,
        DJANGO_SETTINGS_MODULE="example_site.settings",
        OTEL_EXPORTER_OTLP_ENDPOINT=_unused_endpoint(),
        OTEL_BSP_SCHEDULE_DELAY="600000",
    )
    result = run_python(
        """
        import os, django
        from django.dispatch import Signal
        django.setup()
        order_placed = Signal()
        def reserve_stock(sender, **kwargs): pass
        def email_customer(sender, **kwargs): pass
        order_placed.connect(reserve_stock)
        order_placed.connect(email_customer)
        for _ in range(10):
            order_placed.send(sender=None)
        pid = os.fork()
        if pid == 0:
            order_placed.send(sender=None)
            raise SystemExit(0)  # exits through atexit, like a worker
        os.waitpid(pid, 0)
        os._exit(0)  # the parent's count is not what this test reads
        """,
        env,
    )

    assert result.returncode == 0, result.stderr
    # The worker's one firing: its span and its two receivers' spans (the parent's 30 spans,
    # had they leaked into the worker's count, would make it 33).
    (line,) = [line for line in result.stderr.splitlines() if "were not sent" in line]
    assert line.startswith("3 span(s) were not sent to http://127.0.0.1:"), result.stderr


# --------------------------------------------------------------------------------------------
# Logging at exit: a handler whose stream was closed (pytest's capture) is passed over.


def test_logging_at_exit_skips_a_closed_stream_and_reaches_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = io.StringIO()
    handler = logging.StreamHandler(closed)
    exporting_logger = logging.getLogger("signal_tracing.exporting.tests")
    exporting_logger.addHandler(handler)
    exporting_logger.propagate = False
    closed.close()
    try:
        log_at_exit(exporting_logger, logging.WARNING, "%d span(s) were not sent", 3)
    finally:
        exporting_logger.removeHandler(handler)
        exporting_logger.propagate = True

    assert capsys.readouterr().err == "3 span(s) were not sent\n"


def test_logging_at_exit_uses_the_handlers_that_can_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, "signal_tracing.exporting"):
        log_at_exit(logging.getLogger("signal_tracing.exporting"), logging.DEBUG, "not shown")
        log_at_exit(logging.getLogger("signal_tracing.exporting"), logging.INFO, "shown %s", 1)

    assert [record.getMessage() for record in caplog.records] == ["shown 1"]


# --------------------------------------------------------------------------------------------
# runserver's autoreloader: its watching process sets nothing up.


@pytest.mark.parametrize(
    ("argv", "run_main", "watcher"),
    [
        (["manage.py", "runserver"], None, True),
        (["manage.py", "runserver", "0.0.0.0:8000", "--settings=mysite.dev"], None, True),
        (["django-admin", "runserver"], None, True),
        (["manage.py", "runserver"], "true", False),  # the child that serves
        (["manage.py", "runserver", "--noreload"], None, False),
        (["manage.py", "migrate"], None, False),
        (["gunicorn", "mysite.wsgi"], None, False),
        (["manage.py"], None, False),
    ],
)
def test_autoreloader_parent_is_recognised_as_django_recognises_it(
    argv: list[str], run_main: str | None, watcher: bool
) -> None:
    environ = {} if run_main is None else {"RUN_MAIN": run_main}

    assert is_autoreloader_parent(argv, environ) is watcher


def test_autoreload_variable_is_djangos() -> None:
    from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

    assert AUTORELOAD_ENV == DJANGO_AUTORELOAD_ENV


def test_autoreloader_parent_sets_up_no_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver"])
    monkeypatch.delenv("RUN_MAIN", raising=False)

    assert set_up_export(OTLP).outcome is SetupOutcome.AUTORELOADER_PARENT


# --------------------------------------------------------------------------------------------
# The exit budget setting.


@pytest.mark.parametrize("value", [-1, "2", True, float("inf")])
def test_exit_flush_timeout_must_be_seconds(value: object) -> None:
    with override_settings(SIGNAL_TRACING={"EXIT_FLUSH_TIMEOUT": value}):
        errors = [error for error in run_checks() if error.id.startswith("signal_tracing.")]

    assert [error.id for error in errors] == ["signal_tracing.E003"]
    assert errors[0].hint == "EXIT_FLUSH_TIMEOUT must be a number of seconds >= 0."


def test_exit_flush_timeout_reaches_the_config() -> None:
    assert Config().exit_flush_timeout == 2.0
    assert build_config({"EXIT_FLUSH_TIMEOUT": 1}).exit_flush_timeout == 1.0
