"""Continuing the caller's trace: the global propagator reads the request's headers, and is not
asked when none of the headers it reads (its ``fields``) was sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from signal_tracing.lifecycle.requests import _remote_parent
from tests.lifecycle.conftest import Tracing

pytestmark = pytest.mark.urls("tests.lifecycle.urls")

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


class CustomHeaderPropagator(TextMapPropagator):
    """Reads ``<trace id>:<span id>`` from a header of its own, and counts its calls."""

    def __init__(self, fields: Any = frozenset({"X-Custom-Trace"})) -> None:
        self._fields = fields
        self.extractions = 0

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        self.extractions += 1
        values = getter.get(carrier, "x-custom-trace")
        if not values:
            return context if context is not None else Context()
        trace_id, span_id = values[0].split(":")
        parent = SpanContext(
            int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(1)
        )
        return trace.set_span_in_context(NonRecordingSpan(parent), context)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        return None

    @property
    def fields(self) -> Any:
        if isinstance(self._fields, BaseException):
            raise self._fields
        return self._fields


@pytest.fixture
def propagator() -> Iterator[CustomHeaderPropagator]:
    original = propagate.get_global_textmap()
    custom = CustomHeaderPropagator()
    propagate.set_global_textmap(custom)
    yield custom
    propagate.set_global_textmap(original)


def parent_span_id(context: Context | None) -> str | None:
    span_context = trace.get_current_span(context).get_span_context()
    return format(span_context.span_id, "016x") if span_context.is_valid else None


def test_a_custom_propagator_reads_its_own_header(propagator: CustomHeaderPropagator) -> None:
    value = f"{TRACE_ID}:{PARENT_SPAN_ID}"

    assert parent_span_id(_remote_parent({"environ": {"HTTP_X_CUSTOM_TRACE": value}})) == (
        PARENT_SPAN_ID
    )
    headers = [(b"X-Custom-Trace", value.encode())]
    assert parent_span_id(_remote_parent({"scope": {"headers": headers}})) == PARENT_SPAN_ID
    assert propagator.extractions == 2


def test_a_custom_propagator_continues_the_callers_trace_end_to_end(
    tracing: Tracing, propagator: CustomHeaderPropagator
) -> None:
    Client().get("/plain/", headers={"X-Custom-Trace": f"{TRACE_ID}:{PARENT_SPAN_ID}"})

    span = tracing.named("GET plain/")
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert format(span.context.trace_id, "032x") == TRACE_ID


def test_the_propagator_is_not_asked_when_none_of_its_headers_was_sent(
    propagator: CustomHeaderPropagator,
) -> None:
    # traceparent is not this propagator's header: it is not read either.
    environ = {"HTTP_TRACEPARENT": TRACEPARENT, "HTTP_COOKIE": "sessionid=abc"}
    context = _remote_parent({"environ": environ})
    scope_context = _remote_parent({"scope": {"headers": [(b"traceparent", b"x")]}})

    assert propagator.extractions == 0
    # What propagate.extract gives without a context when it finds nothing: the root context.
    assert context == Context()
    assert scope_context == Context()


def test_a_request_without_trace_headers_does_not_ask_the_propagator(
    tracing: Tracing, propagator: CustomHeaderPropagator
) -> None:
    Client().get("/plain/")

    assert propagator.extractions == 0
    assert tracing.named("GET plain/").parent is None


@pytest.mark.parametrize("fields", [frozenset(), RuntimeError("no fields"), None])
def test_a_propagator_that_does_not_name_its_headers_is_asked_for_every_request(
    fields: Any,
) -> None:
    original = propagate.get_global_textmap()
    custom = CustomHeaderPropagator(fields)
    propagate.set_global_textmap(custom)
    try:
        _remote_parent({"environ": {"HTTP_X_CUSTOM_TRACE": f"{TRACE_ID}:{PARENT_SPAN_ID}"}})
        _remote_parent({"environ": {}})
        _remote_parent({"scope": {"headers": []}})
    finally:
        propagate.set_global_textmap(original)

    assert custom.extractions == 3


def test_a_new_global_propagator_is_read_for_its_own_headers(
    propagator: CustomHeaderPropagator,
) -> None:
    environ = {"HTTP_TRACEPARENT": TRACEPARENT}
    assert parent_span_id(_remote_parent({"environ": environ})) is None

    propagate.set_global_textmap(
        propagate.get_global_textmap().__class__(frozenset({"traceparent"}))  # type: ignore[call-arg]
    )
    second = propagate.get_global_textmap()
    _remote_parent({"environ": environ})

    assert isinstance(second, CustomHeaderPropagator)
    assert second.extractions == 1
