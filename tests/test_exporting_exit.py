"""Exiting with the collector down, silent or up: one budget, one line, no failure.

Each case runs real processes of the example site (``manage.py`` commands, a pytest run,
``runserver`` with its autoreloader) against a real closed port, a real listener that accepts
and never answers, or Rotel. How long each process's exit handlers took is measured inside the
process (``tests/collector/exitclock``): the whole process's exit also includes the
interpreter's own teardown, which takes 0.3 to 0.9 s on a busy 2-core machine with or
without tracing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.collector.rotel import Rotel, free_port, running_rotel, wait_until
from tests.collector.silent import silent_collector
from tests.collector.site import ROOT, exit_clocks, manage, settings_module, site_environment

PROTOCOLS = ("grpc", "http/protobuf")
#: Target for a collector that refuses the connection: the exit costs at most this.
REFUSED_EXIT_SECONDS = 0.5
#: Time for the last export to time out and the exit line to be written, past the budget.
PAST_THE_BUDGET = 0.5
UNSENT = "span(s) were not sent to "
MANAGE = (sys.executable, str(ROOT / "example_site" / "manage.py"))


def closed_port_endpoint() -> str:
    """An endpoint nothing listens on: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def the_command(workdir: Path) -> dict[str, Any]:
    (clock,) = exit_clocks(workdir)
    return clock


def unsent_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if UNSENT in line]


# --------------------------------------------------------------------------------------------
# A collector that is down: the connection is refused.


