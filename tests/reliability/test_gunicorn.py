"""The production topology: gunicorn --preload, 4 workers, "EXPORTER": "otlp", a real collector.

With ``--preload`` the master imports the application, so ``ready()`` sets up the SDK, its
batch processor and export thread, and the master records spans (the start-up span and the
``preloaded`` firing of ``site/wsgi.py``) *before* forking the workers. Each worker must then
export its own spans and nothing of the master's queue, keep exporting, and flush on a
graceful stop (SIGTERM): every request's trace arrives exactly once, and the master's spans
exactly once.

The sync run exports nothing until the stop (a 30 s schedule delay, batches of 512 aside), so
the master's spans are certainly still queued when the workers fork. The gthread run exports
every 100 ms, and its spans must arrive while the server runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.collector.rotel import Rotel, running_rotel
from tests.reliability.load import Load, threaded_load
from tests.reliability.servers import Served, gunicorn_command, site_environment
from tests.reliability.traces import NUMBER_KEY, describe, request_trace_problems

WORKERS = 4
CLIENTS = 8
REQUESTS_PER_CLIENT = 50
IN_FLIGHT_AT_STOP = 2
ROOT = "GET probe/<int:number>/"
SLOW_ROOT = "GET slow/<int:number>/"
MASTER_SPANS = ("django.setup", "preloaded tests.reliability.site.receivers.note_preloaded")
STOP_BOUND = 15.0


def roots_named(rotel: Rotel, name: str) -> int:
    return sum(span["name"] == name for span in rotel.spans())


def slow_requests_in_flight(
    server: Served, numbers: range, started_dir: Path
) -> tuple[list[threading.Thread], Load]:
    """Start slow requests and return once each is inside its view (bounded wait)."""
    load = Load()

    def fetch(number: int) -> None:
        started = time.monotonic()
        try:
            status, body = server.get(f"/slow/{number}/", timeout=20)
        except OSError as error:
            load.failed(number, error)
            return
        load.answered(number, status, body, time.monotonic() - started)

    threads = [threading.Thread(target=fetch, args=(number,)) for number in numbers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(list(started_dir.iterdir())) < len(numbers):
        assert time.monotonic() < deadline, "the slow requests never started"
        time.sleep(0.01)
    return threads, load


@pytest.mark.parametrize(
    ("worker_class", "threads", "schedule_delay_ms"),
    [("sync", 1, 30_000), ("gthread", 4, 100)],
)
def test_gunicorn_preload_workers_export_every_span_once(
    tmp_path: Path,
    report: Callable[[str], None],
    worker_class: str,
    threads: int,
    schedule_delay_ms: int,
) -> None:
    started_dir = tmp_path / "started"
    started_dir.mkdir()
    with running_rotel(tmp_path) as rotel:
        server = Served(
            gunicorn_command(worker_class, workers=WORKERS, threads=threads),
            site_environment(
                RELIABILITY_EXPORTER="otlp",
                RELIABILITY_STARTED_DIR=str(started_dir),
                OTEL_EXPORTER_OTLP_ENDPOINT=rotel.http_endpoint,
                OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                OTEL_BSP_SCHEDULE_DELAY=str(schedule_delay_ms),
                # Room for everything a worker records: this probe is about processes, and a
                # full queue would drop spans for another reason.
                OTEL_BSP_MAX_QUEUE_SIZE="16384",
            ),
            tmp_path,
        )
        try:
            numbers = range(1, CLIENTS * REQUESTS_PER_CLIENT + 1)
            paths = [
                [(number, f"/probe/{number}/") for number in numbers[c::CLIENTS]]
                for c in range(CLIENTS)
            ]
            load = threaded_load(server.port, paths, deadline_seconds=120, keep_alive=False)
            assert load.failures == [], load.failures[:10]
            # Every worker served (and so must have exported) some requests.
            assert len(load.workers()) == WORKERS, load.workers()
            assert server.process.pid not in load.workers()
            if worker_class == "gthread":
                # Exported while running, not only at the stop.
                rotel.wait_for_spans(
                    lambda spans: sum(span["name"] == ROOT for span in spans) >= len(numbers),
                    timeout=20,
                )
            slow_numbers = range(100_001, 100_001 + IN_FLIGHT_AT_STOP)
            slow_threads, slow = slow_requests_in_flight(server, slow_numbers, started_dir)
            stop_seconds = server.stop()
            for thread in slow_threads:
                thread.join(20)
        finally:
            server.kill()
        assert server.process.returncode == 0, server.log()
        assert slow.failures == [], slow.failures
        every_number = [*numbers, *slow_numbers]
        spans = rotel.wait_for_spans(
            lambda spans: (
                sum(span["name"] in (ROOT, SLOW_ROOT) for span in spans) >= len(every_number)
            )
        )
        time.sleep(0.5)  # anything exported twice would arrive by now
        spans = rotel.spans()

    slow_traces = {span["trace_id"] for span in spans if span["name"] == SLOW_ROOT}
    probe_spans = [span for span in spans if span["trace_id"] not in slow_traces]
    slow_spans = [span for span in spans if span["trace_id"] in slow_traces]
    result = request_trace_problems(
        probe_spans, root_name=ROOT, numbers=numbers, firings_per_request=1
    )
    slow_result = request_trace_problems(
        slow_spans, root_name=SLOW_ROOT, numbers=slow_numbers, firings_per_request=1
    )
    report(
        f"{worker_class} x{WORKERS} (threads {threads}, export every {schedule_delay_ms} ms): "
        f"{load.summary()}, requests per worker {sorted(load.workers().values())}; "
        f"graceful stop with {IN_FLIGHT_AT_STOP} requests in flight took {stop_seconds:.2f} s; "
        f"{describe(result)}"
    )
    assert result.problems == [], describe(result)
    assert slow_result.problems == [], describe(slow_result)
    # The master's spans, recorded before the fork: exactly once (from the master).
    assert {name: result.other_roots[name] for name in MASTER_SPANS} == dict.fromkeys(
        MASTER_SPANS, 1
    ), describe(result)
    assert len({span["span_id"] for span in spans}) == len(spans)
    assert sum(NUMBER_KEY in span["attributes"] for span in slow_spans) == 2 * IN_FLIGHT_AT_STOP
    assert stop_seconds < STOP_BOUND
    log = server.log()
    for trouble in ("Traceback", "WORKER TIMEOUT", "Queue full", "Cannot export"):
        assert trouble not in log, log
