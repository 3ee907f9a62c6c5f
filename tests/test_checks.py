"""Every bad SIGNAL_TRACING value is a system check error with an id and a hint."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error
from django.test import override_settings

import signal_tracing
from signal_tracing.checks import check_setting
from signal_tracing.conf import KEYS, Config, build_config, validate
from signal_tracing.instrumentation import apply_settings
from signal_tracing.records import Policy


def errors_for(value: Any) -> list[Error]:
    with override_settings(SIGNAL_TRACING=value):
        return check_setting()


@pytest.fixture(autouse=True)
def _restore() -> Any:
    yield
    apply_settings()


def test_a_valid_setting_has_no_errors() -> None:
    assert (
        errors_for({"ENABLED": True, "POLICIES": {"tests.testapp.signals.order_placed": "off"}})
        == []
    )


def test_setting_must_be_a_dict() -> None:
    [error] = errors_for(["ENABLED"])
    assert error.id == "signal_tracing.E001"
    assert error.msg == "SIGNAL_TRACING must be a dict, not list."
    assert error.hint == 'Use for example SIGNAL_TRACING = {"ENABLED": True}.'


def test_unknown_keys_are_named_with_the_known_ones_in_the_hint() -> None:
    [error] = errors_for({"ENABLE": True})
    assert error.id == "signal_tracing.E002"
    assert error.msg == "SIGNAL_TRACING has an unknown key 'ENABLE'."
    assert "ENABLED" in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ENABLED", "yes"),
        ("MAX_SPANS_PER_TRACE", -1),
        ("MAX_ATTRIBUTE_LENGTH", 0),
        ("SLOW_RECEIVER_MS", float("nan")),
        ("EXCLUDE_SENDERS", "debug_toolbar.*"),
        ("EXPORTER", "jaeger"),
        ("DEFAULT_POLICY", "trace"),
        ("TEST_SPANS", "auto"),
        ("POLICIES", ["post_init"]),
    ],
)
def test_wrong_types_and_values_say_what_is_expected(key: str, value: Any) -> None:
    [error] = errors_for({key: value})
    assert error.id == "signal_tracing.E003"
    assert error.msg == f"SIGNAL_TRACING[{key!r}] is {value!r}, which is not valid."
    assert error.hint == f"{key} must be {KEYS[key].expected}."


def test_bad_policies_are_reported_per_signal() -> None:
    [error] = errors_for({"POLICIES": {"django.db.models.signals.post_init": "sometimes"}})
    assert error.id == "signal_tracing.E004"
    assert "'sometimes', not a policy" in error.msg


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("post_init", "is not a dotted path"),
        ("django.db.models.signals.post_int", "cannot be imported"),
        ("django.db.models.Model", "is a ModelBase, not a django.dispatch.Signal"),
    ],
)
def test_policy_keys_must_name_real_signals(path: str, problem: str) -> None:
    [error] = errors_for({"POLICIES": {path: "off"}})
    assert error.id == "signal_tracing.E005"
    assert problem in error.msg


def test_broken_values_never_crash_and_fall_back_to_defaults() -> None:
    with override_settings(SIGNAL_TRACING={"MAX_SPANS_PER_TRACE": "lots", "ENABLED": True}):
        assert signal_tracing.is_instrumented()
    config = build_config({"MAX_SPANS_PER_TRACE": "lots", "POLICIES": {"a.b": "nope"}})
    assert config.max_spans_per_trace == Config().max_spans_per_trace
    assert config.policy_for("a.b") is Policy.SPAN
    assert config.policy_for("django.db.models.signals.post_init") is Policy.COUNT


def test_user_policies_extend_the_defaults() -> None:
    config = build_config({"POLICIES": {"django.db.models.signals.pre_save": "off"}})
    assert config.policy_for("django.db.models.signals.pre_save") is Policy.OFF
    assert config.policy_for("django.db.models.signals.pre_init") is Policy.COUNT


def test_every_key_has_a_config_field() -> None:
    fields = set(Config.__dataclass_fields__)
    assert {key.lower() for key in KEYS} == fields
    assert (
        validate({key: getattr(Config(), key.lower()) for key in KEYS if key != "POLICIES"}) == []
    )
