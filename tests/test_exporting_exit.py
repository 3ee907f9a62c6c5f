"""Exiting with the collector down, silent or up: one budget, one line, no failure.

Each case runs real processes of the example site (``manage.py`` commands, a pytest run,
``runserver`` with its autoreloader) against a real closed port, a real listener that accepts
and never answers, or Rotel. How long each process's exit handlers took is measured inside the
process (``tests/collector/exitclock``): the whole process's exit also includes the
interpreter's own teardown, which takes 0.3 to 0.9 s on a busy 2-core machine with or
without tracing.
"""

from __future__ import annotations

import contextlib
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


@pytest.mark.parametrize(
    ("protocol", "command"),
    [("grpc", ("check",)), ("http/protobuf", ("check",)), ("http/protobuf", ("migrate", "-v0"))],
    ids=["grpc-check", "http-check", "http-migrate"],
)
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
    [("1.5", True), ("30", False)],
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


@pytest.mark.parametrize(
    ("protocol", "budget"),
    [("grpc", None), ("http/protobuf", None), ("http/protobuf", 0.5)],
    ids=["grpc-default budget", "http-default budget", "http-EXIT_FLUSH_TIMEOUT=0.5"],
)
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
                start_new_session=True,  # what is left after stop() can be killed at once
            )
        self.stopped = False

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

    def change_until_restarted(self, path: Path) -> None:
        """Touch ``path`` until the child restarts.

        The reloader notices a change from its second look at a file on (it looks every
        second); the first look may come after the server already answers.
        """
        for _ in range(30):
            path.touch()
            try:
                wait_until(lambda: self.servers_started() == 2, 2, "runserver to restart")
            except TimeoutError:
                continue
            return
        raise AssertionError(f"runserver did not restart:\n{self.log()}")

    def serving_child(self) -> int | None:
        """The pid of the child that serves (the watcher's one child), if it runs."""
        watcher = self.process.pid
        try:
            children = Path(f"/proc/{watcher}/task/{watcher}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def stop(self) -> None:
        """Stop the serving child as Ctrl-C does, and the watcher with it; then nothing runs.

        Ctrl-C on the whole session would reach the watcher too, whose ``subprocess.run()``
        SIGKILLs the child 0.25 s later (Python's KeyboardInterrupt handling), cutting short
        the child's exit flush on a loaded machine, and leaves it unreaped. Interrupted alone,
        the child exits in its own time, and the watcher returns its exit status and exits.
        Stopping again is nothing to do; a watcher that already exited on its own is a failure.
        """
        if self.stopped:
            return
        self.stopped = True
        if self.process.poll() is not None:
            raise AssertionError(f"runserver exited by itself:\n{self.log()}")
        child = self.serving_child()
        if child is not None:
            os.kill(child, signal.SIGINT)
        else:  # no child (yet), or no /proc: Ctrl-C
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.mark.parametrize("collector", ["refused", "silent"])
def test_runserver_reloads_at_once_and_only_its_child_exports(
    collector: str, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        endpoint = (
            closed_port_endpoint()
            if collector == "refused"
            else stack.enter_context(silent_collector())
        )
        env = site_environment(
            tmp_path, **settings_module(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=endpoint
        )
        server = ReloadingServer(tmp_path, env)
        stack.callback(server.stop)
        wait_until(server.answers, 60, "runserver to answer")
        for _ in range(5):
            assert server.answers()
        touched = time.monotonic()
        server.change_until_restarted(tmp_path / "timed_settings.py")
        wait_until(server.answers, 30, "the new child to answer")
        reloaded_in = time.monotonic() - touched
        (reloaded,) = exit_clocks(tmp_path)

    # Its spans were sent (or found unsendable) when the file changed, before it exited.
    assert reloaded["run_main"] == "true"
    assert reloaded["tracer_provider"] == "TracerProvider"
    assert reloaded["exit_seconds"] < REFUSED_EXIT_SECONDS, f"reloaded in {reloaded_in:.1f} s"
    watchers = [clock for clock in exit_clocks(tmp_path) if clock["run_main"] is None]
    assert [watcher["tracer_provider"] for watcher in watchers] == ["ProxyTracerProvider"]
    log = server.log()
    assert log.count("Exporting spans to") == 2, log  # once per child, none from the watcher
    assert "Traceback" not in log
    assert "Logging error" not in log


@pytest.mark.collector
def test_a_template_change_sends_the_spans_and_exporting_goes_on(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "unused.html").write_text("<p>unused</p>")
    with running_rotel(tmp_path) as rotel, contextlib.ExitStack() as stack:
        env = site_environment(
            tmp_path,
            **settings_module(tmp_path, f'TEMPLATES[0]["DIRS"].append({str(templates)!r})'),
            **rotel.environment("http/protobuf"),
            OTEL_BSP_SCHEDULE_DELAY="600000",  # no export but the ones this test causes
        )
        server = ReloadingServer(tmp_path, env)
        stack.callback(server.stop)
        wait_until(server.answers, 60, "runserver to answer")
        # Templates are reloaded in place, without a restart. As in change_until_restarted,
        # the first touch may come before the reloader's first look.
        for _ in range(30):
            (templates / "unused.html").touch()
            with contextlib.suppress(AssertionError):
                before = rotel.wait_for_spans(lambda spans: bool(requests_of(spans)), 2)
                break
        else:
            raise AssertionError(f"nothing was sent:\n{server.log()}")
        assert server.answers()
        server.stop()
        # The request after the change is sent at exit: exporting went on as before.
        rotel.wait_for_spans(lambda spans: len(requests_of(spans)) == 2, timeout=15)

    assert len(requests_of(before)) == 1
    assert server.servers_started() == 1
    assert "were not sent" not in server.log()


def requests_of(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [span for span in spans if span["name"] == "request_started send"]
