"""100,000 firings: what the tracer holds is bounded, not a function of the count.

Spans go to a provider that counts them and lets them go, so what tracemalloc finds is what
the tracer itself keeps: caches of names and senders, records, the request's span budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.dispatch import Signal
from django.test import Client

from tests.reliability import views
from tests.reliability.memory import measured
from tests.reliability.sinks import CountingProcessor, counted_spans

SENDS = 100_000
WARM_UP = 2_000
#: What 100,000 sends may leave allocated: the tracer's caches are bounded (4,096 senders
#: per signal, a few hundred KiB); a leak of one small object per send would be > 3 MiB.
RETAINED_BOUND = 1024 * 1024
#: What one request of 100,000 firings may hold while it runs: MAX_SPANS_PER_TRACE (1,000)
#: spans, records of what can be shown (the panel keeps 1,000 rows), counts of the rest.
REQUEST_BOUND = 8 * 1024 * 1024

ticked = Signal()


def on_tick(sender: Any, **kwargs: Any) -> int:
    return 1


class Sender:
    """Each send gets a new instance: the tracer's sender cache must not grow with them."""


@pytest.fixture
def tick_receiver() -> Iterator[None]:
    ticked.connect(on_tick)
    yield
    ticked.disconnect(on_tick)


@pytest.mark.usefixtures("tick_receiver")
def test_100k_sends_outside_any_request_leave_memory_bounded(
    report: Callable[[str], None],
) -> None:
    with counted_spans() as spans:
        for number in range(WARM_UP):
            ticked.send(sender=Sender(), number=number)
        started, cpu = time.perf_counter(), time.process_time()
        with measured() as growth:
            for number in range(SENDS):
                ticked.send(sender=Sender(), number=number)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    report(
        f"{SENDS} sends, a new sender each, {spans.ended} spans ended; {growth}; "
        f"{seconds:.1f} s ({cpu:.1f} s CPU) under tracemalloc"
    )
    assert spans.ended == SENDS + WARM_UP  # one receiver: one (merged) span per send
    assert growth.retained < RETAINED_BOUND


@pytest.fixture
def flood_receiver() -> Iterator[None]:
    views.flooded.connect(views.on_flooded)
    yield
    views.flooded.disconnect(views.on_flooded)


def flood_request(client: Client, spans: CountingProcessor) -> tuple[dict[str, int], float]:
    """Warm up, then one request of FLOOD firings: its figures (and its spans), CPU time."""
    # A small request first: Django's first request fills caches (URL resolvers and such)
    # that would otherwise count as retained.
    assert client.get("/flood/", {"count": 10}).status_code == 200
    spans_before = spans.ended
    cpu = time.process_time()
    with measured() as growth:
        response = client.get("/flood/")
        assert response.status_code == 200
    figures: dict[str, int] = response.json()
    figures["retained"] = growth.retained
    figures["spans"] = spans.ended - spans_before
    return figures, time.process_time() - cpu


@pytest.mark.urls("tests.reliability.urls")
@pytest.mark.usefixtures("flood_receiver")
def test_100k_firings_in_one_request_hold_bounded_memory(report: Callable[[str], None]) -> None:
    with counted_spans() as spans:
        figures, seconds = flood_request(Client(), spans)
    report(
        f"one request, {figures['sent']} firings: held {figures['held'] / 1024:.0f} KiB "
        f"while running, {figures['retained'] / 1024:+.1f} KiB after; {figures['spans']} spans "
        f"ended; {seconds:.1f} s CPU"
    )
    assert figures["sent"] == views.FLOOD
    assert figures["held"] < REQUEST_BOUND
    assert figures["retained"] < RETAINED_BOUND
    # MAX_SPANS_PER_TRACE (1,000) spans under the request span; the rest counted on it.
    assert figures["spans"] == 1000 + 1


@pytest.fixture
def toolbar(settings: Any) -> Client:
    """DEBUG on, the toolbar's middleware first: our panel records every request."""
    settings.DEBUG = True
    settings.MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware", *settings.MIDDLEWARE]
    return Client()


@pytest.mark.urls("tests.reliability.urls")
@pytest.mark.usefixtures("flood_receiver")
def test_100k_firings_under_the_toolbar_panel_hold_bounded_memory(
    toolbar: Client, report: Callable[[str], None]
) -> None:
    with counted_spans() as spans:
        figures, seconds = flood_request(toolbar, spans)
    report(
        f"one request with the panel, {figures['sent']} firings sent before "
        f"{figures['held'] / 1024:.0f} KiB were held; {seconds:.1f} s CPU"
    )
    assert figures["sent"] == views.FLOOD
    assert figures["held"] < REQUEST_BOUND
