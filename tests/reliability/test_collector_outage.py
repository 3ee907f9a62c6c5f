"""A collector that refuses, one that never answers, and one that works: the application's
requests succeed and are not slowed, and the process exits within the documented bound.

The site runs under waitress with ``"EXPORTER": "otlp"``, exporting every 50 ms while four
clients send 400 requests. Documented (docs/jaeger.md, "When the collector is down"): a
request never waits for the collector; at exit, flushing waits for one failed export at most,
the exporter's timeout (here ``OTEL_EXPORTER_OTLP_TIMEOUT=3``); an outage is logged once.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.collector.rotel import Rotel, running_rotel
from tests.reliability.collectors import closed_port, silent_collector
from tests.reliability.load import threaded_load
from tests.reliability.servers import ROOT, Served, site_environment, waitress_command
from tests.reliability.traces import describe, request_trace_problems

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
        # One line says exporting fails; the exporters' own retries are not logged.
        assert len(warnings) == 1, log
        assert warnings[0].startswith("WARNING signal_tracing.exporting Cannot export spans")


# --------------------------------------------------------------------------------------------
# Exit cost with the exporter's defaults (a 10 s timeout): issue 13's targets.

#: Targets: a refused connection costs at most 0.5 s at exit, a silent collector at most the
#: (default) exit budget of 2 s. Each gets 0.5 s more for the noise of a shared machine.
EXIT_TARGETS = {"closed": 0.5, "silent": 2.0}
NOISE = 0.5


def timed_check(timeout: float = 60, **environment: str) -> float:
    """Run ``django-admin check`` on the site; return its wall time (killed after timeout)."""
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "django", "check"],
            env=site_environment(**environment),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"django-admin check still running after {timeout:.1f} s") from None
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    return time.monotonic() - started


@pytest.fixture(scope="module")
def check_without_exporter() -> float:
    return timed_check()


@pytest.mark.xfail(
    strict=True,
    reason="issue 13 item 8: a down collector delays every process's exit by ~8-10 s",
)
@pytest.mark.parametrize("state", ["closed", "silent"])
def test_exit_cost_of_a_down_collector_is_within_the_target(
    check_without_exporter: float, report: Callable[[str], None], state: str
) -> None:
    bound = EXIT_TARGETS[state] + NOISE
    with closed_port() if state == "closed" else silent_collector() as endpoint:
        seconds = timed_check(
            # Past the bound the probe has failed: no need to wait for the end.
            timeout=check_without_exporter + bound + 1,
            RELIABILITY_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
    cost = seconds - check_without_exporter
    report(
        f"django-admin check: {check_without_exporter:.2f} s without exporter, "
        f"{seconds:.2f} s with the collector {state} (+{cost:.2f} s)"
    )
    assert cost <= bound
