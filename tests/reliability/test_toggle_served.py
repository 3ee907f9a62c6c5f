"""Tracing switched by the documented ways while a real server holds a request.

A request is held in its view, or in its streamed body, while a second request switches
tracing (``uninstrument()``, ``override_settings(SIGNAL_TRACING={"ENABLED": False})``, off and on
again, or on); then pairs of requests show what a request starts from afterwards. On waitress
with two threads, the two requests of a pair wait for each other, so the held request's thread
serves one of them: a thread left inside the held request's trace would put its next request's
application span there. On uvicorn each request is a task of its own. Either way every request
ends with the context it started with, every request span that started ends, and the tracer
logs nothing above DEBUG.

One server of each kind serves every case in turn (each case starts with tracing on and ends by
switching it back on): what one case leaves behind in a thread is what the next one starts from.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.exported import read_spans
from tests.reliability.load import threaded_load
from tests.reliability.servers import Served, site_environment, uvicorn_command, waitress_command
from tests.reliability.traces import Span

ROUNDS = 2
WAIT = 30.0


@dataclass(frozen=True)
class Server:
    command: list[str]
    #: The site's async views and switch are prefixed with "a" (uvicorn's loop must not block).
    prefix: str


@dataclass
class Serving:
    server: Server
    served: Served
    spans_file: Path
    numbers: Iterator[int]


@dataclass(frozen=True)
class Switching:
    how: str
    traced_before: bool
    traced_after: bool


SERVERS = [
    pytest.param(Server(waitress_command(threads=2), ""), id="waitress-2-threads"),
    pytest.param(Server(uvicorn_command(), "a"), id="uvicorn"),
]
WHERE = [
    pytest.param("held", id="in-the-view"),
    pytest.param("held-streamed", id="in-the-streamed-body"),
]
SWITCHINGS = [
    pytest.param(Switching("uninstrument", True, False), id="uninstrument"),
    pytest.param(Switching("settings-off", True, False), id="override_settings-off"),
    pytest.param(Switching("off-and-on-again", True, True), id="off-and-on-again"),
    pytest.param(Switching("on", False, True), id="on"),
]


@pytest.fixture(scope="module", params=SERVERS)
def serving(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Serving]:
    workdir = tmp_path_factory.mktemp("toggle-served")
    spans_file = workdir / "spans.jsonl"
    served = Served(
        request.param.command, site_environment(RELIABILITY_SPANS_FILE=str(spans_file)), workdir
    )
    try:
        yield Serving(request.param, served, spans_file, itertools.count(1))
    finally:
        served.stop()


def troubles(log: str) -> list[str]:
    """Server log lines above DEBUG, tracebacks and tracer failures (the site logs the
    tracer at DEBUG, so a failure logged again at DEBUG shows too)."""
    return [
        line
        for line in log.splitlines()
        if line.startswith(("WARNING", "ERROR", "CRITICAL"))
        or "Traceback" in line
        or "signal_tracing failed" in line
    ]


def application_span(spans: list[Span], number: int) -> Span:
    (span,) = [
        span
        for span in spans
        if span["name"] == "application work" and span["attributes"]["request_number"] == number
    ]
    return span


def wait_for_parents(path: Path, numbers: list[int], timeout: float = 15.0) -> list[Span]:
    """Read the spans once the application spans of ``numbers`` and their parents are in.

    A request span ends when the server closes the response, after the client has read it.
    """
    deadline = time.monotonic() + timeout
    while True:
        spans = read_spans(path)
        ids = {(span["trace_id"], span["span_id"]) for span in spans}
        work = [
            span
            for span in spans
            if span["name"] == "application work"
            and span["attributes"]["request_number"] in numbers
        ]
        if len(work) == len(numbers) and all(
            not span["parent_span_id"] or (span["trace_id"], span["parent_span_id"]) in ids
            for span in work
        ):
            return spans
        if time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def parent_of(spans: list[Span], span: Span) -> Span | None:
    if not span["parent_span_id"]:
        return None
    (parent,) = [
        other
        for other in spans
        if other["span_id"] == span["parent_span_id"] and other["trace_id"] == span["trace_id"]
    ]
    return parent


@pytest.mark.parametrize("switching", SWITCHINGS)
@pytest.mark.parametrize("where", WHERE)
def test_a_request_held_while_tracing_is_switched_leaves_later_requests_clean(
    serving: Serving, where: str, switching: Switching
) -> None:
    served, a = serving.served, serving.server.prefix
    log_start = len(served.log())
    if not switching.traced_before:
        assert served.get(f"/{a}switch/uninstrument/")[0] == 200
    held_number = next(serving.numbers)
    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(served.get, f"/{a}{where}/{held_number}/", WAIT)
        switched = served.get(f"/{a}switch/{switching.how}/?held=1", WAIT)
        held_status, held_body = holding.result(WAIT)
    later: list[tuple[int, int, dict[str, object]]] = []
    for _round in range(ROUNDS):
        numbers = (next(serving.numbers), next(serving.numbers))
        with ThreadPoolExecutor(2) as pool:
            answers = [
                pool.submit(served.get, f"/{a}work/{number}/?pair=1", WAIT) for number in numbers
            ]
            for number, answer in zip(numbers, answers, strict=True):
                status, body = answer.result(WAIT)
                later.append((number, status, json.loads(body)))
    if not switching.traced_after:
        assert served.get(f"/{a}switch/on/")[0] == 200  # as the next case starts
    numbers = [held_number, *(number for number, _status, _body in later)]
    spans = wait_for_parents(serving.spans_file, numbers)
    log = served.log()[log_start:]

    assert switched == (200, switching.how.encode()), log
    assert held_status == 200, held_body
    held = json.loads(held_body)
    assert "error" not in held
    assert [status for _number, status, _body in later] == [200] * 2 * ROUNDS, later
    if not a:  # two threads: the held request's thread served a later request
        threads = [body["thread"] for _number, _status, body in later]
        assert held["thread"] in threads
        assert all(len(set(threads[i : i + 2])) == 2 for i in range(0, len(threads), 2))

    # The held request: its request span (if it had one) ended, named after its route.
    held_span = application_span(spans, held_number)
    held_request = parent_of(spans, held_span)
    if switching.traced_before:
        assert held_request is not None
        assert held_request["name"] == f"GET {a}{where}/<int:number>/"
        assert not held_request["parent_span_id"]
    else:
        assert held_request is None

    # Each later request starts from a clean context: its application span is in a trace of
    # its own, under its own request span while tracing is on, a root while it is off.
    for number, _status, body in later:
        work = application_span(spans, number)
        assert work["trace_id"] != held_span["trace_id"]
        request_span = parent_of(spans, work)
        if switching.traced_after:
            assert request_span is not None
            assert request_span["name"] == f"GET {a}work/<int:number>/"
            assert not request_span["parent_span_id"]
            assert body["current"] == work["trace_id"]
        else:
            assert request_span is None
            assert body["current"] == ""
    assert troubles(log) == [], log


# --------------------------------------------------------------------------------------------
# The switch flipped over and over while a threaded server is under load.

LOAD_THREADS = 8
LOAD_CLIENTS = 6
LOAD_REQUESTS_PER_CLIENT = 150
MAX_FLIPS = 120
FLIPS = ("uninstrument", "on", "settings-off", "on", "off-and-on-again")


def test_flipping_the_switch_while_waitress_is_under_load_logs_nothing(
    tmp_path: Path, spans_file: Path, report: Callable[[str], None]
) -> None:
    served = Served(
        waitress_command(threads=LOAD_THREADS),
        site_environment(RELIABILITY_SPANS_FILE=str(spans_file)),
        tmp_path,
    )
    flips: list[int] = []
    loading = threading.Event()

    def flipper() -> None:
        for number in range(MAX_FLIPS):
            if not loading.is_set():
                return
            status, _body = served.get(f"/switch/{FLIPS[number % len(FLIPS)]}/", WAIT)
            flips.append(status)

    try:
        numbers = range(1, LOAD_CLIENTS * LOAD_REQUESTS_PER_CLIENT + 1)
        paths = [
            [(number, f"/probe/{number}/") for number in numbers[c::LOAD_CLIENTS]]
            for c in range(LOAD_CLIENTS)
        ]
        loading.set()
        flipping = threading.Thread(target=flipper)
        flipping.start()
        try:
            load = threaded_load(served.port, paths, deadline_seconds=120)
        finally:
            loading.clear()
            flipping.join(WAIT * 2)
        if len(flips) % len(FLIPS) in (1, 3):  # the last flip left tracing off
            assert served.get("/switch/on/")[0] == 200
        later = [served.get(f"/work/{number}/") for number in range(10_001, 10_001 + LOAD_THREADS)]
    finally:
        served.stop()
    log = served.log()

    report(f"{len(flips)} flips while {load.summary()}")
    assert load.failures == [], load.failures[:10]
    assert flips == [200] * len(flips)
    assert len(flips) >= len(FLIPS), "the load was over before the switch was flipped much"
    assert troubles(log) == [], log
    # Tracing on again: each thread's next request is in a trace of its own.
    spans = wait_for_parents(spans_file, list(range(10_001, 10_001 + LOAD_THREADS)))
    for number, (status, body) in enumerate(later, start=10_001):
        assert status == 200
        work = application_span(spans, number)
        request_span = parent_of(spans, work)
        assert request_span is not None
        assert not request_span["parent_span_id"]
        assert json.loads(body)["current"] == work["trace_id"]
