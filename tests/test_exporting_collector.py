"""Export to a real OTLP collector (Rotel), over gRPC and HTTP/protobuf, from real processes.

The example site runs as ``manage.py`` subprocesses and a ``runserver`` process configured by
``SIGNAL_TRACING_EXPORTER`` and ``OTEL_*`` variables only; what the collector received is read
back and asserted: service name, span names, parent/child links, attributes, and the absence
of secrets anywhere in the exported data.
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from signal_tracing.conf import Config
from signal_tracing.exporting.provider import build_provider
from tests.collector.receiver import Behaviour, http_receiver
from tests.collector.rotel import Rotel, Span, running_rotel, wait_until
from tests.collector.site import MOBILE, ROOT, SECRET_KEY, Server, manage, site_environment
from tests.collector.tree import render_received, trace_of

pytestmark = pytest.mark.collector

PROTOCOLS = ("grpc", "http/protobuf")
FAILING_GATEWAY = "sms.backends.failing.SmsBackend"
OPENTELEMETRY_INSTRUMENT = str(Path(sys.executable).with_name("opentelemetry-instrument"))


@pytest.fixture
def rotel(tmp_path: Path) -> Iterator[Rotel]:
    with running_rotel(tmp_path) as collector:
        yield collector


def migrate(env: dict[str, str]) -> None:
    result = manage("migrate", "-v0", env=env)
    assert result.returncode == 0, result.stderr


SERVER = 2  # SpanKind.SERVER in OTLP's numbering
DISPATCH_AND_RECEIVER = (
    "django.signal.name",
    "django.signal.path",
    "django.signal.sender",
    "django.signal.method",
    "django.signal.receivers",
    "django.signal.depth",
    "django.signal.reentrant",
    "django.signal.created",
    "code.function.name",
)


def subset(attributes: dict[str, object], keys: tuple[str, ...]) -> dict[str, object]:
    return {key: attributes[key] for key in keys if key in attributes}


def named(spans: list[Span], name: str) -> list[Span]:
    """The spans called ``name``, in the order they started."""
    return sorted(
        (span for span in spans if span["name"] == name),
        key=lambda span: span["start_time_unix_nano"],
    )


# --------------------------------------------------------------------------------------------
# Short-lived processes: flushed before exit.


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_command_spans_are_flushed_before_the_process_exits(
    protocol: str, rotel: Rotel, tmp_path: Path
) -> None:
    # No scheduled export for ten minutes: only the flush at exit can send these spans.
    env = site_environment(
        tmp_path, **rotel.environment(protocol), OTEL_BSP_SCHEDULE_DELAY="600000"
    )

    migrate(env)
    # The spans left before the process exited; how long the collector takes to write them
    # down is no part of it (seconds, on a loaded machine): wait_for_spans' default.
    spans = rotel.wait_for_spans(
        lambda spans: any(span["name"].startswith("post_migrate ") for span in spans)
    )

    assert {span["resource"]["service.name"] for span in spans} == {"example_site"}
    assert {span["scope"]["name"] for span in spans} == {"signal_tracing"}
    # How long the exit takes with the collector up: tests/test_exporting_exit.py.


# --------------------------------------------------------------------------------------------
# A server: the whole tree of a request, and nothing secret.


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_failing_sms_request_exports_the_reentrant_tree(
    protocol: str, rotel: Rotel, tmp_path: Path
) -> None:
    env = site_environment(tmp_path, **rotel.environment(protocol), SMS_BACKEND=FAILING_GATEWAY)
    migrate(env)
    rotel.clear()
    server = Server(tmp_path, env)
    try:
        status, _body = server.post_json("/api/sms/code/", {"mobile": MOBILE, "sms_type": 1})
        # runserver sends request_finished after the client has its response: wait for it.
        spans = rotel.wait_for_spans(lambda spans: bool(named(spans, "request_finished send")))
    finally:
        server.stop(signal.SIGINT)

    assert status == 502
    request = trace_of(spans, "post_save sms.receivers.send_sms_code")
    # Django's own receivers ride on their firing's span (DJANGO_RECEIVERS). request_finished's
    # run in the order Django's modules connected them, which differs between Django
    # versions: compared as a set.
    (finished,) = named(request, "request_finished send")
    assert set(finished["attributes"]["django.signal.receivers.django"]) == {
        "django.db.close_old_connections",
        "django.core.cache.close_caches",
        "django.core.handlers.base.reset_urlconf",
    }
    (started,) = named(request, "request_started send")
    assert started["attributes"]["django.signal.receivers.django"] == [
        "django.db.reset_queries",
        "django.db.close_old_connections",
    ]
    assert render_received(request, keys=("django.signal.reentrant",)) == (
        "POST api/sms/code/ !ERROR\n"
        "  request_started send\n"
        "  post_save sms.receivers.send_sms_code\n"
        "    post_save sms.receivers.send_sms_code django.signal.reentrant=True\n"
        "  request_finished send"
    )
    root = next(span for span in request if span["parent_span_id"] == "")
    assert root["kind"] == SERVER
    assert subset(root["attributes"], ("http.route", "http.response.status_code")) == {
        "http.route": "api/sms/code/",
        "http.response.status_code": 502,
    }
    outer, nested = named(request, "post_save sms.receivers.send_sms_code")
    assert nested["parent_span_id"] == outer["span_id"]
    assert subset(outer["attributes"], DISPATCH_AND_RECEIVER) == {
        "django.signal.name": "post_save",
        "django.signal.path": "django.db.models.signals.post_save",
        "django.signal.sender": "sms.SmsCode",
        "django.signal.method": "send",
        "django.signal.receivers": 1,
        "django.signal.depth": 0,
        "django.signal.created": True,
        "code.function.name": "sms.receivers.send_sms_code",
    }
    assert subset(nested["attributes"], DISPATCH_AND_RECEIVER) == {
        **subset(outer["attributes"], DISPATCH_AND_RECEIVER),
        "django.signal.depth": 1,
        "django.signal.reentrant": True,
        "django.signal.created": False,
    }
    assert outer["attributes"]["code.file.path"].endswith("example_site/sms/receivers.py")
    assert {span["resource"]["service.name"] for span in spans} == {"example_site"}
    assert_no_secrets(rotel, MOBILE)


def assert_no_secrets(rotel: Rotel, *secrets: str) -> None:
    exported = rotel.raw()
    assert exported, "nothing was exported"
    for secret in (SECRET_KEY, MOBILE, MOBILE[-4:] + '"', *secrets):
        assert secret not in exported
    assert not re.search(r"passw(or)?d", exported, re.IGNORECASE)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_request_and_verify_code_export_no_phone_number_or_code(
    protocol: str, rotel: Rotel, tmp_path: Path
) -> None:
    env = site_environment(tmp_path, **rotel.environment(protocol))
    migrate(env)
    server = Server(tmp_path, env)
    try:
        requested, _ = server.post_json("/api/sms/code/", {"mobile": MOBILE, "sms_type": 1})
        wait_until(lambda: "verification code is" in server.log(), 10, "the SMS on the console")
        code = re.search(r"verification code is (\d{6})", server.log())
        assert code is not None
        verified, body = server.post_json(
            "/api/sms/verify/", {"mobile": MOBILE, "sms_code": code[1], "sms_type": 1}
        )
        spans = rotel.wait_for_spans(lambda spans: len(named(spans, "request_finished send")) == 2)
    finally:
        server.stop(signal.SIGINT)

    assert (requested, verified, body["verified"]) == (201, 200, True)
    assert named(spans, "sms_code_sent sms.receivers.log_code_sent")
    assert_no_secrets(rotel, code[1])


# --------------------------------------------------------------------------------------------
# Shutting down: flushed on SIGTERM, and bounded by the exporter's timeout.


def get_until_closed(port: int, path: str) -> int:
    """GET ``path`` over HTTP/1.0 and read until the server closes the connection; return the
    status. runserver closes it once the response is closed, so request_finished was sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1])


