"""Tests of Django's own suite that failed only with tracing on, reduced to their essence.

Each was found by ``scripts/thirdparty-suites django`` (docs/transparency.md). While a bug is
open its test is a strict xfail, so the fix turns it into a plain pass; then it stays as a
regression test. (The general frame-count contract is tests/dispatch/test_frames.py.)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from django.test import override_settings
from django.test import signals as test_signals

from tests.transparency.conftest import untraced_then_traced


@pytest.fixture
def complex_setting() -> Iterator[str]:
    saved = test_signals.COMPLEX_OVERRIDE_SETTINGS.copy()
    test_signals.COMPLEX_OVERRIDE_SETTINGS.add("PROBE_COMPLEX")
    yield "PROBE_COMPLEX"
    test_signals.COMPLEX_OVERRIDE_SETTINGS = saved


# Django: settings_tests.tests.TestComplexSettingOverride.test_complex_override_warning
# (5.2 and 6.1, modes instrument and app, before e5634de). Django's complex_setting_changed
# receiver warns with stacklevel=5, "considering the current implementation of the signals
# framework", to blame the line holding override_settings(); an extra frame in _dispatch
# (send -> _send_traced -> receiver) made it blame django/test/utils.py.
def test_complex_override_warning_points_at_the_override_settings_line(
    complex_setting: str,
) -> None:
    def scenario() -> str:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with override_settings(**{complex_setting: "override"}):
                pass
        [warning] = [w for w in caught if complex_setting in str(w.message)]
        return warning.filename

    plain, traced, collected = untraced_then_traced(scenario)
    assert plain == __file__
    assert traced == plain
    assert "setting_changed send" in collected.names()
