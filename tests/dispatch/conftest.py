from __future__ import annotations

from collections.abc import Iterator

import pytest

import signal_tracing
from signal_tracing.instrumentation import apply_settings


@pytest.fixture
def untraced() -> Iterator[None]:
    signal_tracing.uninstrument()
    yield
    apply_settings()


@pytest.fixture(autouse=True)
def _restore_tracing() -> Iterator[None]:
    yield
    signal_tracing.uninstrument()
    apply_settings()