def test_sigterm_flushes_a_server_that_does_not_handle_it(rotel: Rotel, tmp_path: Path) -> None:
    env = site_environment(
        tmp_path, **rotel.environment("http/protobuf"), OTEL_BSP_SCHEDULE_DELAY="600000"
    )
    migrate(env)
    rotel.clear()
    server = Server(tmp_path, env)
    # runserver sends request_finished after the client has its response, and closes the
    # connection after that: waiting for the close, not for a while, the request's spans have
    # all ended when the signal comes (on a loaded machine, half a second was seen too short).
    assert get_until_closed(server.port, "/") == 200

    server.stop(signal.SIGTERM)

    assert server.process.returncode == -signal.SIGTERM
    spans = rotel.wait_for_spans(lambda spans: bool(named(spans, "request_started send")))
    assert named(spans, "request_finished send")


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_shutdown_with_the_collector_down_is_not_delayed_and_counts_what_was_not_sent(
    stop_with: int, rotel: Rotel, tmp_path: Path
) -> None:
    env = site_environment(tmp_path, **rotel.environment("grpc"), OTEL_BSP_SCHEDULE_DELAY="600000")
    migrate(env)
    rotel.stop()
    server = Server(tmp_path, env)
    assert server.get("/") == 200

    took = server.stop(stop_with)

    # The exporter's own timeout is 10 s; a refused send at exit is not retried.
    assert took.unhindered < 2.0, took
    (line,) = [line for line in server.log().splitlines() if "were not sent" in line]
    assert re.fullmatch(
        r"\d+ span\(s\) were not sent to http://127\.0\.0\.1:\d+ \(grpc\) before the "
        r"process exited: UNAVAILABLE: failed to connect to all addresses; .*Connection refused.*",
        line,
    ), line


