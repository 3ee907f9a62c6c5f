"""The running state: read by everyone, written by instrumentation, failures logged once."""

from __future__ import annotations

import logging

import pytest

import signal_tracing
from signal_tracing import state
from signal_tracing.instrumentation import acquire_capture, apply_settings, release_capture


def test_reads_follow_instrument_and_uninstrument() -> None:
    try:
        signal_tracing.instrument(max_attribute_length=20)
        assert state.is_tracing()
        assert state.current_emitter() is state.running.emitter is not None
        assert state.current_config().max_attribute_length == 20
        signal_tracing.uninstrument()
        assert not state.is_tracing()
        assert state.current_emitter() is None
    finally:
        apply_settings()


def test_captures_are_counted_and_never_go_below_zero() -> None:
    before = state.running.captures
    acquire_capture()
    acquire_capture()
    assert state.running.captures == before + 2
    release_capture()
    release_capture()
    assert state.running.captures == before
    assert state.change_captures(-(before + 5)) == 0
    state.change_captures(before)


def test_a_tracer_failure_is_logged_once_per_place_then_at_debug_level(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(state.running, "failures_logged", set())
    with caplog.at_level(logging.DEBUG, logger="signal_tracing"):
        for _ in range(2):
            try:
                raise RuntimeError("bug")
            except RuntimeError:
                state.report_tracer_failure("somewhere")
    assert [(r.levelname, r.getMessage()[:35]) for r in caplog.records] == [
        ("WARNING", "signal_tracing failed in somewhere;"),
        ("DEBUG", "signal_tracing failed again in some"),
    ]
    assert all(r.exc_info is not None for r in caplog.records)


def test_the_pytest_plugin_can_ask_without_loading_django() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from signal_tracing.state import is_tracing; "
            "print(is_tracing(), sorted(m for m in sys.modules if m.startswith('django')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False []"
