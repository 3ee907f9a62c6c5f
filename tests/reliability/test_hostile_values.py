"""Hostile inputs: reprs that are slow or raise, lazy objects, huge values, exceptions that
cannot be printed, secrets in a project's own signal.

The tracer describes application objects by their type and never calls ``repr``/``str`` on
them or evaluates them; whatever they do, the application's send behaves as without tracing,
and every exported attribute is a plain, bounded OpenTelemetry value.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import Signal
from django.test.signals import setting_changed
from django.utils.functional import SimpleLazyObject
from opentelemetry.sdk.trace import ReadableSpan

from signal_tracing.testing import CollectedSpans, collect_spans
from tests.reliability.hostile import (
    SLOW_SECONDS,
    LazyFactory,
    Looked,
    RaisingRepr,
    SlowRepr,
    UnprintableError,
    not_plain,
    text_size,
)
from tests.testapp.models import Author

#: The largest span (characters of attribute and event values) any input may produce. Issue
#: 13 asks for a documented maximum; until then this bound stands for "not a function of the
#: input": the inputs below are 10-100 MB.
SPAN_TEXT_BOUND = 1024 * 1024
HUGE_ITEMS = 100_000

hostile = Signal()


def answer(sender: Any, **kwargs: Any) -> str:
    return "answered"


def fail_unprintably(sender: Any, **kwargs: Any) -> None:
    raise UnprintableError


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    Looked.looks = 0
    yield
    Looked.looks = 0


@pytest.fixture
def answering() -> Iterator[Signal]:
    hostile.connect(answer)
    yield hostile
    hostile.disconnect(answer)


def every_span(collected: CollectedSpans) -> list[ReadableSpan]:
    spans = collected.finished()
    assert spans, "nothing was traced"
    return spans


def assert_plain_and_exportable(spans: list[ReadableSpan]) -> None:
    for span in spans:
        assert not_plain(dict(span.attributes or {})) == {}, span.name
        for event in span.events:
            assert not_plain(dict(event.attributes or {})) == {}, (span.name, event.name)
        span.to_json()  # what ConsoleSpanExporter writes


def largest_span(spans: list[ReadableSpan]) -> int:
    return max(
        text_size(span.attributes or {})
        + sum(text_size(event.attributes or {}) for event in span.events)
        for span in spans
    )


# --------------------------------------------------------------------------------------------
# Senders and keyword arguments that must not be looked at.


def send_slow_sender(signal: Signal) -> list[tuple[Any, Any]]:
    return signal.send(sender=SlowRepr())


def send_slow_custom_kwargs(signal: Signal) -> list[tuple[Any, Any]]:
    # Named like built-in kwargs: a project's own signal is not Django's.
    return signal.send(
        sender=None, setting="ANY", value=[SlowRepr()], action=SlowRepr(), using=SlowRepr()
    )


def send_slow_setting_value(signal: Signal) -> list[tuple[Any, Any]]:
    return setting_changed.send(
        sender=None, setting="RELIABILITY_PROBE", value=[SlowRepr()], enter=True
    )


@pytest.mark.usefixtures("answering")
@pytest.mark.parametrize(
    "send",
    [
        pytest.param(send_slow_sender, id="sender"),
        pytest.param(send_slow_custom_kwargs, id="custom-signal-kwargs"),
        pytest.param(send_slow_setting_value, id="setting_changed-value"),
    ],
)
def test_the_tracer_never_calls_repr_or_str(
    send: Callable[[Signal], list[tuple[Any, Any]]], report: Callable[[str], None]
) -> None:
    with collect_spans() as collected:
        hostile.send(sender=None)  # first use of the signal and receiver: names are cached
        collected.clear()
        started = time.perf_counter()
        send(hostile)
        seconds = time.perf_counter() - started
    report(f"traced send took {seconds:.3f} s; repr/str/format called {Looked.looks} time(s)")
    assert Looked.looks == 0
    # A call to the slow repr takes SLOW_SECONDS; the rest is allowance for a loaded machine.
    assert seconds < SLOW_SECONDS * 0.9
    assert_plain_and_exportable(every_span(collected))


def test_a_lazy_sender_is_described_by_its_type(answering: Signal) -> None:
    # Django itself hashes the sender (its receivers cache), which evaluates a lazy object:
    # the tracer cannot add an evaluation, only describe it without looking inside.
    lazy = LazyFactory(RaisingRepr()).lazy()

    with collect_spans() as collected:
        responses = answering.send(sender=lazy)

    assert responses == [(answer, "answered")]
    assert Looked.looks == 0
    spans = every_span(collected)
    assert_plain_and_exportable(spans)
    (span,) = spans
    assert (span.attributes or {})["django.signal.sender"] == (
        "<django.utils.functional.SimpleLazyObject instance>"
    )


def receive_anything(sender: Any, **kwargs: Any) -> None:
    pass


def test_lazy_kwargs_of_a_builtin_signal_are_not_evaluated() -> None:
    instance, alias = LazyFactory(Author(pk=7, name="lazy")), LazyFactory("default")
    post_save.connect(receive_anything, sender=Author)
    try:
        with collect_spans() as collected:
            post_save.send(
                sender=Author, instance=instance.lazy(), using=alias.lazy(), created=True
            )
    finally:
        post_save.disconnect(receive_anything, sender=Author)

    assert (instance.evaluations, alias.evaluations) == (0, 0)
    assert_plain_and_exportable(every_span(collected))


def test_lazy_kwarg_named_in_record_kwargs_is_not_evaluated(answering: Signal) -> None:
    payload = LazyFactory("evaluated")

    with collect_spans(record_kwargs=["payload"]) as collected:
        answering.send(sender=None, payload=payload.lazy())

    assert payload.evaluations == 0
    assert_plain_and_exportable(every_span(collected))


# --------------------------------------------------------------------------------------------
# Whatever the input, the application's call behaves as without tracing.


def hostile_calls() -> list[Any]:
    def explode() -> Any:
        raise RuntimeError("lazy object that cannot be built")

    return [
        pytest.param(lambda: {"sender": RaisingRepr()}, id="raising-repr-sender"),
        pytest.param(
            lambda: {"sender": None, "setting": "X", "value": [RaisingRepr()], "enter": True},
            id="raising-repr-kwargs",
        ),
        pytest.param(
            lambda: {"sender": LazyFactory(None).lazy(), "using": LazyFactory("other").lazy()},
            id="lazy-objects",
        ),
        pytest.param(
            lambda: {"sender": None, "instance": _lazy(explode), "update_fields": _lazy(explode)},
            id="lazy-objects-that-raise",
        ),
    ]


def _lazy(build: Callable[[], Any]) -> Any:
    return SimpleLazyObject(build)


@pytest.mark.parametrize("kwargs", hostile_calls())
@pytest.mark.usefixtures("quiet_dispatch_log")
def test_hostile_values_never_change_what_the_application_sees(
    answering: Signal, kwargs: Callable[[], dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    async def asend() -> list[tuple[Any, Any]]:
        return await answering.asend_robust(**kwargs())

    with collect_spans(record_exception_messages=True, record_kwargs=["value"]):
        results = [
            answering.send(**kwargs()),
            answering.send_robust(**kwargs()),
            asyncio.run(asend()),
        ]

    assert results == [[(answer, "answered")]] * 3
    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []


# --------------------------------------------------------------------------------------------
# Huge values: the span stays bounded.


def test_huge_kwargs_of_a_custom_signal_are_not_recorded(
    answering: Signal, report: Callable[[str], None]
) -> None:
    tags = ["x" * 1000] * HUGE_ITEMS
    with collect_spans() as collected:
        started = time.perf_counter()
        answering.send(sender=None, tags=tags, payload="y" * 10_000_000)
        seconds = time.perf_counter() - started
    size = largest_span(every_span(collected))
    report(f"largest span {size} characters; traced send {seconds * 1000:.1f} ms")
    assert size < 4096


def test_huge_pk_set_is_recorded_as_its_size() -> None:
    m2m_changed.connect(receive_anything)
    try:
        with collect_spans() as collected:
            m2m_changed.send(
                sender=Author,
                instance=None,
                action="post_add",
                reverse=False,
                model=Author,
                pk_set=set(range(1_000_000)),
                using="default",
            )
    finally:
        m2m_changed.disconnect(receive_anything)
    (span,) = every_span(collected)
    assert (span.attributes or {})["django.signal.m2m.pk_set.size"] == 1_000_000
    assert largest_span([span]) < 4096


def test_huge_update_fields_give_a_bounded_span(report: Callable[[str], None]) -> None:
    post_save.connect(receive_anything, sender=Author)
    try:
        with collect_spans() as collected:
            post_save.send(
                sender=Author,
                instance=Author(pk=1),
                created=False,
                update_fields=frozenset(f"field_{n}_{'x' * 1000}" for n in range(HUGE_ITEMS)),
            )
    finally:
        post_save.disconnect(receive_anything, sender=Author)
    size = largest_span(every_span(collected))
    report(f"largest span {size} characters")
    assert size < SPAN_TEXT_BOUND


def test_huge_opted_in_kwarg_gives_a_bounded_span(
    answering: Signal, report: Callable[[str], None]
) -> None:
    with collect_spans(record_kwargs=["tags"]) as collected:
        answering.send(sender=None, tags=["x" * 1000] * HUGE_ITEMS)
    size = largest_span(every_span(collected))
    report(f"largest span {size} characters")
    assert size < SPAN_TEXT_BOUND


def fail_with_huge_message(sender: Any, **kwargs: Any) -> None:
    raise ValueError("m" * 10_000_000)


def test_huge_exception_message_gives_a_bounded_span(report: Callable[[str], None]) -> None:
    hostile.connect(fail_with_huge_message)
    try:
        with collect_spans(record_exception_messages=True) as collected:
            hostile.send_robust(sender=None)
    finally:
        hostile.disconnect(fail_with_huge_message)
    size = largest_span(every_span(collected))
    report(f"largest span {size} characters")
    assert size < SPAN_TEXT_BOUND


# --------------------------------------------------------------------------------------------
# Exceptions that cannot be printed: every span started is ended and exported.


@pytest.mark.usefixtures("quiet_dispatch_log")
@pytest.mark.parametrize(
    "record_messages",
    [
        pytest.param(False, id="messages-off"),
        pytest.param(True, id="messages-on"),
    ],
)
def test_unprintable_exception_keeps_its_receiver_span(
    record_messages: bool, caplog: pytest.LogCaptureFixture
) -> None:
    hostile.connect(answer)
    hostile.connect(fail_unprintably)
    try:
        with collect_spans(record_exception_messages=record_messages) as collected:
            responses = hostile.send_robust(sender=None)
    finally:
        hostile.disconnect(answer)
        hostile.disconnect(fail_unprintably)

    assert responses[0] == (answer, "answered")
    assert isinstance(responses[1][1], UnprintableError)
    assert collected.render() == "\n".join(
        [
            "hostile send_robust",
            "  tests.reliability.test_hostile_values.answer",
            "  tests.reliability.test_hostile_values.fail_unprintably"
            " error.type=tests.reliability.hostile.UnprintableError !ERROR",
        ]
    )
    assert [r for r in caplog.records if r.name.startswith("signal_tracing")] == []


# --------------------------------------------------------------------------------------------
# A project's own signal: nothing of its kwargs leaves unless named in RECORD_KWARGS.

SECRETS = ("alice@example.com", "+86 13800138000", "tok_live_abc123", "recovery_phone")


def test_a_custom_signals_kwargs_named_like_builtin_ones_are_not_exported(
    answering: Signal,
) -> None:
    with collect_spans() as collected:
        answering.send(
            sender=None,
            action="emailed reset link to alice@example.com",
            setting="recovery_phone",
            value="+86 13800138000",
            using="tok_live_abc123",
            update_fields=["alice@example.com"],
        )
    exported = repr(
        [(span.attributes, [e.attributes for e in span.events]) for span in every_span(collected)]
    )
    assert [secret for secret in SECRETS if secret in exported] == []
