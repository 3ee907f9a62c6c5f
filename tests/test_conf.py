"""The setting at run time: changes are validated like at start-up, policies go by signal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.dispatch import Signal
from django.test import override_settings

import signal_tracing
from signal_tracing import state
from signal_tracing.conf import Config, build_config, validated_config
from signal_tracing.instrumentation import apply_settings
from signal_tracing.records import Policy
from signal_tracing.testing import collect_spans
from tests.testapp.signals import order_placed


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    apply_settings()


def test_a_bad_value_in_override_settings_raises_the_checks_message() -> None:
    assert signal_tracing.is_instrumented()
    config = state.current_config()
    with (
        pytest.raises(ImproperlyConfigured) as raised,
        override_settings(SIGNAL_TRACING={"ENABLED": "no"}),
    ):
        pytest.fail("the block must not run with a bad setting")
    assert str(raised.value) == (
        "(signal_tracing.E003) SIGNAL_TRACING['ENABLED'] is 'no', which is not valid.\n"
        "\tHINT: ENABLED must be True or False."
    )
    assert signal_tracing.is_instrumented()
    assert state.current_config() == config


def test_the_pytest_settings_fixture_is_validated_too(settings: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"(?s)signal_tracing\.E002.*'ENABLED'"):
        settings.SIGNAL_TRACING = {"ENABLE": False}
    assert signal_tracing.is_instrumented()
    settings.SIGNAL_TRACING = {"ENABLED": False}
    assert not signal_tracing.is_instrumented()


def test_every_problem_is_listed() -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        validated_config({"JAEGER_URL": "localhost:16686", "POLICIES": {"post_sav": "off"}})
    lines = str(raised.value).splitlines()
    assert [line.split(")")[0] for line in lines if not line.startswith("\t")] == [
        "(signal_tracing.E003",
        "(signal_tracing.E005",
    ]
    assert "\tHINT: Did you mean 'post_save'?" in lines


def test_a_good_value_applies_at_once() -> None:
    with override_settings(SIGNAL_TRACING={"ENABLED": False}):
        assert not signal_tracing.is_instrumented()
    assert signal_tracing.is_instrumented()


# --- policies go by signal identity -----------------------------------------------------------


def test_a_policy_for_the_path_django_defines_a_signal_at_applies() -> None:
    # setting_changed is named django.test.signals.setting_changed; Django defines it in
    # django.core.signals. Either path is the same signal.
    with collect_spans(policies={"django.core.signals.setting_changed": "off"}) as collected:
        setting_changed.connect(_noop)
        try:
            with override_settings(SHOP_NAME="x"):
                pass
        finally:
            setting_changed.disconnect(_noop)
    assert [name for name in collected.names() if "setting_changed" in name] == []


def _noop(sender: Any, **kwargs: Any) -> None:
    return None


def test_a_short_name_policy_applies() -> None:
    with collect_spans(policies={"order_placed": "off"}) as collected:
        order_placed.connect(_noop)
        try:
            order_placed.send(sender=None)
        finally:
            order_placed.disconnect(_noop)
    assert collected.names() == []


def test_policies_match_signals_by_identity_and_the_settings_entries_win() -> None:
    config = build_config(
        {
            "POLICIES": {
                "post_init": "span",
                "django.core.signals.setting_changed": "count",
                "django.db.models.signals.pre_save": "off",
            }
        }
    )
    assert config.policy_for(post_init, "django.db.models.signals.post_init") is Policy.SPAN
    assert config.policy_for(pre_init, "django.db.models.signals.pre_init") is Policy.COUNT
    assert config.policy_for(pre_save, "django.db.models.signals.pre_save") is Policy.OFF
    assert config.policy_for(setting_changed, "django.test.signals.setting_changed") is Policy.COUNT
    assert config.policy_for(post_save, "django.db.models.signals.post_save") is Policy.SPAN


def test_keys_that_name_no_signal_fall_back_to_the_default_policy() -> None:
    config = build_config({"POLICIES": {"a.b": "off", "nothing": "off"}, "MAX_SPANS_PER_TRACE": 0})
    assert config.policy_for(order_placed, "tests.testapp.signals.order_placed") is Policy.SPAN
    assert config.max_spans_per_trace == 0
    assert build_config({"MAX_SPANS_PER_TRACE": "lots"}) == Config()


class Shop:
    paid = Signal()  # reachable only through its class


def test_a_policy_for_a_class_attribute_signal_applies() -> None:
    config = build_config({"POLICIES": {"tests.test_conf.Shop.paid": "off"}})
    assert config.policy_for(Shop.paid, "whatever:unnamed_signal") is Policy.OFF
    assert config.policy_for(Signal(), "whatever:unnamed_signal") is Policy.SPAN


def test_a_policy_asked_by_path_goes_by_the_signal_at_that_path() -> None:
    # What the panel's "Connected receivers" section asks: the same answer as the tracer's.
    config = build_config(
        {"POLICIES": {"django.core.signals.setting_changed": "off", "a.b": "count"}}
    )
    assert config.policy_for_path("django.test.signals.setting_changed") is Policy.OFF
    assert config.policy_for_path("django.db.models.signals.post_init") is Policy.COUNT
    assert config.policy_for_path("tests.testapp.signals.order_placed") is Policy.SPAN
    # A path that names nothing loaded (a registry name of an unnamed signal) goes by spelling.
    assert config.policy_for_path("a.b") is Policy.COUNT
    assert config.policy_for_path("whatever:unnamed_signal") is Policy.SPAN


def test_values_are_converted_to_the_configs_types() -> None:
    config = build_config(
        {
            "DEFAULT_POLICY": "count",
            "SLOW_RECEIVER_MS": 5,
            "EXIT_FLUSH_TIMEOUT": 1,
            "EXCLUDE_SENDERS": ["shop.*"],
            "POLICIES": {"post_save": "off"},
        }
    )
    assert config.default_policy is Policy.COUNT
    assert type(config.slow_receiver_ms) is float
    assert config.slow_receiver_ms == 5.0
    assert type(config.exit_flush_timeout) is float
    assert config.exclude_senders == ("shop.*",)
    assert config.policies["post_save"] is Policy.OFF
    assert config.policies["django.db.models.signals.post_init"] is Policy.COUNT  # defaults kept
    assert build_config(["not", "a", "dict"]) == Config()
