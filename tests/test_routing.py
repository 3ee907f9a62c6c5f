"""route(): what a firing needs, from cached facts about its signal, sender and receivers."""

from __future__ import annotations

import dataclasses
import gc
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import signal_tracing
from signal_tracing import routing, state
from signal_tracing.instrumentation import acquire_capture, apply_settings, release_capture
from signal_tracing.nesting import Scope, current_node
from signal_tracing.recording import recording
from signal_tracing.routing import PLAIN_ROUTE, Action, receiver_facts, route, sender_facts
from tests.testapp.signals import order_placed

PATH = "tests.testapp.signals.order_placed"


def on_order(sender: Any, **kwargs: Any) -> None:
    return None


class Shop:
    pass


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    signal_tracing.uninstrument()
    apply_settings()


@pytest.fixture
def in_scope() -> Iterator[Scope]:
    scope = Scope("request", "GET /", None)
    token = current_node.set(scope)
    yield scope
    current_node.reset(token)


def sampled_out() -> Any:
    return trace.use_span(
        NonRecordingSpan(SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(0)))
    )


def test_a_span_policy_firing_is_traced_with_spans(exporter: InMemorySpanExporter) -> None:
    decided = route(order_placed, "shop")
    assert decided.action is Action.TRACE
    assert decided.spans_wanted
    assert decided.sender_label == "shop"
    assert decided.signal is not None
    assert (decided.signal.name, decided.signal.path) == ("order_placed", PATH)


def test_a_sampled_out_parent_means_plain_unless_something_records(
    exporter: InMemorySpanExporter,
) -> None:
    with sampled_out():
        assert route(order_placed, "shop") is PLAIN_ROUTE
        with recording():
            decided = route(order_placed, "shop")
    assert (decided.action, decided.spans_wanted) == (Action.TRACE, False)


def test_tracing_off_means_plain_unless_something_records() -> None:
    signal_tracing.uninstrument()
    assert route(order_placed, "shop") is PLAIN_ROUTE
    with recording():
        decided = route(order_placed, "shop")
    assert (decided.action, decided.spans_wanted) == (Action.TRACE, False)


def test_the_off_policy_and_excluded_senders_are_plain(exporter: InMemorySpanExporter) -> None:
    signal_tracing.instrument(policies={PATH: "off"})
    with recording():
        assert route(order_placed, "shop") is PLAIN_ROUTE
    signal_tracing.instrument(policies={PATH: "span"}, exclude_senders=["sh*"])
    with recording():
        assert route(order_placed, "shop") is PLAIN_ROUTE
        assert route(order_placed, "other").action is Action.TRACE


def test_counts_need_somewhere_to_go(exporter: InMemorySpanExporter, in_scope: Scope) -> None:
    signal_tracing.instrument(policies={PATH: "count"})
    decided = route(order_placed, "shop")
    assert decided.action is Action.COUNT
    assert route(order_placed, "other") is decided  # built once per signal
    token = current_node.set(None)
    try:
        assert route(order_placed, "shop") is PLAIN_ROUTE
        with recording():
            assert route(order_placed, "shop") is decided
    finally:
        current_node.reset(token)


def test_a_test_capture_traces_every_policy_in_full(exporter: InMemorySpanExporter) -> None:
    signal_tracing.instrument(policies={PATH: "count"}, exclude_senders=["hidden"])
    acquire_capture()
    try:
        with recording(everything=True):
            counted = route(order_placed, "shop")
            excluded = route(order_placed, "hidden")
    finally:
        release_capture()
    assert (counted.action, counted.spans_wanted) == (Action.TRACE, False)
    assert (excluded.action, excluded.spans_wanted) == (Action.TRACE, False)
    signal_tracing.instrument(policies={PATH: "span"})
    acquire_capture()
    try:
        with recording(everything=True):
            assert route(order_placed, "shop").spans_wanted
    finally:
        release_capture()


