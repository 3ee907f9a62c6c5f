"""``BaseInstrumentor`` adapter, so ``opentelemetry-instrument`` picks signal tracing up.

Registered under the ``opentelemetry_instrumentor`` entry point as ``django_signals``. This
module needs ``opentelemetry-instrumentation``, which is installed wherever
``opentelemetry-instrument`` runs; nothing else in the package imports it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from signal_tracing.instrumentation import instrument, uninstrument


class DjangoSignalsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace Django signal firings; options are ``instrument()``'s (``tracer_provider``, …)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("django >= 5.2",)

    def _instrument(self, **kwargs: Any) -> None:
        instrument(**kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        uninstrument()
