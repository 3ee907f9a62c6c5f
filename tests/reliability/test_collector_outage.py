"""A collector that refuses, one that never answers, and one that works: the application's
requests succeed and are not slowed, and the process exits within the documented bound.

The site runs under waitress with ``"EXPORTER": "otlp"``, exporting every 50 ms while four
clients send 400 requests. Documented (docs/jaeger.md, "When the collector is down" and
"Flushing at exit"): a request never waits for the collector; an outage is logged once while
the process runs, and what was not sent is counted in one line at exit; the exit waits at most
``EXIT_FLUSH_TIMEOUT`` (2 s by default), and never more than one exporter timeout (here
``OTEL_EXPORTER_OTLP_TIMEOUT=3``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.collector.rotel import Rotel, running_rotel
from tests.reliability.collectors import closed_port, silent_collector
from tests.reliability.load import threaded_load
from tests.reliability.servers import ROOT, Served, site_environment, waitress_command
from tests.reliability.traces import describe, request_trace_problems
from tests.timing import wait_for_exit, waited_between

CLIENTS = 4
REQUESTS_PER_CLIENT = 100
PROBE_ROOT = "GET probe/<int:number>/"
EXPORT_TIMEOUT = 3
#: No request may take this long: a request that waited for an export would (the exporter
#: retries for up to EXPORT_TIMEOUT). Requests here take ~5-50 ms on a loaded 2-core machine.
REQUEST_BOUND = 1.0
#: Exit: one exporter timeout at most, plus this for the interpreter and the server to stop.
EXIT_ALLOWANCE = 1.5


@contextlib.contextmanager
def collector(state: str, workdir: Path) -> Iterator[tuple[str, Rotel | None]]:
    if state == "up":
        with running_rotel(workdir) as rotel:
            yield rotel.http_endpoint, rotel
    elif state == "closed":
        with closed_port() as endpoint:
            yield endpoint, None
    else:
        with silent_collector() as endpoint:
            yield endpoint, None


@pytest.mark.parametrize("state", ["up", "closed", "silent"])
def test_requests_succeed_unslowed_and_exit_is_bounded(
    tmp_path: Path, report: Callable[[str], None], state: str
) -> None:
    with collector(state, tmp_path) as (endpoint, rotel):
        server = Served(
            waitress_command(threads=8),
            site_environment(
                RELIABILITY_EXPORTER="otlp",
                OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                OTEL_EXPORTER_OTLP_TIMEOUT=str(EXPORT_TIMEOUT),
                OTEL_BSP_SCHEDULE_DELAY="50",
            ),
            tmp_path,
        )
        try:
            numbers = range(1, CLIENTS * REQUESTS_PER_CLIENT + 1)
            paths = [
                [(number, f"/probe/{number}/") for number in numbers[c::CLIENTS]]
                for c in range(CLIENTS)
            ]
            load = threaded_load(server.port, paths, deadline_seconds=60)
            exit_seconds = server.stop(timeout=EXPORT_TIMEOUT + EXIT_ALLOWANCE + 10)
        finally:
            server.kill()
        received = (
            rotel.wait_for_spans(
                lambda spans: sum(span["name"] == PROBE_ROOT for span in spans) >= len(numbers)
            )
            if rotel is not None
            else []
        )

    log = server.log()
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    report(
        f"collector {state}: {load.summary()}; exit after SIGTERM {exit_seconds:.2f} s; "
        f"{len(received)} spans received; log lines at WARNING or above: {len(warnings)}"
    )
    assert load.failures == [], load.failures[:10]
    assert max(load.latencies) < REQUEST_BOUND, load.summary()
    assert exit_seconds < EXPORT_TIMEOUT + EXIT_ALLOWANCE
    assert "Traceback" not in log, log
    if state == "up":
        result = request_trace_problems(
            received, root_name=PROBE_ROOT, numbers=numbers, firings_per_request=1
        )
        assert result.problems == [], describe(result)
        assert warnings == []
    else:
        # At most one line while running says exporting fails (the exporters' own retries are
        # not logged; a silent collector may not have failed yet when the stop comes), then one
        # line at exit, the last, counts what was not sent: at least every request's root.
        destination = re.escape(f"{endpoint}/v1/traces (http/protobuf)")
        outage = re.compile(
            rf"WARNING signal_tracing\.exporting Cannot export spans to {destination}: "
        )
        at_exit = re.compile(
            rf"WARNING signal_tracing\.exporting (\d+) span\(s\) were not sent to {destination} "
            r"before the process exited: .+\.$"
        )
        *running, last = warnings or [""]
        assert len(running) <= 1, log
        assert all(outage.match(line) for line in running), log
        exit_line = at_exit.match(last)
        assert exit_line is not None, log
        assert int(exit_line[1]) >= len(numbers), log


# --------------------------------------------------------------------------------------------
# Exit cost with the exporter's defaults (a 10 s timeout): issue 13's targets.

#: Targets: a refused connection costs at most 0.5 s at exit, a silent collector at most the
#: (default) exit budget of 2 s.
EXIT_TARGETS = {"closed": 0.5, "silent": 2.0}
#: Times here leave out the time spent waiting for a CPU (tests/timing.py); what is left still
#: varies a little from run to run (the CPU time itself): this much is allowed for it.
NOISE = 0.25
#: Each command runs this often and its fastest time counts.
RUNS = 2

#: ``django-admin check``, saying when the command was done (with its threads' waits for a CPU
#: so far) and how long its atexit handlers took from then (the first registered runs last),
#: less the time its threads waited for a CPU meanwhile. The exit is timed from the command's
#: end: the start-up before it (imports) costs the same whatever the collector does.
CHECK_TIMING_ITS_EXIT = """
import atexit, json, sys, time
from tests.timing import cpu_waits, waited_between

