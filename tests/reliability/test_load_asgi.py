"""An ASGI server under concurrency: uvicorn with 200 requests inside Django at once.

The async view fires ``aprobe`` (a sync and an async receiver), then waits until 200 requests
are in the view together (a rendezvous on uvicorn's event loop), then fires again. Each
request's two firings must both be in its own trace, under its own root span.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.reliability.exported import wait_for_named
from tests.reliability.load import concurrent_load
from tests.reliability.servers import Served, site_environment, uvicorn_command
from tests.reliability.traces import describe, request_trace_problems, shape

CONCURRENT = 200
ROUNDS = 3
ROOT = "GET aprobe/<int:number>/"


def test_uvicorn_200_concurrent_requests_each_have_their_own_trace(
    tmp_path: Path, spans_file: Path, report: Callable[[str], None]
) -> None:
    server = Served(
        uvicorn_command(),
        site_environment(
            RELIABILITY_SPANS_FILE=str(spans_file), RELIABILITY_RENDEZVOUS=str(CONCURRENT)
        ),
        tmp_path,
    )
    try:
        numbers = range(1, CONCURRENT * ROUNDS + 1)
        rounds = [
            [(number, f"/aprobe/{number}/") for number in numbers[r * CONCURRENT :][:CONCURRENT]]
            for r in range(ROUNDS)
        ]
        load = concurrent_load(server.port, rounds)
        assert load.failures == [], load.failures[:10]
        # Every request waited inside the view until 200 were there: truly concurrent.
        assert set(load.notes.values()) == {"met"}
        spans = wait_for_named(spans_file, ROOT, len(numbers))
    finally:
        server.stop()

    (first_trace,) = {
        span["trace_id"]
        for span in spans
        if span["attributes"].get("django.signal.kwargs.request_number") == 1
    }
    expected = shape(span for span in spans if span["trace_id"] == first_trace)
    result = request_trace_problems(
        spans, root_name=ROOT, numbers=numbers, firings_per_request=2, expected_shape=expected
    )
    report(f"{CONCURRENT} at once x {ROUNDS} rounds: {load.summary()}; {describe(result)}")
    assert result.problems == [], describe(result)
    assert expected.splitlines()[0] == ROOT
    assert expected.count("aprobe asend") == 2
    assert "Traceback" not in server.log(), server.log()
