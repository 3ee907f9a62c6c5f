"""Tracing keeps no application object alive: weakly connected receivers, senders and signals
are collected once the application drops them, whatever was traced or recorded meanwhile.

Each object is used through every send method (a receiver raising under send_robust and
asend_robust too), with spans exported to memory and a recording active as the debug-toolbar
panel has one; then the test drops its references and checks the weak references died.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal

from signal_tracing.recording import recording
from signal_tracing.testing import CollectedSpans, collect_spans

ROUNDS = 50
SIGNALS = 20


class Failed(Exception):
    pass


class Listener:
    """A receiver's owner: its bound methods are connected weakly, as Django does by default."""

    def __init__(self) -> None:
        self.calls = 0

    def on_signal(self, sender: Any, **kwargs: Any) -> str:
        self.calls += 1
        return "listened"

    def on_signal_failing(self, sender: Any, **kwargs: Any) -> None:
        raise Failed("with a reference to its sender", sender)

    async def on_signal_async(self, sender: Any, **kwargs: Any) -> str:
        self.calls += 1
        return "listened"


class Sender:
    pass


def fire_every_way(
    signal: Signal, sender: Any, robust_only: bool = False, rounds: int = ROUNDS
) -> None:
    """send, send_robust, asend and asend_robust, each ``rounds`` times."""
    for number in range(rounds):
        if not robust_only:
            signal.send(sender=sender, number=number)
        signal.send_robust(sender=sender, number=number)

    async def asynchronously() -> None:
        for number in range(rounds):
            if not robust_only:
                await signal.asend(sender=sender, number=number)
            await signal.asend_robust(sender=sender, number=number)

    asyncio.run(asynchronously())


@pytest.fixture
def traced(quiet_dispatch_log: None) -> Iterator[CollectedSpans]:
    """Spans exported to memory, and a recording active as the panel's is."""
    with collect_spans() as spans, recording():
        yield spans


def dead(*references: weakref.ref[Any]) -> bool:
    """Whether the objects are collected, allowing a moment for executor threads.

    asend/asend_robust run sync receivers through sync_to_async: the executor's worker thread
    drops its last reference to the finished call (and so to its result, exceptions and
    frames) just after the awaiting loop resumes, with or without tracing.
    """
    deadline = time.monotonic() + 2
    while True:
        gc.collect()
        if all(reference() is None for reference in references):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def referrers(references: list[weakref.ref[Any]]) -> list[str]:
    """What still refers to the objects that are alive, for the failure message."""
    return [
        f"{type(alive).__name__}: {[type(holder).__name__ for holder in gc.get_referrers(alive)]}"
        for alive in (reference() for reference in references)
        if alive is not None
    ]


def test_weak_receivers_are_collected(traced: CollectedSpans) -> None:
    signal = Signal()
    listener = Listener()
    signal.connect(listener.on_signal)
    signal.connect(listener.on_signal_failing)
    signal.connect(listener.on_signal_async)

    def local_receiver(sender: Any, **kwargs: Any) -> None:
        pass

    signal.connect(local_receiver)
    fire_every_way(signal, Sender(), robust_only=True)
    assert listener.calls == 4 * ROUNDS
    assert traced.finished()
    listener_ref, function_ref = weakref.ref(listener), weakref.ref(local_receiver)

    del listener, local_receiver

    assert dead(listener_ref, function_ref), referrers([listener_ref, function_ref])
    assert not signal.has_listeners()


@pytest.mark.parametrize("use_caching", [False, True])
def test_senders_are_collected(traced: CollectedSpans, use_caching: bool) -> None:
    signal = Signal(use_caching=use_caching)
    listener = Listener()
    signal.connect(listener.on_signal)
    signal.connect(listener.on_signal_failing)
    instance, cls = Sender(), type("MadeOnTheFly", (Sender,), {})

    fire_every_way(signal, instance, robust_only=True)
    fire_every_way(signal, cls, robust_only=True)
    assert listener.calls == 4 * ROUNDS
    references = [weakref.ref(instance), weakref.ref(cls)]

    del instance, cls

    assert dead(*references), referrers(references)


def test_signals_made_on_the_fly_are_collected(traced: CollectedSpans) -> None:
    listener = Listener()
    references: list[weakref.ref[Signal]] = []
    for _ in range(SIGNALS):
        signal = Signal()
        signal.connect(listener.on_signal, weak=False)
        fire_every_way(signal, None, rounds=5)
        references.append(weakref.ref(signal))
    del signal

    assert listener.calls == SIGNALS * 4 * 5
    assert dead(*references), referrers(references)


def test_a_failed_firing_keeps_nothing(traced: CollectedSpans) -> None:
    """send() re-raises the receiver's exception to the caller: once the caller drops it, the
    exception, its traceback and everything its frames held are gone."""
    signal = Signal()
    listener = Listener()
    signal.connect(listener.on_signal_failing)
    sender = Sender()
    with pytest.raises(Failed) as raised:
        signal.send(sender=sender)
    references = [weakref.ref(raised.value), weakref.ref(sender), weakref.ref(listener)]

    del raised, sender, listener

    assert dead(*references), referrers(references)
