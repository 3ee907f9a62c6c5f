"""Which trace the panel links to, and where it reads the dropped-span count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import Span

from signal_tracing import nesting
from signal_tracing.panels.trace import RequestTrace


@pytest.fixture(autouse=True)
def no_enclosing_scope() -> Iterator[None]:
    token = nesting.current_node.set(None)
    yield
    nesting.current_node.reset(token)


def hex_trace_id(span: Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def test_no_span_and_no_scope_means_no_trace() -> None:
    request_trace = RequestTrace.current()
    assert request_trace.trace_id() is None
    assert request_trace.spans_dropped() == 0


def test_an_outer_span_names_the_trace() -> None:
    tracer = TracerProvider(sampler=ALWAYS_ON).get_tracer("wsgi")
    with tracer.start_as_current_span("GET /checkout/") as span:
        request_trace = RequestTrace.current()
    assert request_trace.trace_id() == hex_trace_id(span)


def test_a_sampled_out_trace_is_not_linked() -> None:
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("wsgi")
    with tracer.start_as_current_span("GET /checkout/"):
        assert RequestTrace.current().trace_id() is None


def test_the_request_scope_span_wins_and_holds_the_budget() -> None:
    tracer = TracerProvider(sampler=ALWAYS_ON).get_tracer("signal_tracing")
    outer = tracer.start_span("manage.py runserver")
    request_span = tracer.start_span("GET /checkout/")
    command = nesting.Scope("command", "runserver", outer)
    request = nesting.Scope("request", "GET /checkout/", request_span, parent=command)
    command.spans_dropped = 7
    token = nesting.current_node.set(request)
    try:
        request_trace = RequestTrace.current()
    finally:
        nesting.current_node.reset(token)
    assert request_trace.trace_id() == hex_trace_id(request_span)
    # A nested scope shares its parent's budget, so the count lives on the root.
    assert request_trace.spans_dropped() == 7