def test_a_failure_while_routing_is_plain_and_reported_once(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(signal: Signal) -> Any:
        raise RuntimeError("routing bug")

    monkeypatch.setattr(routing, "signal_facts", broken)
    monkeypatch.setattr(state.running, "failures_logged", set())
    with caplog.at_level(logging.WARNING, logger="signal_tracing"):
        assert route(order_placed, "shop") is PLAIN_ROUTE
        assert route(order_placed, "shop") is PLAIN_ROUTE
    [warning] = caplog.records
    assert "failed in routing" in warning.getMessage()


def test_policies_apply_as_soon_as_the_configuration_changes(
    exporter: InMemorySpanExporter, in_scope: Scope
) -> None:
    assert route(order_placed, "shop").action is Action.TRACE
    signal_tracing.instrument(policies={PATH: "count"})
    assert route(order_placed, "shop").action is Action.COUNT


def test_signal_facts_are_rebuilt_for_a_new_signal_with_a_reused_id(
    exporter: InMemorySpanExporter,
) -> None:
    first = Signal()
    facts = routing.signal_facts(first)
    assert routing.signal_facts(first) is facts
    # A dead signal's facts must not be taken for those of whatever gets its id.
    routing._signals[id(order_placed)] = facts
    assert routing.signal_facts(order_placed).path == PATH


def test_the_signal_cache_is_bounded(exporter: InMemorySpanExporter) -> None:
    alive = [Signal() for _ in range(routing.MAX_SIGNALS + 10)]
    for signal in alive:
        routing.signal_facts(signal)
    assert len(routing._signals) <= routing.MAX_SIGNALS


def test_sender_facts_are_cached_for_objects_and_worked_out_for_literals(
    exporter: InMemorySpanExporter,
) -> None:
    facts = routing.signal_facts(order_placed)
    assert sender_facts(facts, Shop) == ("tests.test_routing.Shop", False)
    assert id(Shop) in facts.senders
    assert sender_facts(facts, Shop) == ("tests.test_routing.Shop", False)
    assert sender_facts(facts, "shop") == ("shop", False)
    assert id("shop") not in facts.senders  # str can't be weakly referenced


def test_receiver_facts_carry_the_code_location_and_exclusion(
    exporter: InMemorySpanExporter,
) -> None:
    facts = receiver_facts(on_order)
    assert facts.identity.name == "tests.test_routing.on_order"
    assert facts.attributes == {
        "code.function.name": "tests.test_routing.on_order",
        "code.file.path": __file__,
        "code.line.number": on_order.__code__.co_firstlineno,
    }
    assert not facts.excluded
    assert receiver_facts(on_order) is facts
    assert receiver_facts(print).attributes == {"code.function.name": "builtins.print"}
    signal_tracing.instrument(exclude_receivers=["tests.test_routing.*"])
    assert receiver_facts(on_order).excluded


def test_a_scope_s_own_context_decides_and_any_other_current_context_is_asked(
    exporter: InMemorySpanExporter,
) -> None:
    from signal_tracing import spans

    recording_span = trace.get_tracer("test").start_span("request")
    scope = Scope("request", "GET /", recording_span)
    unsampled = NonRecordingSpan(SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(0)))
    node_token = current_node.set(scope)
    otel_token = spans.attach(recording_span, scope)
    try:
        assert route(order_placed, "shop").spans_wanted
        assert scope.sampled_out is False  # worked out once, kept for the next firings
        # Something else made another span current inside the scope: it is asked instead.
        with trace.use_span(unsampled):
            assert route(order_placed, "shop") is PLAIN_ROUTE
        assert route(order_placed, "shop").spans_wanted
    finally:
        spans.detach(otel_token)
        current_node.reset(node_token)
        recording_span.end()
    unsampled_scope = Scope("request", "GET /", unsampled)
    node_token = current_node.set(unsampled_scope)
    otel_token = spans.attach(unsampled, unsampled_scope)
    try:
        assert route(order_placed, "shop") is PLAIN_ROUTE
        assert unsampled_scope.sampled_out is True
    finally:
        spans.detach(otel_token)
        current_node.reset(node_token)


def test_a_sender_s_routes_are_built_once(exporter: InMemorySpanExporter) -> None:
    assert route(order_placed, Shop).action is Action.TRACE
    assert route(order_placed, Shop) is route(order_placed, Shop)
    assert route(order_placed, None) is route(order_placed, None)


# --- firing plans -----------------------------------------------------------------------------


def plan_of(signal: Signal, sender: Any, *receivers: Any) -> routing.FiringPlan:
    return routing.firing_plan(route(signal, sender), "send", True, list(receivers), [])


def names_sent(signal: Signal, exporter: InMemorySpanExporter) -> list[str]:
    exporter.clear()
    signal.send(sender=Shop)
    return [span.name for span in exporter.get_finished_spans()]


def test_a_firing_plan_is_worked_out_once_per_shape(exporter: InMemorySpanExporter) -> None:
    plan = plan_of(order_placed, Shop, on_order)
    assert plan_of(order_placed, Shop, on_order) is plan
    assert plan.merged
    assert plan.span_name == "order_placed tests.test_routing.on_order"
    assert plan.head_attributes["django.signal.sender"] == "tests.test_routing.Shop"
    assert plan_of(order_placed, Shop, on_order, on_other) is not plan


