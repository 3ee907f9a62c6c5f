"""Lifecycle scopes: entering and closing, and the registry of open scopes."""

from __future__ import annotations

import contextvars
import gc
import weakref

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from signal_tracing.lifecycle.scopes import (
    CommandScope,
    RequestScope,
    close,
    enter,
    open_scopes,
)
from signal_tracing.nesting import current_node


def test_open_scopes_hold_their_scopes_weakly() -> None:
    def abandon() -> weakref.ref[CommandScope]:
        scope = CommandScope("command", "abandoned", None, None)
        enter(scope)
        assert scope in open_scopes()
        current_node.set(None)  # as if its thread ended without closing it
        return weakref.ref(scope)

    gc.disable()  # no reference cycle may be what keeps it (or frees it)
    try:
        reference = contextvars.copy_context().run(abandon)
    finally:
        gc.enable()

    assert reference() is None
    assert all(scope.name != "abandoned" for scope in open_scopes())


def test_a_closed_scope_is_no_longer_open() -> None:
    def open_and_close() -> list[str]:
        scope = CommandScope("command", "closed", None, None)
        enter(scope)
        close(scope)
        return [scope.name for scope in open_scopes()]

    assert "closed" not in contextvars.copy_context().run(open_and_close)


def test_a_sampled_out_scope_is_entered_knowing_it_is() -> None:
    span = TracerProvider(sampler=ALWAYS_OFF).get_tracer(__name__).start_span("dropped")

    def entered() -> tuple[bool | None, bool]:
        scope = CommandScope("command", "dropped", span, None)
        enter(scope)
        try:
            return scope.sampled_out, trace.get_current_span() is span
        finally:
            close(scope)

    assert contextvars.copy_context().run(entered) == (True, True)


def _slots(cls: type) -> set[str]:
    return {
        slot
        for klass in cls.__mro__
        for slot in getattr(klass, "__slots__", ())
        if slot != "__weakref__"
    }


@pytest.mark.parametrize("nested", [False, True])
def test_a_request_scope_starts_as_its_bases_start_a_scope(nested: bool) -> None:
    # RequestScope sets its bases' slots itself (one call instead of five, per request).
    parent = CommandScope("command", "outer", None, None) if nested else None
    request = RequestScope("GET", None, parent)
    command = CommandScope("request", "GET", None, parent)

    assert {slot: getattr(request, slot) for slot in _slots(CommandScope)} == {
        slot: getattr(command, slot) for slot in _slots(CommandScope)
    }
    assert request.root is (parent if nested else request)
    assert (
        request.method_name,
        request.in_handler,
        request.responded_ns,
        request.request,
        request.route_noted,
        request.cancelled,
        request.error_recorded,
    ) == ("GET", 0, None, None, False, False, False)


@pytest.mark.parametrize("entered", [True, False])
def test_a_scope_is_closed_once_however_often_it_is_closed(entered: bool) -> None:
    ended: list[str] = []

    class Recording(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            ended.append(span.name)

    provider = TracerProvider()
    provider.add_span_processor(Recording())
    span = provider.get_tracer(__name__).start_span("once")

    def close_twice() -> tuple[bool, bool, list[str]]:
        scope = CommandScope("command", "once", span, None)
        if entered:
            enter(scope)
        return close(scope), close(scope), [scope.name for scope in open_scopes()]

    first, second, still_open = contextvars.copy_context().run(close_twice)

    assert (first, second, ended) == (True, False, ["once"])
    assert "once" not in still_open
