"""Recordings: what they keep, and how a bounded one stops holding records at its limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal

from signal_tracing import recording
from signal_tracing.records import Outcome

tick = Signal()
burst = Signal()


def on_tick(sender: Any, **kwargs: Any) -> None:
    return None


def on_burst(sender: Any, count: int, **kwargs: Any) -> None:
    for index in range(count):
        tick.send(sender=f"shop {index % 2}")


@pytest.fixture(autouse=True)
def connected() -> Iterator[None]:
    tick.connect(on_tick)
    burst.connect(on_burst)
    yield
    tick.disconnect(on_tick)
    burst.disconnect(on_burst)


def test_a_recording_keeps_every_firing_without_a_limit() -> None:
    with recording.recording() as active:
        burst.send(sender="shop", count=5)
    assert len(active.dispatches) == 6
    assert (active.firings_left_out, active.left_out) == (0, {})


def test_past_its_limit_a_recording_counts_firings_per_signal_and_sender() -> None:
    active = recording.Recording(max_firings=3)
    token = recording.start(active)
    try:
        burst.send(sender="shop", count=6)
    finally:
        recording.stop(active, token)
    assert [record.signal_name for record in active.dispatches] == ["burst", "tick", "tick"]
    assert active.firings_left_out == 4
    path = f"{__name__}.tick"
    assert active.left_out == {("tick", path, "shop 0"): 2, ("tick", path, "shop 1"): 2}


def test_firings_past_the_limit_leave_nothing_behind() -> None:
    # The kept outer firing's receiver call must not hold the firings it sent past the limit,
    # nor may those get receiver-call records: that is what bounds the memory.
    active = recording.Recording(max_firings=2)
    token = recording.start(active)
    try:
        burst.send(sender="shop", count=50)
    finally:
        recording.stop(active, token)
    outer, first_tick = active.dispatches
    (call,) = outer.calls
    assert call.children == [first_tick]
    assert [nested.receiver_name for nested in first_tick.calls] == [f"{__name__}.on_tick"]
    assert call.outcome is Outcome.OK
    assert active.firings_left_out == 49


def test_the_left_out_tally_is_bounded_too() -> None:
    # Senders labelled on the fly (literal strings) must not grow the tally without end.
    active = recording.Recording(max_firings=2)
    token = recording.start(active)
    try:
        for index in range(10):
            tick.send(sender=f"customer {index}")
    finally:
        recording.stop(active, token)
    assert active.firings_left_out == 8
    assert len(active.left_out) == 2
    assert sum(active.left_out.values()) == 2


def test_an_unbounded_recording_beside_a_bounded_one_still_gets_everything() -> None:
    bounded = recording.Recording(max_firings=1)
    bounded_token = recording.start(bounded)
    try:
        with recording.recording() as everything:
            burst.send(sender="shop", count=3)
    finally:
        recording.stop(bounded, bounded_token)
    assert len(bounded.dispatches) == 1
    assert bounded.firings_left_out == 3
    assert len(everything.dispatches) == 4
    (call,) = everything.dispatches[0].calls
    assert [child.signal_name for child in call.children] == ["tick"] * 3
