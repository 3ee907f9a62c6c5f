"""No extra references, Django's caches and fast path untouched, no queries or signals of ours."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import _dispatch, instrumentation
from signal_tracing.recording import recording
from tests.dispatch.receivers import (
    async_ok,
    ok,
    run_both,
    traced_exporter,
)
from tests.testapp.models import Author


def test_weak_receivers_are_still_garbage_collected(exporter: InMemorySpanExporter) -> None:
    signal = Signal()

    def make() -> Callable[..., str]:
        def temporary(sender: Any, **kwargs: Any) -> str:
            return "temporary"

        return temporary

    temporary = make()
    signal.connect(temporary)
    assert signal.send(sender=None) == [(temporary, "temporary")]
    alive = weakref.ref(temporary)
    del temporary
    gc.collect()
    assert alive() is None
    assert signal.send(sender=None) == []


def test_bound_method_receivers_are_collected_with_their_instance(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()

    class Listener:
        def on(self, sender: Any, **kwargs: Any) -> str:
            return "bound"

    listener = Listener()
    signal.connect(listener.on)
    assert signal.send(sender=None)[0][1] == "bound"
    alive = weakref.ref(listener)
    del listener
    gc.collect()
    assert alive() is None


def test_senders_and_kwargs_are_not_kept_alive(exporter: InMemorySpanExporter) -> None:
    signal = Signal(use_caching=True)

    class Sender:
        pass

    signal.connect(ok, sender=Sender)
    payload = Sender()
    with recording() as recorded:
        signal.send(sender=Sender, payload=payload)
    assert recorded.dispatches
    sender_ref, payload_ref = weakref.ref(Sender), weakref.ref(payload)
    del Sender, payload
    gc.collect()
    assert sender_ref() is None
    assert payload_ref() is None


def test_sender_receivers_cache_matches_untraced_django() -> None:
    signal = Signal(use_caching=True)

    class A:
        pass

    class B:
        pass

    signal.connect(ok, sender=A)

    def scenario() -> dict[str, Any]:
        signal.sender_receivers_cache.clear()
        signal.send(sender=A)
        signal.send(sender=B)
        return {
            "A": signal.sender_receivers_cache.get(A) is not None,
            "B is NO_RECEIVERS": signal.sender_receivers_cache.get(B) is _dispatch.NO_RECEIVERS,
            "len": len(signal.sender_receivers_cache),
        }

    plain, traced = run_both(scenario, traced_exporter)
    assert plain == traced == {"A": True, "B is NO_RECEIVERS": True, "len": 2}


def test_dispatch_uid_and_sender_filtering_are_unchanged(exporter: InMemorySpanExporter) -> None:
    signal = Signal()
    signal.connect(ok, dispatch_uid="one")
    signal.connect(ok, dispatch_uid="one")
    signal.connect(async_ok, sender="only-me")
    assert signal.send(sender="someone") == [(ok, "ok")]
    assert signal.send(sender="only-me") == [(ok, "ok"), (async_ok, "async ok")]


def test_no_receivers_fast_path_records_nothing(exporter: InMemorySpanExporter) -> None:
    signal = Signal()
    with recording() as recorded:
        assert signal.send(sender=None) == []
        assert asyncio.run(signal.asend(sender=None)) == []
    assert recorded.dispatches == []
    assert exporter.get_finished_spans() == ()


@pytest.mark.django_db
def test_tracer_makes_no_queries_and_sends_no_signals(exporter: InMemorySpanExporter) -> None:
    def on_save(sender: Any, instance: Author, **kwargs: Any) -> None:
        pass

    post_save.connect(on_save, sender=Author)
    try:
        signal_tracing.uninstrument()
        with CaptureQueriesContext(connection) as plain:
            Author.objects.create(name="plain")
        traced_exporter()
        with CaptureQueriesContext(connection) as traced, recording(everything=True) as seen:
            instrumentation.acquire_capture()
            try:
                Author.objects.create(name="traced")
            finally:
                instrumentation.release_capture()
    finally:
        post_save.disconnect(on_save, sender=Author)
    assert len(plain.captured_queries) == len(traced.captured_queries)
    assert [d.signal_name for d in seen.dispatches] == [
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
    ]


@pytest.mark.parametrize("method", ["send", "send_robust", "asend", "asend_robust"])
def test_a_capture_records_the_fast_path_of_every_method(
    exporter: InMemorySpanExporter, method: str
) -> None:
    from signal_tracing.testing import capture_signals

    signal = Signal()
    with capture_signals() as captured:
        if method.startswith("a"):
            assert asyncio.run(getattr(signal, method)(sender="nobody")) == []
        else:
            assert getattr(signal, method)(sender="nobody") == []
    [firing] = captured.firings
    assert (firing.method, firing.receivers) == (method, [])