# --------------------------------------------------------------------------------------------
# The collector goes away and comes back.


def test_requests_succeed_while_the_collector_is_down_and_export_resumes(
    rotel: Rotel, tmp_path: Path
) -> None:
    env = site_environment(
        tmp_path, **rotel.environment("http/protobuf"), OTEL_EXPORTER_OTLP_TIMEOUT="1"
    )
    migrate(env)
    rotel.stop()
    rotel.clear()
    server = Server(tmp_path, env)
    try:
        during = [server.get("/") for _ in range(30)]
        wait_until(lambda: "Cannot export spans" in server.log(), 10, "the outage warning")
        during += [server.get("/") for _ in range(30)]
        rotel.start()
        wait_until(lambda: _exported_request(rotel, server), 15, "a request's spans to arrive")
    finally:
        server.stop(signal.SIGINT)

    assert during == [200] * 60
    log = server.log()
    about_export = [line for line in log.splitlines() if "export" in line.lower()]
    assert len(about_export) == 1, about_export
    assert about_export[0].startswith("Cannot export spans to http://127.0.0.1:")
    assert "Traceback" not in log


def _exported_request(rotel: Rotel, server: Server) -> bool:
    assert server.get("/") == 200
    return bool(named(rotel.spans(), "request_started send"))


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[TracerProvider]]:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    providers: list[TracerProvider] = []
    yield providers
    for provider in providers:
        provider.shutdown()


def _live_spans() -> int:
    gc.collect()
    # type(), not isinstance(): isinstance() asks lazy objects for __class__, which loads them.
    return sum(issubclass(type(thing), ReadableSpan) for thing in gc.get_objects())