@pytest.mark.parametrize("command", [("check",), ("migrate", "-v0")], ids=["check", "migrate"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_refused_collector_costs_a_command_under_half_a_second_at_exit(
    protocol: str, command: tuple[str, ...], tmp_path: Path
) -> None:
    env = site_environment(
        tmp_path,
        **settings_module(tmp_path),
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT=closed_port_endpoint(),
    )

    result = manage(*command, env=env)

    assert result.returncode == 0, result.stderr
    assert the_command(tmp_path)["exit_seconds"] < REFUSED_EXIT_SECONDS
    (line,) = unsent_lines(result.stderr)
    assert "before the process exited: " in line
    assert "Connection refused" in line
    assert "Traceback" not in result.stderr
    assert "Logging error" not in result.stderr


@pytest.mark.parametrize(
    ("exporter_timeout", "outage_reported"),
    [("1", True), ("30", False)],
    ids=["failure reported", "export waiting to retry"],
)
def test_a_collector_known_to_be_down_is_not_tried_again_at_exit(
    exporter_timeout: str, outage_reported: bool, tmp_path: Path
) -> None:
    env = site_environment(
        tmp_path,
        **settings_module(tmp_path),
        OTEL_EXPORTER_OTLP_ENDPOINT=closed_port_endpoint(),
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_EXPORTER_OTLP_TIMEOUT=exporter_timeout,
    )

    # With a 30 s timeout the exporter is still retrying (after 1 s, then 2 s...) at the end.
    result = run_script(
        """
        import time, django
        from django.core.signals import request_finished
        django.setup()
        request_finished.send(sender=None)
        time.sleep(2.5)
        """,
        env,
    )

    assert result.returncode == 0, result.stderr
    assert the_command(tmp_path)["exit_seconds"] < REFUSED_EXIT_SECONDS
    assert result.stderr.count("Cannot export spans to") == int(outage_reported)
    (line,) = unsent_lines(result.stderr)
    assert re.fullmatch(
        r"\d+ span\(s\) were not sent to http://127\.0\.0\.1:\d+/v1/traces \(http/protobuf\) "
        r"before the process exited: Connection refused\.",
        line,
    )


def run_script(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --------------------------------------------------------------------------------------------
# A collector that accepts the connection and never answers.


@pytest.mark.parametrize("budget", [None, 0.5], ids=["default budget", "EXIT_FLUSH_TIMEOUT=0.5"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_silent_collector_costs_at_most_the_exit_budget(
    protocol: str, budget: float | None, tmp_path: Path
) -> None:
    setting = {} if budget is None else {"EXIT_FLUSH_TIMEOUT": budget}
    expected_budget = 2.0 if budget is None else budget
    with silent_collector() as endpoint:
        env = site_environment(
            tmp_path,
            **settings_module(tmp_path, **setting),
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
        result = run_script(
            """
            import django
            from django.core.signals import request_finished
            django.setup()
            for _ in range(600):  # some 2,400 spans: several batches
                request_finished.send(sender=None)
            """,
            env,
        )

    assert result.returncode == 0, result.stderr
    assert the_command(tmp_path)["exit_seconds"] < expected_budget + PAST_THE_BUDGET
    (line,) = unsent_lines(result.stderr)
    assert line.endswith(
        f"the exit budget of {expected_budget:g} s (SIGNAL_TRACING['EXIT_FLUSH_TIMEOUT']) ran out."
    )
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------
# A collector that is up: everything arrives, nothing is said.


@pytest.mark.collector
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_with_the_collector_up_every_span_arrives_and_nothing_is_logged_at_exit(
    protocol: str, tmp_path: Path
) -> None:
    with running_rotel(tmp_path) as rotel:
        env = site_environment(
            tmp_path,
            **settings_module(tmp_path),
            **rotel.environment(protocol),
            OTEL_BSP_SCHEDULE_DELAY="600000",  # only the exit sends
        )
        result = run_script(
            """
            import django
            from django.core.signals import request_finished
            django.setup()
            for _ in range(300):
                request_finished.send(sender=None)
            """,
            env,
        )
        spans = wait_for_finished_spans(rotel, 300)

    assert result.returncode == 0, result.stderr
    assert len([span for span in spans if span["name"] == "request_finished send"]) == 300
    assert unsent_lines(result.stderr) == []
    assert the_command(tmp_path)["exit_seconds"] < 2.0


def wait_for_finished_spans(rotel: Rotel, count: int) -> list[dict[str, Any]]:
    return rotel.wait_for_spans(
        lambda spans: sum(span["name"] == "request_finished send" for span in spans) >= count,
        timeout=10,
    )


# --------------------------------------------------------------------------------------------
# A test run, with the logging docs/jaeger.md recommends and no collector.


def test_a_pytest_run_with_no_collector_exits_at_once_and_logs_without_error(
    tmp_path: Path,
) -> None:
    tests = tmp_path / "project"
    tests.mkdir()
    (tests / "test_orders.py").write_text(
        "from django.core.signals import request_finished\n\n\n"
        "def test_order_is_paid():\n"
        "    request_finished.send(sender=None)\n"
    )
    (tests / "pytest.ini").write_text("[pytest]\nDJANGO_SETTINGS_MODULE = timed_settings\n")
    env = site_environment(
        tmp_path, **settings_module(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=closed_port_endpoint()
    )

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        env=env,
        cwd=tests,
        capture_output=True,
        text=True,
        timeout=120,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 passed" in result.stdout
    assert "Logging error" not in output
    assert "Traceback" not in output
    # pytest closed the stream the handler was given: the line reaches the real stderr.
    (line,) = unsent_lines(result.stderr)
    assert line.endswith(": Connection refused.")
    assert the_command(tmp_path)["exit_seconds"] < REFUSED_EXIT_SECONDS


# --------------------------------------------------------------------------------------------
# runserver with its autoreloader.


class ReloadingServer:
    """``manage.py runserver`` with the autoreloader, in a session of its own."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.output = workdir / "runserver.log"
        with open(self.output, "wb") as output:
            self.process = subprocess.Popen(
                [*MANAGE, "runserver", f"127.0.0.1:{self.port}"],
                env=env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the watcher and its child alike
            )

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def servers_started(self) -> int:
        return self.log().count("Quit the server with")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as response:
                response.read()
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def test_runserver_reloads_at_once_and_only_its_child_exports(tmp_path: Path) -> None:
    env = site_environment(
        tmp_path, **settings_module(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=closed_port_endpoint()
    )
    server = ReloadingServer(tmp_path, env)
    try:
        wait_until(server.answers, 60, "runserver to answer")
        for _ in range(5):
            assert server.answers()
        touched = time.monotonic()
        (tmp_path / "timed_settings.py").touch()
        wait_until(lambda: server.servers_started() == 2, 60, "runserver to restart its child")
        wait_until(server.answers, 30, "the new child to answer")
        reloaded_in = time.monotonic() - touched
        (reloaded,) = exit_clocks(tmp_path)
    finally:
        server.stop()

    assert reloaded["run_main"] == "true"
    assert reloaded["tracer_provider"] == "TracerProvider"
    assert reloaded["exit_seconds"] < REFUSED_EXIT_SECONDS, f"reloaded in {reloaded_in:.1f} s"
    watchers = [clock for clock in exit_clocks(tmp_path) if clock["run_main"] is None]
    assert [watcher["tracer_provider"] for watcher in watchers] == ["ProxyTracerProvider"]
    log = server.log()
    assert log.count("Exporting spans to") == 2, log  # once per child, none from the watcher
    assert "Traceback" not in log
    assert "Logging error" not in log
