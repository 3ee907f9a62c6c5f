"""The production topology: gunicorn --preload, 4 workers, "EXPORTER": "otlp", a real collector.

With ``--preload`` the master imports the application, so ``ready()`` sets up the SDK, its
batch processor and export thread, and the master records spans (the start-up span and the
``preloaded`` firing of ``site/wsgi.py``) *before* forking the workers. Each worker must then
export its own spans and nothing of the master's queue, keep exporting, and flush on a
graceful stop (SIGTERM): every request's trace arrives exactly once, and the master's spans
exactly once.

The sync run exports nothing until the stop (a 30 s schedule delay, batches of 512 aside), so
the master's spans are certainly still queued when the workers fork. The gthread run exports
on the SDK's default schedule (every 5 s), and its spans must arrive while the server runs.

A worker forked after the master has exported (gunicorn replaces workers: ``--max-requests``,
a crash, a timeout) must not inherit the master's connection to the collector either.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.collector.rotel import Rotel, running_rotel
from tests.reliability.load import Load, threaded_load
from tests.reliability.servers import Served, gunicorn_command, site_environment
from tests.reliability.sockets import children, connections_to
from tests.reliability.traces import NUMBER_KEY, describe, request_trace_problems

WORKERS = 4
CLIENTS = 8
REQUESTS_PER_CLIENT = 50
IN_FLIGHT_AT_STOP = 2
ROOT = "GET probe/<int:number>/"
SLOW_ROOT = "GET slow/<int:number>/"
MASTER_SPANS = ("django.setup", "preloaded tests.reliability.site.receivers.note_preloaded")
STOP_BOUND = 15.0


def exporting_environment(
    rotel: Rotel, schedule_delay_ms: int | None, **extra: str
) -> dict[str, str]:
    """``"EXPORTER": "otlp"`` to ``rotel`` over HTTP/protobuf, the documented fork-safe way."""
    environment = site_environment(
        RELIABILITY_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=rotel.http_endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        # Room for everything a worker records: these probes are about processes, and a full
        # queue would drop spans for another reason.
        OTEL_BSP_MAX_QUEUE_SIZE="16384",
        **extra,
    )
    if schedule_delay_ms is not None:
        environment["OTEL_BSP_SCHEDULE_DELAY"] = str(schedule_delay_ms)
    return environment


def wait_for_numbers(rotel: Rotel, numbers: range, timeout: float) -> set[int]:
    """The request numbers whose firing arrived, once all did or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        arrived = {
            span["attributes"][NUMBER_KEY]
            for span in rotel.spans()
            if span["name"] == "probe send" and NUMBER_KEY in span["attributes"]
        }
        if arrived >= set(numbers) or time.monotonic() > deadline:
            return arrived
        time.sleep(0.1)


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
    # None: the SDK's default (5 s), longer than the master takes to fork the workers.
    [("sync", 1, 30_000), ("gthread", 4, None)],
)
def test_gunicorn_preload_workers_export_every_span_once(
    tmp_path: Path,
    report: Callable[[str], None],
    worker_class: str,
    threads: int,
    schedule_delay_ms: int | None,
) -> None:
    started_dir = tmp_path / "started"
    started_dir.mkdir()
    with running_rotel(tmp_path) as rotel:
        server = Served(
            gunicorn_command(worker_class, workers=WORKERS, threads=threads),
            exporting_environment(
                rotel, schedule_delay_ms, RELIABILITY_STARTED_DIR=str(started_dir)
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
                arrived = wait_for_numbers(rotel, numbers, timeout=30)
                missing = Counter(load.served_by[n] for n in numbers if n not in arrived)
                assert not missing, (
                    f"requests whose spans did not arrive while running, by worker: {missing}"
                    f"\n{server.log()}"
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
        f"{worker_class} x{WORKERS} (threads {threads}, export every "
        f"{schedule_delay_ms or 5000} ms): "
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


def wait_for_children(pid: int, count: int, timeout: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(found := children(pid)) < count:
        assert time.monotonic() < deadline, f"the master has {len(found)} workers, not {count}"
        time.sleep(0.05)
    return found


def shared_connections(port: int, pids: list[int], timeout: float = 5) -> dict[str, list[int]]:
    """Connections to ``port`` held by several of ``pids``, once there are none or after
    ``timeout``. A worker just forked holds the master's sockets until its after-fork hooks
    have run, which on a loaded machine can be a while after its pid appears."""
    deadline = time.monotonic() + timeout
    while True:
        shared = {
            inode: sorted(holders)
            for inode, holders in connections_to(port, pids).items()
            if len(holders) > 1
        }
        if not shared or time.monotonic() > deadline:
            return shared
        time.sleep(0.1)


def test_workers_forked_after_the_master_exported_have_connections_of_their_own(
    tmp_path: Path, report: Callable[[str], None]
) -> None:
    """gunicorn forks workers again long after start-up (a worker crashed, timed out, reached
    ``--max-requests``, or TTIN asked for more); by then the master has exported its own
    spans over a keep-alive connection. Here: a 2 s schedule, so the master exports once the
    first workers are running, then TTIN twice: two workers forked after that export."""
    with running_rotel(tmp_path) as rotel:
        server = Served(
            gunicorn_command("sync", workers=WORKERS), exporting_environment(rotel, 2000), tmp_path
        )
        try:
            master = server.process.pid
            rotel.wait_for_spans(lambda spans: any(s["name"] == "django.setup" for s in spans))
            for more in (1, 2):  # one at a time: the kernel merges a signal sent twice
                server.process.send_signal(signal.SIGTTIN)
                workers = wait_for_children(master, WORKERS + more)
            processes = [master, *workers]
            shared = shared_connections(rotel.http_port, processes)
            numbers = range(1, CLIENTS * REQUESTS_PER_CLIENT + 1)
            paths = [
                [(number, f"/probe/{number}/") for number in numbers[c::CLIENTS]]
                for c in range(CLIENTS)
            ]
            load = threaded_load(server.port, paths, deadline_seconds=120, keep_alive=False)
            arrived = wait_for_numbers(rotel, numbers, timeout=15)
            server.stop()
        finally:
            server.kill()
    lost = len(set(numbers) - arrived)
    report(
        f"master {master}, workers {processes[1:]}; connections to the collector held by "
        f"several processes: {shared}; requests whose spans were lost: {lost}"
    )
    assert load.failures == []
    assert shared == {}, f"connections to the collector held by several processes: {shared}"
    assert lost == 0
    assert "Cannot export" not in server.log(), server.log()
