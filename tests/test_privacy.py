"""End to end: what a traced firing exports about its keyword arguments and exceptions.

Private (a project's own signal exports nothing it did not name), transparent (the tracer never
calls into the application's objects, so it costs no time and raises nothing), and bounded
(no opt-in makes a span grow with the data).
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal
from django.utils.functional import SimpleLazyObject
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from signal_tracing import recording, state
from signal_tracing.attributes import MAX_SEQUENCE_ITEMS, MAX_STACKTRACE_LENGTH
from signal_tracing.panels.stats import build_stats
from signal_tracing.testing import CollectedSpans, collect_spans

audit = Signal()
settings_like = Signal()

SECRETS = (
    "alice@example.com",
    "+86 13800138000",
    "tok_live_abc123",
    "recovery_phone",
)


def logged(sender: Any, **kwargs: Any) -> None:
    return None


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


class Huge(Exception):
    pass


class Slow:
    calls = 0

    def __repr__(self) -> str:
        Slow.calls += 1
        time.sleep(2)
        return "Slow()"

    __str__ = __repr__


@pytest.fixture(autouse=True)
def _receivers() -> Iterator[None]:
    audit.connect(logged)
    settings_like.connect(logged)
    Slow.calls = 0
    yield
    audit.disconnect(logged)
    settings_like.disconnect(logged)


def exported_text(spans: list[ReadableSpan]) -> str:
    return "\n".join(span.to_json() for span in spans)


def send_audit() -> None:
    audit.send(
        sender=None,
        action="emailed reset link to alice@example.com",
        setting="recovery_phone",
        value="+86 13800138000",
        using="tok_live_abc123",
    )


def test_a_projects_own_signal_exports_no_kwarg_values_in_spans_or_the_panel() -> None:
    with collect_spans() as collected, recording.recording() as active:
        send_audit()
    [span] = collected.finished()
    assert not any(key.startswith("django.signal.m2m") for key in span.attributes or {})
    panel = json.dumps(build_stats(active, state.current_config()), default=str)
    for secret in SECRETS:
        assert secret not in exported_text([span])
        assert secret not in panel


def test_a_projects_own_signal_exports_what_record_kwargs_names() -> None:
    with collect_spans(record_kwargs=["action"]) as collected:
        send_audit()
    [span] = collected.finished()
    attributes = dict(span.attributes or {})
    assert attributes["django.signal.kwargs.action"] == "emailed reset link to alice@example.com"
    assert "django.signal.using" not in attributes
    assert "django.signal.kwargs.using" not in attributes


def test_a_slow_repr_in_a_setting_like_value_costs_nothing() -> None:
    with collect_spans() as collected:
        started = time.perf_counter()
        settings_like.send(sender=None, setting="x", value=[Slow()])
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert Slow.calls == 0
    assert len(collected.finished()) == 1


def lazy(value: object, evaluated: list[object]) -> SimpleLazyObject:
    def evaluate() -> object:
        evaluated.append(value)
        return value

    return SimpleLazyObject(evaluate)


def test_lazy_kwargs_are_neither_evaluated_nor_exported_as_objects() -> None:
    evaluated: list[object] = []
    with collect_spans(record_kwargs=["who"]) as collected:
        audit.send(sender=None, using=lazy("default", evaluated), who=lazy("alice", evaluated))
    [span] = collected.finished()
    assert evaluated == []
    assert span.attributes is not None
    assert span.attributes["django.signal.kwargs.who"] == (
        "<django.utils.functional.SimpleLazyObject>"
    )
    json.loads(span.to_json())  # a lazy object stored as a value would raise TypeError
    out = io.StringIO()
    ConsoleSpanExporter(out=out).export([span])
    assert "SimpleLazyObject" in out.getvalue()


def test_opted_in_sequences_are_bounded() -> None:
    with collect_spans(record_kwargs=["tags"]) as collected:
        audit.send(sender=None, tags=["x" * 1000] * 100_000)
    [span] = collected.finished()
    assert span.attributes is not None
    tags = span.attributes["django.signal.kwargs.tags"]
    assert len(tags) == MAX_SEQUENCE_ITEMS  # type: ignore[arg-type]
    assert len(span.to_json()) < 64 * 1024  # was 27.7 MB


def test_opted_in_exception_messages_and_stack_traces_are_bounded(
    collected_messages: CollectedSpans,
) -> None:
    def fails(sender: Any, **kwargs: Any) -> None:
        raise Huge("m" * 10_000_000)

    audit.connect(fails)
    try:
        with pytest.raises(Huge):  # send(): send_robust would log all of it
            audit.send(sender=None)
    finally:
        audit.disconnect(fails)
    failed = [span for span in collected_messages.finished() if span.events]
    [event] = failed[0].events
    assert event.attributes is not None
    assert len(str(event.attributes["exception.message"])) == 256
    assert len(str(event.attributes["exception.stacktrace"])) <= MAX_STACKTRACE_LENGTH


@pytest.fixture
def collected_messages() -> Iterator[CollectedSpans]:
    with collect_spans(record_exception_messages=True) as collected:
        yield collected


def test_a_receiver_whose_exception_cannot_be_printed_keeps_its_span(
    collected_messages: CollectedSpans, caplog: pytest.LogCaptureFixture
) -> None:
    def fails(sender: Any, **kwargs: Any) -> None:
        raise Unprintable()

    audit.connect(fails)
    try:
        # send(), not send_robust(): Django's own log line for send_robust would str() it.
        with caplog.at_level(logging.DEBUG, logger="signal_tracing"), pytest.raises(Unprintable):
            audit.send(sender=None)
    finally:
        audit.disconnect(fails)
    assert [record for record in caplog.records if record.name == "signal_tracing"] == []
    spans = {span.name: span for span in collected_messages.finished()}
    receiver = spans[
        "tests.test_privacy.test_a_receiver_whose_exception_cannot_be_printed_keeps_its_span.<locals>.fails"
    ]
    [event] = receiver.events
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "<exception str() failed>"
    assert event.attributes["exception.type"] == "tests.test_privacy.Unprintable"


def attribute_characters(span: ReadableSpan) -> int:
    """Characters of every attribute value on the span and its events."""
    values = list((span.attributes or {}).values())
    for event in span.events:
        values += list((event.attributes or {}).values())
    return sum(
        sum(len(str(item)) for item in value) if isinstance(value, tuple) else len(str(value))
        for value in values
    )


def test_the_largest_span_stays_within_the_documented_bound() -> None:
    # docs/settings.md: under 40,000 characters, plus 64 x 256 per RECORD_KWARGS name (and
    # names from code, short here).
    def fails(sender: Any, **kwargs: Any) -> None:
        raise Huge("m" * 1_000_000)

    huge = {f"k{i}": ["x" * 10_000] * 10_000 for i in range(3)}
    audit.disconnect(logged)
    audit.connect(fails)
    try:
        with (
            collect_spans(record_kwargs=list(huge), record_exception_messages=True) as collected,
            pytest.raises(Huge),
        ):
            audit.send(sender="y" * 10_000, **huge)
    finally:
        audit.disconnect(fails)
    [span] = collected.finished()
    assert attribute_characters(span) < 40_000 + 3 * 64 * 256