def handlers_done():
    ended, waits = time.monotonic(), cpu_waits()
    took = ended - command_done[0] - waited_between(command_done[1], waits)
    print("exit handlers took", took, file=sys.stderr, flush=True)

atexit.register(handlers_done)
from django.core.management import execute_from_command_line
execute_from_command_line(["django-admin", "check"])
command_done = (time.monotonic(), cpu_waits())
print("command done", json.dumps(command_done), file=sys.stderr, flush=True)
"""


@dataclasses.dataclass(frozen=True)
class Exit:
    handlers: float  # from the command's end to the end of the atexit handlers
    whole: float  # from the command's end to the process's end, as its parent sees it


def timed_exit(endpoint: str, workdir: Path, timeout: float = 60) -> Exit:
    """Run ``django-admin check`` exporting to ``endpoint``; time its exit (CPU waits left out;
    killed after ``timeout``)."""
    output = workdir / "check.log"
    with open(output, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", CHECK_TIMING_ITS_EXIT],
            env=site_environment(RELIABILITY_EXPORTER="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        took = wait_for_exit(process, timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"django-admin check still running after {timeout:.1f} s") from None
    log = output.read_text()
    assert process.returncode == 0, log
    assert "Traceback" not in log, log
    (handlers,) = re.findall(r"^exit handlers took (\S+)$", log, re.M)
    (done,) = re.findall(r"^command done (.+)$", log, re.M)
    done_at, waits_then = json.loads(done)
    whole = took.ended - done_at - waited_between(waits_then, took.waits)
    return Exit(handlers=float(handlers), whole=whole)


def fastest_exit(endpoint: str, workdir: Path) -> Exit:
    runs = [timed_exit(endpoint, workdir) for _ in range(RUNS)]
    return Exit(min(run.handlers for run in runs), min(run.whole for run in runs))


@pytest.fixture(scope="module")
def exit_with_collector_up(tmp_path_factory: pytest.TempPathFactory) -> Exit:
    """The same command exporting the same spans to a collector that works (Rotel)."""
    workdir = tmp_path_factory.mktemp("collector-up")
    with running_rotel(workdir) as rotel:
        return fastest_exit(rotel.http_endpoint, workdir)


@pytest.mark.parametrize("state", ["closed", "silent"])
def test_exit_cost_of_a_down_collector_is_within_the_target(
    exit_with_collector_up: Exit, report: Callable[[str], None], state: str, tmp_path: Path
) -> None:
    up = exit_with_collector_up
    with closed_port() if state == "closed" else silent_collector() as endpoint:
        down = fastest_exit(endpoint, tmp_path)
    report(
        f"django-admin check's exit with the collector up: atexit handlers {up.handlers:.2f} s, "
        f"whole exit {up.whole:.2f} s; with it {state}: {down.handlers:.2f} s, "
        f"{down.whole:.2f} s (CPU waits left out)"
    )
    assert down.handlers - up.handlers <= EXIT_TARGETS[state] + NOISE
    assert down.whole - up.whole <= EXIT_TARGETS[state] + NOISE
