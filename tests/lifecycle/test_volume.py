"""Volume control: MAX_SPANS_PER_TRACE counts the excess on the trace's root span, and
count-policy signals are summed on the span they happen in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models.signals import post_init, pre_init
from django.test import Client

import signal_tracing
from signal_tracing.lifecycle import test_scope
from tests.lifecycle import views
from tests.lifecycle.conftest import Tracing

pytestmark = pytest.mark.urls("tests.lifecycle.urls")

KEYS = ("django.signal.spans_dropped", "django.signal.counts.total")


def on_tick_first(sender: Any, **kwargs: Any) -> None:
    pass


def on_tick_second(sender: Any, **kwargs: Any) -> None:
    pass


def on_init(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def tick_receivers() -> Iterator[None]:
    views.tick.connect(on_tick_first)
    views.tick.connect(on_tick_second)
    yield
    views.tick.disconnect(on_tick_first)
    views.tick.disconnect(on_tick_second)


@pytest.mark.usefixtures("tick_receivers")
def test_spans_over_the_cap_are_counted_on_the_request_span(tracing: Tracing) -> None:
    signal_tracing.instrument(max_spans_per_trace=4)

    Client().get("/ticks/")  # ten firings of a signal with two receivers

    # request_started's span and the first firing (3 spans) fill the budget of 4; the other
    # nine firings and request_finished get no span, and say so on the root.
    assert tracing.tree(KEYS) == "\n".join(
        [
            "GET ticks/ django.signal.spans_dropped=10",
            "  request_started tests.lifecycle.conftest.request_began",
            "  tick send",
            "    tests.lifecycle.test_volume.on_tick_first",
            "    tests.lifecycle.test_volume.on_tick_second",
        ]
    )


@pytest.mark.usefixtures("tick_receivers")
def test_nested_request_shares_the_budget_of_the_tests_trace(tracing: Tracing) -> None:
    signal_tracing.instrument(max_spans_per_trace=3)

    with test_scope("tests/test_ticks.py::test_many"):
        Client().get("/ticks/")

    # The request span, request_started and the first firing take the test trace's three
    # slots; that firing's two receivers, nine more firings and request_finished are counted
    # on the trace's root, not on the nested request span.
    assert tracing.tree(KEYS) == "\n".join(
        [
            "tests/test_ticks.py::test_many django.signal.spans_dropped=12",
            "  GET ticks/",
            "    request_started tests.lifecycle.conftest.request_began",
            "    tick send",
        ]
    )


def test_count_policy_signals_are_summed_on_the_request_span(tracing: Tracing) -> None:
    pre_init.connect(on_init)
    post_init.connect(on_init)
    try:
        Client().get("/authors/built/")  # builds three Author instances
    finally:
        pre_init.disconnect(on_init)
        post_init.disconnect(on_init)

    assert tracing.tree(KEYS) == "\n".join(
        [
            "GET authors/built/ django.signal.counts.total=6",
            "  request_started tests.lifecycle.conftest.request_began",
            "  request_finished tests.lifecycle.conftest.request_ended",
        ]
    )
    counts = (tracing.named("GET authors/built/").attributes or {})["django.signal.counts"]
    assert len(counts) == 2
    for signal_name, line in zip(("post_init", "pre_init"), sorted(counts)):
        assert re.fullmatch(rf"{signal_name} testapp\.Author x3 \(\d+\.\d\d ms\)", line), line
