"""Policies, exclusions, and a broken tracer that still never breaks a send."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db.models.signals import post_init, post_save
from django.dispatch import Signal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import firings, state
from signal_tracing.recording import recording
from tests.dispatch.receivers import (
    fails,
    ok,
)
from tests.testapp.models import Author, Book


@pytest.mark.django_db
def test_init_signals_are_counted_on_the_enclosing_span(exporter: InMemorySpanExporter) -> None:
    def on_init(sender: Any, **kwargs: Any) -> None:
        pass

    def on_save(sender: Any, instance: Author, **kwargs: Any) -> None:
        list(Author.objects.all())

    Author.objects.bulk_create([Author(name=str(i)) for i in range(5)])
    post_init.connect(on_init, sender=Author)
    post_save.connect(on_save, sender=Author)
    try:
        with recording() as recorded:
            Author.objects.create(name="x")
    finally:
        post_init.disconnect(on_init, sender=Author)
        post_save.disconnect(on_save, sender=Author)
    [span] = exporter.get_finished_spans()
    assert span.attributes["django.signal.counts"][0].startswith("post_init testapp.Author x6 (")
    assert span.attributes["django.signal.counts.total"] == 6
    assert [d.signal_name for d in recorded.dispatches] == ["post_save"]
    counts = {key: c.count for key, c in recorded.counts.items()}
    # One post_init for the created instance plus six rows loaded inside the receiver.
    assert counts == {("django.db.models.signals.post_init", "testapp.Author"): 7}


def test_off_policy_and_excluded_senders_and_receivers_record_nothing(
    exporter: InMemorySpanExporter, settings: Any
) -> None:
    from tests.testapp.signals import order_placed

    settings.SIGNAL_TRACING = {
        "POLICIES": {"tests.testapp.signals.order_placed": "off"},
        "EXCLUDE_SENDERS": ["secret.*"],
        "EXCLUDE_RECEIVERS": ["tests.dispatch.receivers.fails"],
    }
    signal_tracing.instrument(tracer_provider=state.current_emitter().tracer_provider)
    exporter.clear()
    other = Signal()
    order_placed.connect(ok)
    other.connect(ok)
    other.connect(fails)
    try:
        with recording() as recorded:
            order_placed.send(sender="shop")
            other.send_robust(sender="secret.thing")
            other.send_robust(sender="visible")
    finally:
        order_placed.disconnect(ok)
    [record] = recorded.dispatches
    assert record.sender_label == "visible"
    assert [c.receiver_name for c in record.calls] == ["tests.dispatch.receivers.ok"]
    assert [s.name for s in exporter.get_finished_spans()] == [
        "tests.dispatch.receivers.ok",
        "unnamed_signal send_robust",
    ]


def test_a_broken_tracer_never_breaks_the_send(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracer bug")

    monkeypatch.setattr(firings, "send_site", explode)
    monkeypatch.setattr(state.running, "failures_logged", set())
    signal = Signal()
    signal.connect(ok)
    with caplog.at_level(logging.DEBUG, logger="signal_tracing"):
        assert signal.send(sender=None, size=1) == [(ok, "ok")]
        assert signal.send(sender=None, size=2) == [(ok, "ok")]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "starting a firing" in warnings[0].getMessage()


def test_receiver_names_never_crash_the_tracer(exporter: InMemorySpanExporter) -> None:
    import functools
    from unittest import mock

    class CallMe:
        def __call__(self, sender: Any, **kwargs: Any) -> str:
            return "instance"

    signal = Signal()
    receivers = [
        functools.partial(ok),
        lambda sender, **kwargs: "lambda",
        CallMe(),
        mock.Mock(return_value="mock"),
    ]
    for r in receivers:
        signal.connect(r, weak=False)
    signal.send(sender=None)
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "functools.partial(tests.dispatch.receivers.ok)",
        "tests.dispatch.test_policies.test_receiver_names_never_crash_the_tracer.<locals>.<lambda>",
        "tests.dispatch.test_policies.test_receiver_names_never_crash_the_tracer.<locals>.CallMe.__call__",
        "unittest.mock.Mock",
        "unnamed_signal send",
    ]


@pytest.mark.django_db
def test_a_models_first_instance_is_not_counted_when_nothing_receives_it(
    exporter: InMemorySpanExporter,
) -> None:
    # Django learns that no post_init receiver takes Author only when the first instance is
    # made (sender_receivers_cache has no entry before): that firing is no firing either.
    def on_other_init(sender: Any, **kwargs: Any) -> None:
        pass

    def on_save(sender: Any, instance: Author, **kwargs: Any) -> None:
        pass

    post_init.connect(on_other_init, sender=Book)  # post_init has receivers, not for Author
    post_save.connect(on_save, sender=Author)
    post_init.sender_receivers_cache.clear()
    try:
        with recording() as recorded:
            Author.objects.create(name="first")
            Author.objects.create(name="second")
    finally:
        post_init.disconnect(on_other_init, sender=Book)
        post_save.disconnect(on_save, sender=Author)
    spans = exporter.get_finished_spans()
    assert [span.name.rsplit(".", 1)[-1] for span in spans] == ["on_save", "on_save"]
    assert all("django.signal.counts" not in (span.attributes or {}) for span in spans)
    assert recorded.counts == {}
