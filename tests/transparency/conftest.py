from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import signal_tracing
from signal_tracing.instrumentation import apply_settings
from signal_tracing.testing.collected_spans import CollectedSpans, collect_spans

T = TypeVar("T")


def untraced_then_traced(scenario: Callable[[], T], **options: Any) -> tuple[T, T, CollectedSpans]:
    """Run ``scenario`` with Django's own dispatcher, then traced into a real SDK provider.

    Returns both results and the spans of the traced run. The test settings' tracing is put
    back afterwards.
    """
    signal_tracing.uninstrument()
    try:
        plain = scenario()
    finally:
        apply_settings()
    with collect_spans(**options) as collected:
        traced = scenario()
    return plain, traced, collected