@pytest.mark.parametrize("outage", ["down", "slow"])
def test_spans_held_while_the_collector_fails_are_bounded_by_the_queue(
    outage: str,
    rotel: Rotel,
    monkeypatch: pytest.MonkeyPatch,
    built: list[TracerProvider],
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    behaviour = Behaviour(delay=3.0)
    with http_receiver(behaviour) as slow_endpoint:
        rotel.stop()
        monkeypatch.setenv(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            rotel.http_endpoint if outage == "down" else slow_endpoint,
        )
        provider = build_provider(Config(exporter="otlp")).provider
        built.append(provider)
        tracer = provider.get_tracer("tests")
        before = _live_spans()
        for _ in range(5000):
            tracer.start_span("during the outage").end()
        held = _live_spans() - before

    assert held <= 64 + 16
    if outage == "down":
        rotel.start()
        tracer.start_span("after the outage").end()
        provider.force_flush()
        rotel.wait_for_spans(lambda spans: bool(named(spans, "after the outage")), timeout=10)


# --------------------------------------------------------------------------------------------
# opentelemetry-instrument: the zero-code set-up.


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("exporter_setting", ["", "otlp"])
def test_opentelemetry_instrument_exports_through_its_own_provider(
    protocol: str, exporter_setting: str, rotel: Rotel, tmp_path: Path
) -> None:
    env = site_environment(
        tmp_path,
        **rotel.environment(protocol),
        SIGNAL_TRACING_EXPORTER=exporter_setting,
        OTEL_SERVICE_NAME="shop-zero-code",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )

    result = manage("migrate", "-v0", env=env, command=(OPENTELEMETRY_INSTRUMENT,))

    assert result.returncode == 0, result.stderr
    spans = rotel.wait_for_spans(lambda spans: bool(named(spans, "manage.py migrate")), 10)
    time.sleep(0.2)  # a second copy of any span would arrive in the same batch
    spans = rotel.spans()
    assert {span["resource"]["service.name"] for span in spans} == {"shop-zero-code"}
    # One provider, so each span is exported once, whether EXPORTER is set or not.
    ids = [span["span_id"] for span in spans]
    assert len(ids) == len(set(ids))
    assert len(named(spans, "manage.py migrate")) == 1


# --------------------------------------------------------------------------------------------
# fork() after exporting: gunicorn replaces workers long after the master exported.


def test_a_process_forked_after_exporting_opens_a_connection_of_its_own(
    rotel: Rotel, tmp_path: Path
) -> None:
    env = site_environment(
        tmp_path,
        **rotel.environment("http/protobuf"),
        DJANGO_SETTINGS_MODULE="example_site.settings",
        OTEL_BSP_SCHEDULE_DELAY="600000",
    )
    result = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_EXPORTING, str(rotel.http_port)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    held = json.loads(result.stdout)
    # Two processes writing into one keep-alive connection interleave their requests.
    assert held["shared"] == {}
    assert held["child"] >= 1  # the child's export went over a connection of its own
    spans = rotel.wait_for_spans(lambda spans: len(named(spans, "request_finished send")) == 2)
    assert len(named(spans, "request_finished send")) == 2
    assert "Cannot export" not in result.stderr


FORK_AFTER_EXPORTING = """
import json, os, sys
import django
from django.core.signals import request_finished
from opentelemetry import trace
from tests.reliability.sockets import connections_to

port = int(sys.argv[1])
django.setup()
provider = trace.get_tracer_provider()
request_finished.send(sender=None)
provider.force_flush()  # the parent now holds a keep-alive connection to the collector
exported_r, exported_w = os.pipe()
looked_r, looked_w = os.pipe()
child = os.fork()
if child == 0:
    request_finished.send(sender=None)
    provider.force_flush()
    os.write(exported_w, b"x")
    os.read(looked_r, 1)  # keep the connection open while the parent looks
    os._exit(0)
os.read(exported_r, 1)
holders = connections_to(port, [os.getpid(), child])
os.write(looked_w, b"x")
os.waitpid(child, 0)
print(json.dumps({
    "shared": {inode: sorted(pids) for inode, pids in holders.items() if len(pids) > 1},
    "child": sum(child in pids for pids in holders.values()),
}))
os._exit(0)  # this test is about the connections, not the parent's exit
"""
