"""Every bad SIGNAL_TRACING value is a system check error with an id and a hint that helps."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import Error
from django.dispatch import Signal

from signal_tracing.checks import check_setting
from signal_tracing.conf import KEYS, Config, validate


@contextmanager
def setting_as_written(value: Any) -> Iterator[None]:
    """``SIGNAL_TRACING = value`` as if in settings.py (override_settings rejects bad values)."""
    missing = object()
    saved = getattr(settings, "SIGNAL_TRACING", missing)
    settings.SIGNAL_TRACING = value
    try:
        yield
    finally:
        if saved is missing:
            del settings.SIGNAL_TRACING
        else:
            settings.SIGNAL_TRACING = saved


def errors_for(value: Any) -> list[Error]:
    with setting_as_written(value):
        return check_setting()


def test_a_valid_setting_has_no_errors() -> None:
    assert (
        errors_for(
            {
                "ENABLED": True,
                "POLICIES": {"tests.testapp.signals.order_placed": "off"},
                "JAEGER_URL": "http://localhost:16686",
            }
        )
        == []
    )


def test_setting_must_be_a_dict() -> None:
    [error] = errors_for(["ENABLED"])
    assert error.id == "signal_tracing.E001"
    assert error.msg == "SIGNAL_TRACING must be a dict, not list."
    assert error.hint == 'Use for example SIGNAL_TRACING = {"ENABLED": True}.'


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("ENABLE", "Did you mean 'ENABLED'?"),
        ("enabled", "Did you mean 'ENABLED'?"),
        ("EXCLUDE_SENDER", "Did you mean 'EXCLUDE_SENDERS'?"),
        (
            "COLOUR",
            "SIGNAL_TRACING keys are upper case; see the settings reference for all of them.",
        ),
    ],
)
def test_unknown_keys_get_the_closest_known_keys_not_all_of_them(key: str, hint: str) -> None:
    [error] = errors_for({key: True})
    assert error.id == "signal_tracing.E002"
    assert error.msg == f"SIGNAL_TRACING has an unknown key {key!r}."
    assert error.hint == hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ENABLED", "yes"),
        ("MAX_SPANS_PER_TRACE", -1),
        ("MAX_ATTRIBUTE_LENGTH", 0),
        ("SLOW_RECEIVER_MS", float("nan")),
        ("EXCLUDE_SENDERS", "debug_toolbar.*"),
        ("EXPORTER", "jaeger"),
        ("DJANGO_RECEIVERS", "none"),
        ("DJANGO_RECEIVERS", True),
        ("DEFAULT_POLICY", "trace"),
        ("TEST_SPANS", "auto"),
        ("POLICIES", ["post_init"]),
        ("JAEGER_URL", "localhost:16686"),
        ("JAEGER_URL", "ftp://jaeger:16686"),
        ("JAEGER_URL", "http://"),
        ("JAEGER_URL", "http://[::1"),
        ("JAEGER_URL", 16686),
        ("EXIT_FLUSH_TIMEOUT", float("inf")),
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
    "key",
    [
        "post_save",  # the short name of a signal, as the test API takes it
        "django.core.signals.setting_changed",  # where Django defines it
        "django.test.signals.setting_changed",  # where Django documents it
        "kitchen.signals.pizza_done",
    ],
)
def test_policy_keys_may_be_any_path_of_a_signal_or_its_unique_short_name(key: str) -> None:
    assert errors_for({"POLICIES": {key: "count"}}) == []


@pytest.mark.parametrize(
    ("key", "message", "hint"),
    [
        ("post_sav", "names no signal", "Did you mean 'post_save'?"),
        (
            "django.db.models.signals.post_int",
            "names no signal",
            "Did you mean 'django.db.models.signals.post_init'",
        ),
        ("django.db.models.Model", "is a ModelBase, not a django.dispatch.Signal", "A key is"),
        ("no_such_signal_anywhere", "names no signal", "A key is"),
        (
            "nowhere.signals.qqq_unheard_of",
            "cannot be imported (No module named 'nowhere')",
            "A key is",
        ),
    ],
)
def test_policy_keys_that_name_no_signal_are_errors_with_a_suggestion(
    key: str, message: str, hint: str
) -> None:
    [error] = errors_for({"POLICIES": {key: "off"}})
    assert error.id == "signal_tracing.E005"
    assert error.msg.startswith(f"SIGNAL_TRACING['POLICIES'] key {key!r} {message}")
    assert error.hint.startswith(hint)


def test_a_policy_key_that_is_not_a_string_is_an_error() -> None:
    [error] = errors_for({"POLICIES": {("post_save",): "off"}})
    assert error.id == "signal_tracing.E005"
    assert error.msg == "SIGNAL_TRACING['POLICIES'] key ('post_save',) is not a string."


def test_the_checks_import_the_module_a_policy_key_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As Django imports the paths its settings name; at run time nothing is imported.
    (tmp_path / "not_yet_imported_signals.py").write_text(
        "from django.dispatch import Signal\nparcel_lost = Signal()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "not_yet_imported_signals", raising=False)
    assert errors_for({"POLICIES": {"not_yet_imported_signals.parcel_lost": "off"}}) == []
    assert "not_yet_imported_signals" in sys.modules
    monkeypatch.delitem(sys.modules, "not_yet_imported_signals")


@pytest.fixture
def twin_signals() -> Iterator[None]:
    """Two loaded modules that each define a signal called ``parcel_twice``."""
    names = ("tests.twin_shop_signals", "tests.twin_post_signals")
    for name in names:
        module = types.ModuleType(name)
        module.parcel_twice = Signal()  # type: ignore[attr-defined]
        sys.modules[name] = module
    yield
    for name in names:
        del sys.modules[name]


@pytest.mark.usefixtures("twin_signals")
def test_a_short_name_shared_by_several_signals_lists_them() -> None:
    [error] = errors_for({"POLICIES": {"parcel_twice": "off"}})
    assert error.id == "signal_tracing.E005"
    assert error.msg == (
        "SIGNAL_TRACING['POLICIES'] key 'parcel_twice' is the short name of several signals: "
        "tests.twin_post_signals.parcel_twice, tests.twin_shop_signals.parcel_twice."
    )
    assert error.hint == "Use the dotted path of the one you mean."


def test_two_keys_for_the_same_signal_are_an_error() -> None:
    [error] = errors_for(
        {
            "POLICIES": {
                "django.test.signals.setting_changed": "count",
                "django.core.signals.setting_changed": "off",
            }
        }
    )
    assert error.id == "signal_tracing.E008"
    assert "'django.test.signals.setting_changed' and 'django.core.signals.setting_changed'" in (
        error.msg
    )


def test_every_key_has_a_config_field() -> None:
    fields = set(Config.__dataclass_fields__)
    assert {key.lower() for key in KEYS} == fields
    assert (
        validate({key: getattr(Config(), key.lower()) for key in KEYS if key != "POLICIES"}) == []
    )
