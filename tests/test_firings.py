"""One firing's bookkeeping: open_firing(), the brackets around receiver calls, finish()."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models.signals import post_init
from django.dispatch import Signal
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import _dispatch, firings, state
from signal_tracing.caches import BoundedCache
from signal_tracing.firings import (
    FiringNode,
    Method,
    UntracedFiring,
    add_count,
    open_firing,
    record_empty,
)
from signal_tracing.instrumentation import acquire_capture, apply_settings, release_capture
from signal_tracing.nesting import Scope, current_node
from signal_tracing.recording import recording
from signal_tracing.records import Outcome
from signal_tracing.routing import Action
from tests.testapp.signals import order_placed

PATH = "tests.testapp.signals.order_placed"
SEND = Method("send", True, False)
SEND_ROBUST = Method("send_robust", False, False)


def first(sender: Any, **kwargs: Any) -> None:
    return None


def second(sender: Any, **kwargs: Any) -> None:
    return None


class Boom(Exception):
    pass


def boom(sender: Any, **kwargs: Any) -> None:
    raise Boom("receiver failed")


class Hook:
    def __init__(self, fail_before: bool = False, fail_after: bool = False) -> None:
        self.fail_before = fail_before
        self.fail_after = fail_after
        self.calls: list[tuple[str, Any]] = []

    def before(self, signal: Signal, sender: Any, named: dict[str, Any], method: str) -> str:
        if self.fail_before:
            raise RuntimeError("before")
        self.calls.append(("before", method))
        return "state"

    def after(self, state: str, error: BaseException | None) -> None:
        if self.fail_after:
            raise RuntimeError("after")
        self.calls.append(("after", (state, error)))


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    firings.set_hook(order_placed, None)
    signal_tracing.uninstrument()
    apply_settings()


@pytest.fixture
def fresh_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state.running, "failures_logged", set())


@pytest.fixture
def in_scope() -> Iterator[Scope]:
    scope = Scope("request", "GET /", None)
    token = current_node.set(scope)
    yield scope
    current_node.reset(token)


def traced(receivers: list[Any], method: Method = SEND, **named: Any) -> FiringNode:
    firing = open_firing(order_placed, "shop", named, method, receivers, [])
    assert isinstance(firing, FiringNode)
    return firing


# --- open_firing: what brackets the receivers ------------------------------------------------


def test_nothing_to_do_means_django_runs_the_receivers_alone() -> None:
    signal_tracing.instrument(policies={PATH: "off"})
    assert open_firing(order_placed, "shop", {}, SEND, [first], []) is None


def test_a_hook_runs_around_a_firing_whatever_its_policy() -> None:
    signal_tracing.instrument(policies={PATH: "off"})
    hook = Hook()
    firings.set_hook(order_placed, hook)
    assert firings.has_hooks()
    firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
    assert isinstance(firing, UntracedFiring)
    error = Boom()
    firing.finish(error)
    assert hook.calls == [("before", "send"), ("after", ("state", error))]


def test_a_hook_also_closes_around_a_traced_firing(exporter: InMemorySpanExporter) -> None:
    hook = Hook()
    firings.set_hook(order_placed, hook)
    firing = traced([first])
    firing.finish(None)
    assert hook.calls == [("before", "send"), ("after", ("state", None))]
    assert [span.name for span in exporter.get_finished_spans()] == [
        "order_placed tests.test_firings.first"
    ]


@pytest.mark.usefixtures("fresh_failures")
def test_a_failing_hook_is_reported_and_the_firing_goes_on(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    firings.set_hook(order_placed, Hook(fail_before=True))
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        firing = traced([first])
        firing.finish(None)
        firings.set_hook(order_placed, Hook(fail_after=True))
        traced([first]).finish(None)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "signal_tracing failed in the Hook hook"
    ]
    assert len(exporter.get_finished_spans()) == 2


def test_a_traced_firing_without_live_receivers_is_recorded_only_for_a_capture(
    exporter: InMemorySpanExporter,
) -> None:
    with recording() as panel:
        assert open_firing(order_placed, "shop", {}, SEND, [], []) is None
    assert panel.dispatches == []
    acquire_capture()
    try:
        with recording(everything=True) as captured:
            assert open_firing(order_placed, "shop", {}, SEND, [], []) is None
    finally:
        release_capture()
    [record] = captured.dispatches
    assert (record.signal_name, record.receiver_count, record.outcome) == (
        "order_placed",
        0,
        Outcome.OK,
    )


def test_record_empty_records_nothing_outside_a_test_capture() -> None:
    with recording() as panel:
        record_empty(order_placed, "shop", {}, SEND)
    assert panel.dispatches == []


def test_a_firing_whose_receivers_are_all_excluded_is_hidden(
    exporter: InMemorySpanExporter,
) -> None:
    signal_tracing.instrument(exclude_receivers=["tests.test_firings.*"])
    assert open_firing(order_placed, "shop", {}, SEND, [first], []) is None
    acquire_capture()
    try:
        with recording(everything=True) as captured:
            firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
            assert isinstance(firing, FiringNode)
            assert firing.enter(0) is None  # excluded: never recorded
            firing.finish(None)
    finally:
        release_capture()
    [record] = captured.dispatches
    assert record.calls == []
    assert exporter.get_finished_spans() == ()


@pytest.mark.usefixtures("fresh_failures")
def test_a_firing_that_cannot_start_runs_untraced(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(firings, "send_site", broken)
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        assert open_firing(order_placed, "shop", {}, SEND, [first], []) is None
        acquire_capture()
        try:
            with recording(everything=True):
                record_empty(order_placed, "shop", {}, SEND)
        finally:
            release_capture()
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "signal_tracing failed in starting a firing"
    ]


# --- counts ------------------------------------------------------------------------------------


def count_the_long_way(scope: Scope | None = None) -> None:
    """Count ``order_placed`` (on ``scope``, given a span: any span, counts need one): the
    signal's first counted firing goes the long way, and plans the next ones."""
    signal_tracing.instrument(policies={PATH: "count"})
    if scope is not None:
        scope.span = object()  # type: ignore[assignment]
    firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
    assert isinstance(firing, UntracedFiring)
    firing.finish(None)


