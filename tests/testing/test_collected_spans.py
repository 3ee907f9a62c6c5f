"""collect_spans() / the signal_spans fixture: private spans, and tracing restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal
from django.test import override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import signal_tracing
from signal_tracing import _dispatch, state
from signal_tracing.instrumentation import apply_settings
from signal_tracing.pytest_plugin import SignalSpans
from signal_tracing.testing import collect_spans

oven_ready = Signal()
oven_hot = Signal()


def preheat(sender: Any, **kwargs: Any) -> None:
    pass


def fan(sender: Any, **kwargs: Any) -> None:
    oven_hot.send(sender="fan")


def thermostat(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture(autouse=True)
def _receivers() -> Iterator[None]:
    oven_ready.connect(preheat)
    yield
    oven_ready.disconnect(preheat)
    signal_tracing.uninstrument()
    apply_settings()


def test_the_fixture_collects_this_tests_spans(signal_spans: SignalSpans) -> None:
    oven_ready.send(sender="kitchen")
    assert signal_spans.names() == ["oven_ready tests.testing.test_collected_spans.preheat"]
    [span] = signal_spans.finished()
    assert span.attributes is not None
    assert span.attributes["django.signal.sender"] == "kitchen"
    signal_spans.clear()
    assert signal_spans.finished() == []


def test_render_nests_spans_and_marks_errors() -> None:
    def burn(sender: Any, **kwargs: Any) -> None:
        raise ValueError("burnt")

    oven_ready.connect(fan)
    oven_ready.connect(burn)
    oven_hot.connect(thermostat)
    try:
        with collect_spans() as spans:
            oven_ready.send_robust(sender="kitchen")
    finally:
        oven_ready.disconnect(fan)
        oven_ready.disconnect(burn)
        oven_hot.disconnect(thermostat)
    assert spans.render() == "\n".join(
        [
            "oven_ready send_robust",
            "  tests.testing.test_collected_spans.preheat",
            "  tests.testing.test_collected_spans.fan",
            "    oven_hot tests.testing.test_collected_spans.thermostat",
            "  tests.testing.test_collected_spans.test_render_nests_spans_and_marks_errors"
            ".<locals>.burn error.type=builtins.ValueError !ERROR",
        ]
    )
    assert spans.render(keys=("django.signal.depth",)).splitlines()[3] == (
        "    oven_hot tests.testing.test_collected_spans.thermostat django.signal.depth=1"
    )


def test_the_global_provider_is_never_touched() -> None:
    global_provider = trace.get_tracer_provider()
    with collect_spans() as spans:
        oven_ready.send(sender="kitchen")
        assert trace.get_tracer_provider() is global_provider
    assert trace.get_tracer_provider() is global_provider
    assert spans.names() == ["oven_ready tests.testing.test_collected_spans.preheat"]


def test_tracing_is_on_inside_even_when_the_setting_is_off_and_off_again_after() -> None:
    with override_settings(SIGNAL_TRACING={"ENABLED": False}):
        assert not signal_tracing.is_instrumented()
        with collect_spans() as spans:
            assert signal_tracing.is_instrumented()
            oven_ready.send(sender="kitchen")
        assert not signal_tracing.is_instrumented()
        assert not _dispatch.is_patched()
    assert spans.names() == ["oven_ready tests.testing.test_collected_spans.preheat"]


def test_an_earlier_instrument_call_is_restored_with_its_provider_and_options() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal_tracing.instrument(tracer_provider=provider, merge_single_receiver=False)

    with collect_spans(max_attribute_length=8) as spans:
        assert state.current_config().merge_single_receiver is False  # kept inside
        assert state.current_config().max_attribute_length == 8
        oven_ready.send(sender="kitchen")
    oven_ready.send(sender="after")

    assert state.current_config().max_attribute_length == 256
    assert state.current_config().merge_single_receiver is False
    # Not merged (the earlier option), and ended receiver first.
    assert spans.names() == ["tests.testing.test_collected_spans.preheat", "oven_ready send"]
    assert [span.name for span in exporter.get_finished_spans()] == spans.names()
    [after] = [span for span in exporter.get_finished_spans() if span.name == "oven_ready send"]
    assert after.attributes is not None
    assert after.attributes["django.signal.sender"] == "after"
    provider.shutdown()


def test_options_are_checked_like_instruments() -> None:
    with pytest.raises(TypeError, match="unexpected option 'polices'"), collect_spans(polices={}):
        pass
    assert signal_tracing.is_instrumented()
