"""The patched dispatcher behaves exactly like Django's, and records what happened."""

from __future__ import annotations

import asyncio
import gc
import logging
import traceback
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
from django.db import connection
from django.db.models.signals import post_init, post_save
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import _dispatch, firings
from signal_tracing.instrumentation import apply_settings
from signal_tracing.recording import recording
from signal_tracing.records import Outcome
from signal_tracing.testing import render_spans
from tests.testapp.models import Author

DJANGO_6 = django.VERSION >= (6, 0)


class Boom(Exception):
    pass


@pytest.fixture
def untraced() -> Iterator[None]:
    signal_tracing.uninstrument()
    yield
    apply_settings()


def run_both(scenario: Callable[[], Any], exporter_factory: Callable[[], Any]) -> tuple[Any, Any]:
    """Run ``scenario`` untraced, then traced; return both results."""
    signal_tracing.uninstrument()
    assert not _dispatch.is_patched()
    plain = scenario()
    exporter_factory()
    assert _dispatch.is_patched()
    traced = scenario()
    return plain, traced


# --- return values, exceptions, logs ---------------------------------------------------------


def ok(sender: Any, **kwargs: Any) -> str:
    return "ok"


def fails(sender: Any, **kwargs: Any) -> None:
    raise Boom("receiver failed")


async def async_ok(sender: Any, **kwargs: Any) -> str:
    await asyncio.sleep(0)
    return "async ok"


async def async_fails(sender: Any, **kwargs: Any) -> None:
    await asyncio.sleep(0)
    raise Boom("async receiver failed")


@pytest.fixture
def signal() -> Signal:
    return Signal()


def test_send_returns_original_receivers_and_responses(exporter: InMemorySpanExporter) -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(async_ok)
    assert signal.send(sender=None) == [(ok, "ok"), (async_ok, "async ok")]
    assert [s.name for s in exporter.get_finished_spans()][-1] == "unnamed_signal send"


def test_send_robust_returns_original_receiver_and_error(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    signal.connect(fails)
    signal.connect(ok)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = signal.send_robust(sender=None)
    assert [receiver for receiver, _ in responses] == [fails, ok]
    assert isinstance(responses[0][1], Boom)
    assert responses[1][1] == "ok"
    [log] = caplog.records
    assert log.name == "django.dispatch"
    assert log.getMessage() == "Error calling fails in Signal.send_robust() (receiver failed)"
    assert log.exc_info is not None
    assert log.exc_info[1] is responses[0][1]


def test_send_robust_logs_exactly_what_django_logs(caplog: pytest.LogCaptureFixture) -> None:
    signal = Signal()
    signal.connect(fails)
    signal.connect(async_fails)

    def scenario() -> list[tuple[str, str, str, Any]]:
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="django.dispatch"):
            signal.send_robust(sender=None)
            asyncio.run(signal.asend_robust(sender=None))
        logged = [
            (r.name, r.levelname, r.getMessage(), type(r.exc_info[1]) if r.exc_info else None)
            for r in caplog.records
            if r.name == "django.dispatch"
        ]
        # Django 5.2 runs asend_robust's sync group in a thread concurrently with the async
        # group, so the order of those two log lines is up to the scheduler, traced or not.
        return logged if DJANGO_6 else sorted(logged, key=repr)

    plain, traced = run_both(scenario, _traced_exporter)
    assert plain == traced
    assert len(traced) == 4


