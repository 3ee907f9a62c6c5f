"""The public switch: instrument(), uninstrument(), is_instrumented() and the setting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.dispatch import Signal
from django.test import override_settings

import signal_tracing
from signal_tracing import state
from signal_tracing.instrumentation import apply_settings
from tests.testapp.signals import order_placed

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    signal_tracing.uninstrument()
    apply_settings()


def test_public_api_is_exactly_this() -> None:
    assert signal_tracing.__all__ == [
        "__version__",
        "capture_signals",
        "instrument",
        "is_instrumented",
        "uninstrument",
    ]


def test_uninstrument_restores_the_signal_class_exactly() -> None:
    signal_tracing.uninstrument()
    original = dict(vars(Signal))
    signal_tracing.instrument()
    assert dict(vars(Signal)) != original
    signal_tracing.uninstrument()
    assert dict(vars(Signal)) == original
    assert all(vars(Signal)[name] is original[name] for name in original)


def test_instrument_and_uninstrument_are_idempotent() -> None:
    signal_tracing.uninstrument()
    original = dict(vars(Signal))
    signal_tracing.instrument()
    patched = dict(vars(Signal))
    signal_tracing.instrument()
    assert dict(vars(Signal)) == patched
    assert signal_tracing.is_instrumented()
    signal_tracing.uninstrument()
    signal_tracing.uninstrument()
    assert dict(vars(Signal)) == original
    assert not signal_tracing.is_instrumented()


def test_unknown_or_invalid_options_are_rejected_clearly() -> None:
    with pytest.raises(TypeError, match="unexpected option 'polices'"):
        signal_tracing.instrument(polices={})
    with pytest.raises(ValueError, match="MAX_SPANS_PER_TRACE must be an integer >= 0"):
        signal_tracing.instrument(max_spans_per_trace=-1)


def test_options_win_over_the_setting(settings: Any) -> None:
    settings.SIGNAL_TRACING = {"MAX_ATTRIBUTE_LENGTH": 10}
    signal_tracing.instrument(max_attribute_length=20)
    assert state.current_config().max_attribute_length == 20


def test_disabling_the_setting_at_run_time_unpatches_immediately() -> None:
    signal_tracing.uninstrument()
    original = dict(vars(Signal))
    apply_settings()
    assert signal_tracing.is_instrumented()
    with override_settings(SIGNAL_TRACING={"ENABLED": False}):
        assert not signal_tracing.is_instrumented()
        assert dict(vars(Signal)) == original
    assert signal_tracing.is_instrumented()


def test_pytest_settings_fixture_toggles_tracing(settings: Any) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": False}
    assert not signal_tracing.is_instrumented()
    settings.SIGNAL_TRACING = {"ENABLED": True}
    assert signal_tracing.is_instrumented()


def test_changed_policies_apply_without_restarting(settings: Any) -> None:
    settings.SIGNAL_TRACING = {"POLICIES": {"tests.testapp.signals.order_placed": "off"}}
    policy = state.current_config().policy_for(order_placed, "tests.testapp.signals.order_placed")
    assert policy.value == "off"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        check=False,
    )


def test_importing_the_package_imports_nothing_else() -> None:
    result = run_python(
        """
        import sys
        before = set(sys.modules)
        import signal_tracing
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        print(sorted(new - set(sys.stdlib_module_names) - {"_typing"}))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['signal_tracing']"


def test_instrument_works_before_django_settings_are_configured() -> None:
    result = run_python(
        """
        import signal_tracing
        signal_tracing.instrument()
        from django.conf import settings
        assert not settings.configured
        from django.dispatch import Signal
        signal = Signal()
        signal.connect(lambda sender, **kwargs: "ok", weak=False)
        print(signal.send(sender=None)[0][1], signal_tracing.is_instrumented())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok True"


def test_core_never_imports_the_sdk_the_toolbar_or_pytest() -> None:
    result = run_python(
        """
        import sys
        import django
        from django.conf import settings
        settings.configure(INSTALLED_APPS=["signal_tracing"])
        django.setup()
        import signal_tracing
        signal_tracing.instrument()
        from signal_tracing import (
            _dispatch, attributes, caches, checks, conf, exporting, firings, instrumentation,
            lifecycle, naming, nesting, records, recording, routing, spans, state,
        )
        forbidden = ("opentelemetry.sdk", "debug_toolbar", "pytest", "_pytest")
        print(sorted(m for m in sys.modules if m.startswith(forbidden)))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