def test_connecting_or_disconnecting_a_receiver_is_seen_at_the_next_firing(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(on_order)
    assert names_sent(signal, exporter) == ["unnamed_signal tests.test_routing.on_order"]
    signal.connect(on_other)
    assert names_sent(signal, exporter) == [
        "tests.test_routing.on_order",
        "tests.test_routing.on_other",
        "unnamed_signal send",
    ]
    signal.disconnect(on_order)
    assert names_sent(signal, exporter) == ["unnamed_signal tests.test_routing.on_other"]
    # As many receivers as before, another one: another plan.
    signal.disconnect(on_other)
    signal.connect(on_order)
    assert names_sent(signal, exporter) == ["unnamed_signal tests.test_routing.on_order"]


def test_a_configuration_change_is_seen_at_the_next_firing(
    exporter: InMemorySpanExporter,
) -> None:
    signal = Signal()
    signal.connect(on_order)
    assert names_sent(signal, exporter) == ["unnamed_signal tests.test_routing.on_order"]
    # A new configuration, even one no cache was emptied for, makes new plans.
    config = dataclasses.replace(state.running.config, merge_single_receiver=False)
    state.set_config(config)
    assert names_sent(signal, exporter) == ["tests.test_routing.on_order", "unnamed_signal send"]


def test_a_sender_s_facts_go_when_the_sender_dies(exporter: InMemorySpanExporter) -> None:
    # A sender per firing must not leave its facts behind until the cache fills up (up to
    # MAX_SENDERS_PER_SIGNAL per signal, how many depending on the allocator's addresses).
    facts = routing.signal_facts(order_placed)
    shops = [Shop() for _ in range(50)]
    for shop in shops:
        sender_facts(facts, shop)
    keys = [id(shop) for shop in shops]
    assert all(key in facts.senders for key in keys)
    kept = shops[0]
    del shops, shop
    gc.collect()
    assert [key for key in keys if key in facts.senders] == [id(kept)]
    assert sender_facts(facts, kept) == ("<tests.test_routing.Shop instance>", False)


def test_a_dead_sender_leaves_a_newer_entry_under_its_id_alone(
    exporter: InMemorySpanExporter,
) -> None:
    facts = routing.signal_facts(order_placed)
    shop = Shop()
    sender_facts(facts, shop)
    key = id(shop)
    stale = facts.senders[key].ref
    newer = routing.SenderFacts(None, "newer", False, facts)
    facts.senders[key] = newer  # as if the cache had been emptied and refilled
    del shop
    gc.collect()
    assert stale is not None
    assert stale() is None
    assert facts.senders.get(key) is newer


def test_senders_with_one_label_share_one_plan(exporter: InMemorySpanExporter) -> None:
    # A new instance per firing, or a string sender (labelled anew each time), builds no plan
    # of its own: the cache of senders would otherwise hold thousands of them.
    shops = [Shop(), Shop()]
    plan = plan_of(order_placed, shops[0], on_order)
    assert plan_of(order_placed, shops[1], on_order) is plan
    assert plan_of(order_placed, "shop", on_order) is plan_of(order_placed, "shop", on_order)
    assert plan_of(order_placed, "shop", on_order) is not plan  # another label


def test_a_bound_method_receiver_keeps_its_plan(exporter: InMemorySpanExporter) -> None:
    listener = Listener()
    first = plan_of(order_placed, Shop, listener.on_order)
    assert first.refs == (None,)  # a new bound method at every firing: compared by facts
    assert plan_of(order_placed, Shop, listener.on_order) is first
    assert plan_of(order_placed, Shop, Listener().on_other) is not first


def test_a_plan_keeps_no_receiver_alive(exporter: InMemorySpanExporter) -> None:
    signal = Signal()

    def receiver(sender: Any, **kwargs: Any) -> None:
        return None

    signal.connect(receiver)
    signal.send(sender=Shop)
    assert routing.signal_facts(signal).senders  # the plan is cached...
    alive = weakref.ref(receiver)
    signal.disconnect(receiver)
    del receiver
    gc.collect()
    assert alive() is None  # ...and holds the receiver weakly


def on_other(sender: Any, **kwargs: Any) -> None:
    return None


class Listener:
    def on_order(self, sender: Any, **kwargs: Any) -> None:
        return None

    def on_other(self, sender: Any, **kwargs: Any) -> None:
        return None