def count_on(scope: Scope) -> int:
    """The number of firings counted on ``scope`` (of its one signal and sender)."""
    [(count, _total_ns, _name, _label)] = scope.counts.values()  # type: ignore[union-attr]
    return int(count)


def test_a_counted_firing_is_its_count_on_the_enclosing_span(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    count_the_long_way(in_scope)
    opened = [open_firing(order_placed, "shop", {}, SEND, [first], []) for _ in range(3)]
    # Nothing is made per firing: each is the same count, which the sending method adds to.
    [count] = in_scope.counts.values()  # type: ignore[union-attr]
    assert all(firing is count for firing in opened)
    assert count[0] == 1
    assert count[2:] == ["order_placed", "shop"]


def test_a_counted_firing_sent_adds_one_and_its_time_to_the_enclosing_span(
    exporter: InMemorySpanExporter, in_scope: Scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    signal_tracing.instrument(policies={PATH: "count"})
    in_scope.span = object()  # type: ignore[assignment]
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(_dispatch, "now", lambda: next(clock))
    monkeypatch.setattr(firings, "now", lambda: next(clock))
    order_placed.connect(first)
    order_placed.connect(boom)
    try:
        order_placed.send_robust(sender="shop")  # the long way, which plans the others
        order_placed.send_robust(sender="shop")
        asyncio.run(order_placed.asend_robust(sender="shop"))
        with pytest.raises(Boom):  # a firing that raises is counted too
            order_placed.send(sender="shop")
        with pytest.raises(Boom):
            asyncio.run(order_placed.asend(sender="shop"))
    finally:
        order_placed.disconnect(first)
        order_placed.disconnect(boom)
    assert list(in_scope.counts.values()) == [[5, 50, "order_placed", "shop"]]  # type: ignore[union-attr]


def test_a_counted_firing_outside_any_span_runs_as_django_runs_it(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    count_the_long_way()
    assert open_firing(order_placed, "shop", {}, SEND, [first], []) is None
    assert in_scope.counts is None


def test_a_counted_firing_under_a_sampled_out_span_runs_as_django_runs_it(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    # An unsampled request: its span is never given the counts, so none are kept.
    count_the_long_way(in_scope)
    in_scope.sampled_out = True
    assert open_firing(order_placed, "shop", {}, SEND, [first], []) is None
    assert count_on(in_scope) == 1


def test_a_counted_firing_without_live_receivers_is_not_counted(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    # What Django's sender cache has no entry for yet, or a signal that does not cache.
    count_the_long_way(in_scope)
    assert open_firing(order_placed, "shop", {}, SEND, [], []) is None
    assert count_on(in_scope) == 1


def test_a_counted_firing_a_recording_sees_is_counted_there_too(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    signal_tracing.instrument(policies={PATH: "count"})
    in_scope.span = object()  # type: ignore[assignment]
    with recording() as recorded:
        firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
        assert isinstance(firing, UntracedFiring)
        firing.finish(None)
    assert {key: c.count for key, c in recorded.counts.items()} == {(PATH, "shop"): 1}
    [(count, _total_ns, name, label)] = in_scope.counts.values()  # type: ignore[union-attr]
    assert (count, name, label) == (1, "order_placed", "shop")


def test_a_policy_changed_at_run_time_takes_effect_at_the_next_firing(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    count_the_long_way(in_scope)
    assert isinstance(open_firing(order_placed, "shop", {}, SEND, [first], []), list)
    signal_tracing.instrument(policies={PATH: "span"})
    firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
    assert isinstance(firing, FiringNode)
    firing.finish(None)
    count_the_long_way()
    assert isinstance(open_firing(order_placed, "shop", {}, SEND, [first], []), list)


def test_only_a_signal_counted_under_the_configuration_in_force_is_planned(
    exporter: InMemorySpanExporter, in_scope: Scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    # route() may decide from facts cached under the previous configuration for a moment.
    signal_tracing.instrument(policies={PATH: "span"})
    monkeypatch.setattr(firings, "_plans", BoundedCache(10))
    stale = firings.signal_facts(order_placed).count_route
    monkeypatch.setattr(firings, "route", lambda signal, sender: stale)
    firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
    assert isinstance(firing, UntracedFiring)
    firing.finish(None)
    assert id(order_placed) not in firings._plans


def test_a_hook_installed_on_a_counted_signal_runs_from_its_next_firing(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    count_the_long_way(in_scope)
    assert isinstance(open_firing(order_placed, "shop", {}, SEND, [first], []), list)
    hook = Hook()
    firings.set_hook(order_placed, hook)
    firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
    assert isinstance(firing, UntracedFiring)
    firing.finish(None)
    assert hook.calls == [("before", "send"), ("after", ("state", None))]
    assert count_on(in_scope) == 2


def test_a_signal_is_never_taken_for_another_that_had_its_id(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    count_the_long_way(in_scope)
    other = Signal()
    # What a collected counted signal's plan would look like to a new signal at its address.
    firings._plans[id(other)] = firings._plans[id(order_placed)]
    firing = open_firing(other, "shop", {}, SEND, [first], [])
    assert isinstance(firing, FiringNode)
    firing.finish(None)


def test_a_counted_signal_and_its_sender_are_not_kept_alive(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    class Sender:
        pass

    def receiver(**kwargs: object) -> None:
        pass

    signal = Signal()
    sender = Sender()
    signal_tracing.instrument(default_policy="count")
    in_scope.span = object()  # type: ignore[assignment]
    # A receiver that dies with the signal: on Django 5.2, connecting a function registers a
    # weakref.finalize holding the signal's bound method, which keeps the signal alive as long
    # as the receiver lives (untraced too).
    signal.connect(receiver)
    for _ in range(3):  # the long way, then the short way
        signal.send(sender=sender)
    assert count_on(in_scope) == 3
    signal_ref, sender_ref = weakref.ref(signal), weakref.ref(sender)
    del signal, sender, receiver
    gc.collect()
    assert (signal_ref(), sender_ref()) == (None, None)


def test_counts_go_to_recordings_and_leave_excluded_senders_unnamed(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    signal_tracing.instrument(policies={PATH: "count"}, exclude_senders=["hidden"])
    in_scope.span = object()  # type: ignore[assignment]
    with recording() as recorded:
        add_count(in_scope, order_placed, "shop", 5)
        add_count(in_scope, order_placed, "hidden", 7)
    assert {key: c.count for key, c in recorded.counts.items()} == {(PATH, "shop"): 1}
    assert sorted(entry[3] or "" for entry in in_scope.counts.values()) == ["", "shop"]  # type: ignore[union-attr]


@pytest.mark.usefixtures("fresh_failures")
def test_a_failure_while_counting_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    scope = Scope("request", "GET /", object())  # type: ignore[arg-type]
    scope.counts = {(id(order_placed), id("shop")): "not a count"}  # type: ignore[dict-item]
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        add_count(scope, order_placed, "shop", 1)
    assert "failed in counting" in caplog.records[0].getMessage()


@pytest.mark.usefixtures("fresh_failures")
def test_a_failure_on_the_counted_path_is_reported_and_the_firing_goes_the_long_way(
    exporter: InMemorySpanExporter,
    in_scope: Scope,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("bug")

    count_the_long_way(in_scope)
    monkeypatch.setattr(firings, "_node_now", broken)
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        firing = open_firing(order_placed, "shop", {}, SEND, [first], [])
        assert isinstance(firing, UntracedFiring)  # route() still counts it
        firing.finish(None)
        monkeypatch.setattr(firings, "_plans", BoundedCache(10))
        monkeypatch.setattr(firings, "signal_facts", broken)
        firings._plan(order_placed)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "signal_tracing failed in counting a firing",
        "signal_tracing failed in planning a firing",
    ]
    assert firings._plans == {}
    assert count_on(in_scope) == 2


def test_a_firing_has_a_record_only_when_something_reads_records(
    exporter: InMemorySpanExporter,
) -> None:
    firing = traced([first])
    firing.finish(None)
    assert firing.record is None
    assert [span.name for span in exporter.get_finished_spans()] == [
        "order_placed tests.test_firings.first"
    ]
    with recording() as recorded:
        firing = traced([first])
        firing.finish(None)
    assert recorded.dispatches == [firing.record]


# --- the brackets -----------------------------------------------------------------------------


def test_enter_and_leave_record_each_call_and_its_outcome(exporter: InMemorySpanExporter) -> None:
    with recording() as recorded:
        firing = traced([first, second], SEND_ROBUST)
        call = firing.enter(0)
        firing.leave(call)
        error = Boom("handled")
        call = firing.enter(1)
        firing.leave(call, error, handled=True)
        firing.finish(None)
    [record] = recorded.dispatches
    assert [(c.receiver_name, c.outcome) for c in record.calls] == [
        ("tests.test_firings.first", Outcome.OK),
        ("tests.test_firings.second", Outcome.HANDLED),
    ]
    assert record.calls[1].error_type == "tests.test_firings.Boom"
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert spans["order_placed send_robust"].attributes["django.signal.receivers.failed"] == 1
    assert spans["tests.test_firings.second"].attributes["django.signal.receiver.outcome"] == (
        "handled"
    )


def test_receivers_never_entered_are_recorded_not_run_when_the_firing_fails(
    exporter: InMemorySpanExporter,
) -> None:
    with recording() as recorded:
        firing = traced([first, second])
        error = Boom("raised")
        firing.leave(firing.enter(0), error)
        firing.finish(error)
    [record] = recorded.dispatches
    assert [c.outcome for c in record.calls] == [Outcome.RAISED, Outcome.NOT_RUN]
    assert record.outcome is Outcome.RAISED
    dispatch = exporter.get_finished_spans()[-1]
    assert dispatch.attributes["django.signal.receivers.not_run"] == 1
    assert not dispatch.status.is_ok


def test_a_merged_span_carries_the_receivers_error(exporter: InMemorySpanExporter) -> None:
    firing = traced([first])
    assert firing.merged
    error = Boom("raised")
    firing.leave(firing.enter(0), error)
    firing.finish(error)
    [span] = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "tests.test_firings.Boom"
    assert [event.name for event in span.events] == ["exception"]  # recorded once


@pytest.mark.usefixtures("fresh_failures")
def test_a_failure_inside_a_bracket_stops_tracing_the_firing_not_the_receivers(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    firing = traced([first, second])
    monkeypatch.setattr(firing, "facts", None)
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        assert firing.enter(0) is None
        assert firing.enter(1) is None  # broken: no more attempts
        firing.finish(None)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "signal_tracing failed in entering a receiver call"
    ]


@pytest.mark.usefixtures("fresh_failures")
def test_a_failure_while_leaving_is_reported_and_the_context_restored(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    before = current_node.get()
    firing = traced([first, second])
    call = firing.enter(0)
    assert current_node.get() is call
    call.call = "not a record"  # type: ignore[assignment,union-attr]
    firing.recordings = ()
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        firing.leave(call, Boom())
    assert current_node.get() is before
    assert firing.broken
    assert "failed in leaving a receiver call" in caplog.records[0].getMessage()


def test_an_async_receivers_task_runs_under_its_call_and_is_left_when_done(
    exporter: InMemorySpanExporter,
) -> None:
    seen: list[Any] = []

    async def receiver() -> None:
        seen.append(current_node.get())

    async def cancelled() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        firing = open_firing(order_placed, "shop", {}, SEND, [], [first, second, third])
        assert isinstance(firing, FiringNode)
        loop = asyncio.get_running_loop()
        tasks = [
            firing.create_task(loop, 0, receiver()),
            firing.create_task(loop, 1, failing()),
            firing.create_task(loop, 2, cancelled()),
        ]
        assert current_node.get() is None  # the call was current only while copying
        await asyncio.sleep(0)
        tasks[2].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # the done callbacks
        firing.finish(None)

    async def failing() -> None:
        raise Boom("async")

    def third(sender: Any, **kwargs: Any) -> None:
        return None

    with recording() as recorded:
        asyncio.run(main())
    [record] = recorded.dispatches
    assert [c.outcome for c in record.calls] == [Outcome.OK, Outcome.RAISED, Outcome.CANCELLED]
    assert seen[0] is not None
    assert seen[0].current_call() is record.calls[0]
    names = [span.name for span in exporter.get_finished_spans()]
    assert names[-1] == "order_placed send"
    assert len(names) == 4


@pytest.mark.usefixtures("fresh_failures")
def test_a_failure_while_finishing_is_reported(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    firing = traced([first, second])
    monkeypatch.setattr(firing, "counts", {"not": "a count"})
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        firing.finish(None)
    assert "failed in finishing a firing" in caplog.records[0].getMessage()


@pytest.mark.usefixtures("fresh_failures")
def test_tokens_reset_in_another_context_are_reported(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    firing = traced([first, second])
    call = firing.enter(0)
    assert call is not None
    node_token, otel_token = call.node_token, call.otel_token
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        contextvars.copy_context().run(firing.leave, call)
    otel_context.detach(otel_token)
    current_node.reset(node_token)
    # OpenTelemetry logs its own failure to detach; ours is the current firing's.
    assert [(r.name, r.getMessage().split(";")[0]) for r in caplog.records] == [
        ("opentelemetry.context", "Failed to detach context"),
        ("signal_tracing", "signal_tracing failed in restoring the current firing"),
    ]


def test_a_root_firing_its_sampler_drops_builds_nothing_and_its_receivers_know_it() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(tracer_provider=provider)
    nested = Signal()
    routes: list[Any] = []
    nodes: list[Any] = []

    def sends_nested(sender: Any, **kwargs: Any) -> None:
        nodes.append(current_node.get())
        routes.append(firings.route(nested, "inside"))
        # A scope opened beneath it (a command called from a receiver) is a root of its own,
        # with a span budget.
        scope = Scope("command", "manage.py inside", None, parent=current_node.get())
        assert [scope.take_span_slot(1), scope.take_span_slot(1)] == [True, False]

    order_placed.connect(sends_nested)
    context_before = otel_context.get_current()
    try:
        firing = open_firing(order_placed, "shop", {"size": 1}, SEND, [sends_nested], [])
        assert isinstance(firing, firings.DroppedFiring)  # no record, no span of ours
        sends_nested(None)
        # Count-policy firings under it have nowhere to go: plain.
        routes.append(firings.route(post_init, "inside"))
        firing.finish(None)
    finally:
        order_placed.disconnect(sends_nested)
    assert [route.action for route in routes] == [Action.PLAIN, Action.PLAIN]
    # No node of ours: the nested firing read "sampled out" from the context it made current.
    assert nodes == [None]
    assert exporter.get_finished_spans() == ()
    assert current_node.get() is None
    assert otel_context.get_current() is context_before


def test_what_a_root_firing_its_tracer_does_not_record_sends_runs_plain() -> None:
    # No SDK at all (the API's no-op tracer): the root's span is invalid, and nothing beneath
    # it can be recorded either, so what its receivers send is not traced.
    from opentelemetry.trace import NoOpTracerProvider

    signal_tracing.instrument(tracer_provider=NoOpTracerProvider())
    nested = Signal()
    routes: list[Any] = []

    def sends_nested(sender: Any, **kwargs: Any) -> None:
        routes.append(firings.route(nested, "inside"))

    firing = open_firing(order_placed, "shop", {}, SEND, [sends_nested], [])
    assert isinstance(firing, firings.DroppedFiring)
    try:
        sends_nested(None)
    finally:
        firing.finish(None)
    assert [route.action for route in routes] == [Action.PLAIN]


def test_a_firing_settled_from_its_plan_gives_the_long_ways_spans(
    exporter: InMemorySpanExporter,
) -> None:
    # The first firing of a shape goes the long way and leaves its facts and plan; the next
    # ones are settled from them (sender=None and a class are cached, a string is not).
    signal = Signal()
    signal.connect(first, weak=False)
    signal.connect(second, weak=False)
    for sender in (None, Scope, None, Scope):
        signal.send(sender=sender)
        signal.send_robust(sender=sender)
    signal.connect(boom, weak=False)  # a new shape: the long way again, then settled
    for _ in range(2):
        signal.send_robust(sender=None)
    spans = exporter.get_finished_spans()
    shapes = [(span.name, dict(span.attributes or {}), span.parent is not None) for span in spans]
    assert len(spans) == 4 * 2 * 3 + 2 * 4
    # Each firing's spans are the same as its first one's (only the send site's line differs).
    assert _without_site(shapes[12:24]) == _without_site(shapes[:12])
    assert _without_site(shapes[28:32]) == _without_site(shapes[24:28])
    assert {span.attributes["django.signal.sender"] for span in spans if span.parent is None} == {
        "None",
        "signal_tracing.nesting.Scope",
    }


def _without_site(shapes: list[Any]) -> list[Any]:
    return [
        (name, {k: v for k, v in attributes.items() if k != "django.signal.send_site"}, nested)
        for name, attributes, nested in shapes
    ]


def test_a_root_firing_settled_from_its_plan_is_dropped_as_the_first_was() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(tracer_provider=provider)
    signal = Signal()
    seen: list[Any] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        span_context = trace.get_current_span().get_span_context()
        seen.append((span_context.is_valid, span_context.trace_flags.sampled))

    signal.connect(receiver, weak=False)
    context_before = otel_context.get_current()
    for _ in range(3):
        firing = open_firing(signal, None, {}, SEND, [receiver], [])
        assert isinstance(firing, firings.DroppedFiring)
        receiver(None)
        firing.finish(None)
        signal.send(sender=None)
    # The dropped span is current while the receivers run: they know the trace is dropped.
    assert seen == [(True, False)] * 6
    assert exporter.get_finished_spans() == ()
    assert current_node.get() is None
    assert otel_context.get_current() is context_before


def test_the_context_a_dropped_root_firing_made_current_is_not_kept_alive() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    from signal_tracing import spans

    signal_tracing.instrument(tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
    held: list[Any] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        held.append(otel_context.get_current())

    firing = open_firing(order_placed, "shop", {}, SEND, [receiver], [])
    assert isinstance(firing, firings.DroppedFiring)
    receiver(None)
    firing.finish(None)
    assert spans.dropped_context() is held[0]
    held.clear()
    gc.collect()
    assert spans.dropped_context() is None


@pytest.mark.usefixtures("fresh_failures")
def test_a_root_firing_whose_tracing_stops_while_its_sampler_decides_ends_its_spans(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Tracing stops (another thread's uninstrument()) between the firing reading what starts
    # its spans and its sampler deciding: the firing keeps what it read, as FiringNode.emitter
    # says, and its receivers' spans start and end on it.
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler, SamplingResult

    stop = [False]

    class StopsTracing(Sampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
            if stop[0]:
                state.set_emitter(None)
            return ALWAYS_ON.should_sample(*args, **kwargs)

        def get_description(self) -> str:
            return "StopsTracing"

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=StopsTracing())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(tracer_provider=provider)
    signal = Signal()
    signal.connect(first, weak=False)
    signal.connect(second, weak=False)
    signal.send(sender=None)  # the long way: leaves the facts and plan of its shape
    exporter.clear()
    stop[0] = True
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        signal.send(sender=None)
    assert caplog.records == []
    assert sorted(span.name for span in exporter.get_finished_spans()) == [
        "tests.test_firings.first",
        "tests.test_firings.second",
        "unnamed_signal send",
    ]
