"""Lifecycle scopes: entering and closing, and the registry of open scopes."""

from __future__ import annotations

import contextvars
import gc
import weakref

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from signal_tracing.lifecycle.scopes import CommandScope, close, enter, open_scopes
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