def test_exception_from_send_is_the_same_object_raised_in_the_receiver(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    raised: list[BaseException] = []

    def remembers(sender: Any, **kwargs: Any) -> None:
        error = Boom("x")
        raised.append(error)
        raise error

    signal.connect(remembers)
    with pytest.raises(Boom) as info:
        signal.send(sender=None)
    assert info.value is raised[0]
    innermost = traceback.extract_tb(info.value.__traceback__)[-1]
    assert innermost.name == "remembers"


def test_async_exception_from_asend_is_the_same_object(exporter: InMemorySpanExporter) -> None:
    signal = Signal()
    signal.connect(async_fails)
    with pytest.raises(Boom) as info:
        asyncio.run(signal.asend(sender=None))
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "async_fails"


def test_all_four_methods_return_the_same_as_untraced_django() -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(async_ok)
    signal.connect(fails, dispatch_uid="fails")

    def scenario() -> list[Any]:
        def shape(responses: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
            return [(r, type(v) if isinstance(v, Exception) else v) for r, v in responses]

        robust = shape(signal.send_robust(sender="s", x=1))
        arobust = shape(asyncio.run(signal.asend_robust(sender="s", x=1)))
        signal.disconnect(dispatch_uid="fails")
        try:
            sent = shape(signal.send(sender="s"))
            asent = shape(asyncio.run(signal.asend(sender="s")))
        finally:
            signal.connect(fails, dispatch_uid="fails")
        return [robust, arobust, sent, asent]

    plain, traced = run_both(scenario, _traced_exporter)
    assert plain == traced


# --- ordering and concurrency ---------------------------------------------------------------


def test_receivers_run_in_djangos_order_sync_and_async() -> None:
    calls: list[str] = []
    signal = Signal()

    def first(sender: Any, **kwargs: Any) -> None:
        calls.append("first")

    async def second(sender: Any, **kwargs: Any) -> None:
        calls.append("second:start")
        await asyncio.sleep(0.01)
        calls.append("second:end")

    async def third(sender: Any, **kwargs: Any) -> None:
        calls.append("third:start")
        await asyncio.sleep(0)
        calls.append("third:end")

    def fourth(sender: Any, **kwargs: Any) -> None:
        calls.append("fourth")

    for r in (first, second, third, fourth):
        signal.connect(r)

    def scenario() -> list[list[str]]:
        runs = []
        for send in (
            lambda: signal.send(sender=None),
            lambda: signal.send_robust(sender=None),
            lambda: asyncio.run(signal.asend(sender=None)),
            lambda: asyncio.run(signal.asend_robust(sender=None)),
        ):
            calls.clear()
            send()
            runs.append(list(calls))
        if not DJANGO_6:
            # Django 5.2's asend/asend_robust run the sync group in a thread while the async
            # group runs on the loop: only the order within each group is defined.
            runs[2:] = [
                ([c for c in run if ":" not in c], [c for c in run if ":" in c]) for run in runs[2:]
            ]
        return runs

    plain, traced = run_both(scenario, _traced_exporter)
    assert plain == traced


def test_a_sync_receiver_raising_in_send_stops_the_rest_and_counts_them(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(fails)
    signal.connect(ok, dispatch_uid="again")
    signal.connect(async_ok)
    with recording() as recorded, pytest.raises(Boom):
        signal.send(sender=None)
    [record] = recorded.dispatches
    assert [c.outcome for c in record.calls] == [
        Outcome.OK,
        Outcome.RAISED,
        Outcome.NOT_RUN,
        Outcome.NOT_RUN,
    ]
    assert record.outcome is Outcome.RAISED
    dispatch_span = exporter.get_finished_spans()[-1]
    assert dispatch_span.name == "unnamed_signal send"
    assert dispatch_span.attributes["django.signal.receivers.not_run"] == 2
    assert dispatch_span.status.is_ok is False


# --- references, caches and the fast path ---------------------------------------------------


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

    plain, traced = run_both(scenario, _traced_exporter)
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
        _traced_exporter()
        with CaptureQueriesContext(connection) as traced, recording(everything=True) as seen:
            _dispatch.acquire_capture()
            try:
                Author.objects.create(name="traced")
            finally:
                _dispatch.release_capture()
    finally:
        post_save.disconnect(on_save, sender=Author)
    assert len(plain.captured_queries) == len(traced.captured_queries)
    assert [d.signal_name for d in seen.dispatches] == [
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
    ]


# --- spans ------------------------------------------------------------------------------------


def test_single_receiver_send_is_one_merged_span(exporter: InMemorySpanExporter) -> None:
    from tests.testapp.signals import order_placed

    order_placed.connect(ok)
    try:
        order_placed.send(sender="shop", size=3)
    finally:
        order_placed.disconnect(ok)
    [span] = exporter.get_finished_spans()
    assert span.name == "order_placed tests.test_dispatch.ok"
    assert dict(span.attributes) == {
        "django.signal.name": "order_placed",
        "django.signal.path": "tests.testapp.signals.order_placed",
        "django.signal.sender": "shop",
        "django.signal.method": "send",
        "django.signal.receivers": 1,
        "django.signal.depth": 0,
        "code.function.name": "tests.test_dispatch.ok",
        "code.file.path": __file__,
        "code.line.number": ok.__code__.co_firstlineno,
    }


def test_several_receivers_get_a_dispatch_span_with_a_child_each(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(ok)
    signal.connect(async_ok)
    signal.send(sender=None)
    assert render_spans(exporter.get_finished_spans(), ["django.signal.receiver.async"]) == (
        "unnamed_signal send\n"
        "  tests.test_dispatch.ok\n"
        "  tests.test_dispatch.async_ok django.signal.receiver.async=True"
    )


def test_send_robust_marks_the_receiver_failed_not_the_dispatch(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal()
    signal.connect(fails)
    with caplog.at_level(logging.CRITICAL):
        signal.send_robust(sender=None)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    receiver_span = spans["tests.test_dispatch.fails"]
    dispatch_span = spans["unnamed_signal send_robust"]
    assert receiver_span.status.status_code.name == "ERROR"
    assert receiver_span.attributes["error.type"] == "tests.test_dispatch.Boom"
    assert receiver_span.attributes["django.signal.receiver.outcome"] == "handled"
    [event] = receiver_span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "tests.test_dispatch.Boom"
    assert "exception.message" not in event.attributes  # messages may hold user data
    assert dispatch_span.status.status_code.name == "UNSET"
    assert dispatch_span.attributes["django.signal.receivers.failed"] == 1


def test_exception_messages_are_recorded_only_when_opted_in(
    exporter: InMemorySpanExporter, settings: Any
) -> None:
    settings.SIGNAL_TRACING = {"RECORD_EXCEPTION_MESSAGES": True}
    signal_tracing.instrument(tracer_provider=firings.current_emitter().tracer_provider)
    signal = Signal()
    signal.connect(fails)
    exporter.clear()
    with pytest.raises(Boom):
        signal.send(sender=None)
    [span] = exporter.get_finished_spans()
    assert span.events[0].attributes["exception.message"] == "receiver failed"


@pytest.mark.django_db
def test_save_inside_post_save_is_nested_and_flagged_reentrant(
    exporter: InMemorySpanExporter,
) -> None:
    def resave(sender: Any, instance: Author, created: bool, **kwargs: Any) -> None:
        if created:
            instance.name = "renamed"
            instance.save(update_fields=["name"])

    post_save.connect(resave, sender=Author)
    try:
        Author.objects.create(name="first")
    finally:
        post_save.disconnect(resave, sender=Author)
    keys = ["django.signal.depth", "django.signal.reentrant", "django.signal.created"]
    assert render_spans(exporter.get_finished_spans(), keys) == (
        "post_save tests.test_dispatch.test_save_inside_post_save_is_nested_and_flagged_"
        "reentrant.<locals>.resave django.signal.depth=0 django.signal.created=True\n"
        "  post_save tests.test_dispatch.test_save_inside_post_save_is_nested_and_flagged_"
        "reentrant.<locals>.resave django.signal.depth=1 django.signal.reentrant=True "
        "django.signal.created=False"
    )


def test_async_receivers_called_from_send_and_sync_from_asend_get_spans(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(async_ok)
    signal.send(sender=None)
    signal.disconnect(async_ok)
    signal.connect(ok)
    asyncio.run(signal.asend(sender=None))
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "unnamed_signal tests.test_dispatch.async_ok",
        "unnamed_signal tests.test_dispatch.ok",
    ]


def test_firings_inside_async_receivers_nest_under_them(exporter: InMemorySpanExporter) -> None:
    outer, inner = Signal(), Signal()
    # An async receiver: two concurrent sync_to_async hops from one shared context deadlock
    # in plain Django 6 too ("Single thread executor already being used").
    inner.connect(async_ok)

    async def sends_inner(sender: Any, **kwargs: Any) -> None:
        await inner.asend(sender="nested")

    async def also_sends(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        await inner.asend(sender="nested")

    outer.connect(sends_inner)
    asyncio.run(outer.asend(sender=None))
    assert render_spans(exporter.get_finished_spans()) == (
        "unnamed_signal tests.test_dispatch.test_firings_inside_async_receivers_nest_under_"
        "them.<locals>.sends_inner\n"
        "  unnamed_signal tests.test_dispatch.async_ok"
    )
    exporter.clear()
    outer.connect(also_sends)
    asyncio.run(outer.asend(sender=None))
    spans = exporter.get_finished_spans()
    trace_ids = {span.context.trace_id for span in spans}
    assert len(trace_ids) == 1  # never orphans, whatever Django's context sharing
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["unnamed_signal asend"]


def test_parent_sampled_out_means_no_spans(exporter: InMemorySpanExporter) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    signal = Signal()
    signal.connect(ok)
    unsampled = NonRecordingSpan(
        SpanContext(trace_id=1, span_id=2, is_remote=True, trace_flags=TraceFlags(0))
    )
    with trace.use_span(unsampled), recording() as recorded:
        assert signal.send(sender=None) == [(ok, "ok")]
    assert exporter.get_finished_spans() == ()
    assert len(recorded.dispatches) == 1  # the panel still sees it


# --- policies and exclusion --------------------------------------------------------------------


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
        "EXCLUDE_RECEIVERS": ["tests.test_dispatch.fails"],
    }
    signal_tracing.instrument(tracer_provider=firings.current_emitter().tracer_provider)
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
    assert [c.receiver_name for c in record.calls] == ["tests.test_dispatch.ok"]
    assert [s.name for s in exporter.get_finished_spans()] == [
        "tests.test_dispatch.ok",
        "unnamed_signal send_robust",
    ]


# --- failure containment -------------------------------------------------------------------


def test_a_broken_tracer_never_breaks_the_send(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracer bug")

    monkeypatch.setattr(firings, "kwargs_attributes", explode)
    monkeypatch.setattr(firings.state, "failures_logged", set())
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
        "functools.partial(tests.test_dispatch.ok)",
        "tests.test_dispatch.test_receiver_names_never_crash_the_tracer.<locals>.<lambda>",
        "tests.test_dispatch.test_receiver_names_never_crash_the_tracer.<locals>.CallMe.__call__",
        "unittest.mock.Mock",
        "unnamed_signal send",
    ]


def _traced_exporter() -> InMemorySpanExporter:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    span_exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    signal_tracing.instrument(tracer_provider=provider)
    return span_exporter


@pytest.fixture(autouse=True)
def _restore_tracing() -> Iterator[None]:
    yield
    signal_tracing.uninstrument()
    apply_settings()


# --- records ---------------------------------------------------------------------------------


def test_records_nest_under_the_receiver_call_that_sent_them(
    exporter: InMemorySpanExporter,
) -> None:
    outer, inner = Signal(), Signal()
    inner.connect(ok)

    def sends_inner(sender: Any, **kwargs: Any) -> None:
        inner.send(sender="nested")

    outer.connect(ok)
    outer.connect(sends_inner)
    with recording() as recorded:
        outer.send(sender="top")
    top, nested = recorded.dispatches
    assert recorded.roots == [top]
    assert top.calls[1].children == [nested]
    assert nested.parent_call is top.calls[1]
    assert nested.chain() == [top, nested]
    assert list(top.walk()) == [top, nested]
    assert (top.depth, nested.depth) == (0, 1)


@pytest.mark.skipif(not DJANGO_6, reason="Django 5.2 gives each async receiver its own context")
def test_firings_from_concurrent_async_receivers_nest_under_the_firing(
    exporter: InMemorySpanExporter,
) -> None:
    outer, inner = Signal(), Signal()
    inner.connect(async_ok)

    async def first(sender: Any, **kwargs: Any) -> None:
        await inner.asend(sender="from first")

    async def second(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        await inner.asend(sender="from second")

    outer.connect(first)
    outer.connect(second)
    with recording() as recorded:
        asyncio.run(outer.asend(sender=None))
    top, *nested = recorded.dispatches
    assert recorded.roots == [top]
    assert sorted(r.sender_label for r in top.children) == ["from first", "from second"]
    assert all(r.parent_dispatch is top and r.depth == 1 for r in nested)
    assert [r.signal_name for r in top.walk()] == ["unnamed_signal"] * 3


def test_signals_created_on_the_fly_do_not_grow_the_tracers_caches(
    exporter: InMemorySpanExporter,
) -> None:
    from signal_tracing import firings

    alive = []  # kept alive so that no id is reused
    for _ in range(5000):
        signal = Signal()
        # A strong reference to a receiver of its own: on Django 5.2 a weak connect() to a
        # module-level function would keep the signal alive for the rest of the test run.
        signal.connect(lambda sender, **kwargs: None, weak=False)
        signal.send(sender=None)
        alive.append(signal)
    assert len(firings.infos) <= 4096
    alive.clear()
    firings.infos.clear()
