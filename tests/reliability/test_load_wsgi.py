"""A threaded WSGI server under load: waitress, 16 threads, 16 clients x 300 requests.

Every request must get exactly one root span of its own, holding its own firings and nobody
else's: a span of one request under another would show up as a trace mixing two request
numbers, a request with no trace, or a trace shaped differently from the same request alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.reliability.exported import wait_for_named
from tests.reliability.load import threaded_load
from tests.reliability.servers import Served, site_environment, waitress_command
from tests.reliability.traces import describe, request_trace_problems, shape

THREADS = 16
REQUESTS_PER_CLIENT = 300
ROOT = "GET probe/<int:number>/"
LOAD_DEADLINE = 180.0


def test_waitress_16_threads_every_request_has_its_own_trace(
    tmp_path: Path, spans_file: Path, report: Callable[[str], None]
) -> None:
    server = Served(
        waitress_command(threads=THREADS),
        site_environment(RELIABILITY_SPANS_FILE=str(spans_file)),
        tmp_path,
    )
    try:
        # The same request alone first: the shape every request under load must have.
        assert server.get("/probe/0/")[0] == 200
        alone = wait_for_named(spans_file, ROOT, 1)
        (trace_id,) = {span["trace_id"] for span in alone if span["name"] == ROOT}
        expected = shape(span for span in alone if span["trace_id"] == trace_id)
        assert "probe send" in expected
        assert "probe_detail" in expected

        numbers = range(1, THREADS * REQUESTS_PER_CLIENT + 1)
        paths = [
            [(number, f"/probe/{number}/") for number in numbers[c::THREADS]]
            for c in range(THREADS)
        ]
        load = threaded_load(server.port, paths, deadline_seconds=LOAD_DEADLINE)
        assert load.failures == [], load.failures[:10]
        spans = wait_for_named(spans_file, ROOT, len(numbers) + 1)
    finally:
        server.stop()

    result = request_trace_problems(
        spans,
        root_name=ROOT,
        numbers=[0, *numbers],
        firings_per_request=1,
        expected_shape=expected,
    )
    report(f"{load.summary()}; {describe(result)}")
    assert result.problems == [], describe(result)
    assert result.request_traces == len(numbers) + 1
    assert dict(result.other_roots) == {
        "django.setup": 1,
        "GET ready/": result.other_roots["GET ready/"],
        "preloaded tests.reliability.site.receivers.note_preloaded": 1,
    }
    assert "Traceback" not in server.log(), server.log()
