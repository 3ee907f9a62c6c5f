"""Assert which signals fired, with what, how often and in which order.

``capture_signals()`` works under any test runner; :class:`SignalAssertionsMixin` adds
assertion methods to ``unittest`` / Django test cases; ``collect_spans()`` gives the finished
OpenTelemetry spans through an in-memory exporter (needs ``opentelemetry-sdk``). The pytest
plugin (``signal_tracing.pytest_plugin``) offers the same as fixtures.
"""

from __future__ import annotations

from signal_tracing.records import Outcome
from signal_tracing.testing.capture import SignalCapture, capture_signals
from signal_tracing.testing.collected_spans import CollectedSpans, collect_spans, render_spans
from signal_tracing.testing.firing import Firing
from signal_tracing.testing.matching import ANY_SENDER, Sent
from signal_tracing.testing.mixin import SignalAssertionsMixin

__all__ = [
    "ANY_SENDER",
    "CollectedSpans",
    "Firing",
    "Outcome",
    "Sent",
    "SignalAssertionsMixin",
    "SignalCapture",
    "capture_signals",
    "collect_spans",
    "render_spans",
]
