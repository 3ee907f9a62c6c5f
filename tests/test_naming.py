"""Names for signals, receivers and senders: useful, stable, and never harmful to compute."""

from __future__ import annotations

import functools
import importlib
import sys
import types
from typing import Any
from unittest import mock

import pytest
from django.db.models.signals import post_save, pre_init
from django.dispatch import Signal

from signal_tracing.naming import (
    BUILTIN_SIGNAL_PATHS,
    SignalRegistry,
    receiver_identity,
    registry,
    sender_label,
)
from tests.testapp.models import Author, ExplodingRepr
from tests.testapp.signals import order_placed


def test_every_builtin_signal_gets_its_documented_dotted_path() -> None:
    import django.test.signals  # noqa: F401  (template_rendered lives there)

    for path in BUILTIN_SIGNAL_PATHS:
        module_name, attribute = path.rsplit(".", 1)
        signal = getattr(importlib.import_module(module_name), attribute)
        assert registry.name_of(signal) == (attribute, path)


def test_setting_changed_is_named_where_django_documents_it() -> None:
    from django.core.signals import setting_changed

    assert registry.name_of(setting_changed).path == "django.test.signals.setting_changed"


def test_custom_module_level_signals_get_their_dotted_path() -> None:
    assert registry.name_of(order_placed) == ("order_placed", "tests.testapp.signals.order_placed")


def test_the_defining_module_wins_over_modules_that_import_the_signal() -> None:
    import django.template.autoreload  # noqa: F401  (imports autoreload_started)
    from django.utils.autoreload import autoreload_started

    fresh = SignalRegistry()
    assert fresh.name_of(autoreload_started).path == "django.utils.autoreload.autoreload_started"


def test_unknown_signals_get_a_stable_fallback() -> None:
    local = Signal()
    assert registry.name_of(local) == (
        "unnamed_signal",
        "django.dispatch.dispatcher.Signal:unnamed_signal",
    )
    assert registry.name_of(local) == registry.name_of(Signal())


def test_a_module_imported_again_is_scanned_again() -> None:
    fresh = SignalRegistry()
    first = types.ModuleType("tests.reloaded_signals")
    first.thing_happened = Signal()  # type: ignore[attr-defined]
    sys.modules["tests.reloaded_signals"] = first
    try:
        assert fresh.name_of(first.thing_happened).name == "thing_happened"  # type: ignore[attr-defined]
        second = types.ModuleType("tests.reloaded_signals")
        second.other_thing = Signal()  # type: ignore[attr-defined]
        sys.modules["tests.reloaded_signals"] = second
        assert fresh.name_of(second.other_thing).path == "tests.reloaded_signals.other_thing"  # type: ignore[attr-defined]
    finally:
        del sys.modules["tests.reloaded_signals"]


def test_known_signals_lists_builtins_and_custom_ones() -> None:
    paths = {name.path for name, _signal in registry.known_signals()}
    assert {"django.db.models.signals.post_save", "tests.testapp.signals.order_placed"} <= paths


# --- receivers -------------------------------------------------------------------------------


def plain(sender: Any, **kwargs: Any) -> None:
    return None


async def coroutine(sender: Any, **kwargs: Any) -> None:
    return None


class Handlers:
    def method(self, sender: Any, **kwargs: Any) -> None:
        return None

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        return None


@pytest.mark.parametrize(
    ("receiver", "name"),
    [
        (plain, "tests.test_naming.plain"),
        (coroutine, "tests.test_naming.coroutine"),
        (Handlers().method, "tests.test_naming.Handlers.method"),
        (Handlers(), "tests.test_naming.Handlers.__call__"),
        (functools.partial(plain, extra=1), "functools.partial(tests.test_naming.plain)"),
        (lambda sender, **kwargs: None, "tests.test_naming.<lambda>"),
        (mock.Mock(), "unittest.mock.Mock"),
        (mock.MagicMock(name="named"), "unittest.mock.MagicMock"),
        (mock.AsyncMock(), "unittest.mock.AsyncMock"),
        (print, "builtins.print"),
        (Handlers, "tests.test_naming.Handlers"),
    ],
)
def test_every_kind_of_receiver_gets_a_useful_name(receiver: Any, name: str) -> None:
    assert receiver_identity(receiver).name == name


def test_receiver_identity_points_at_the_code() -> None:
    identity = receiver_identity(Handlers().method)
    assert identity.file_path == __file__
    assert identity.line_number == Handlers.method.__code__.co_firstlineno
    assert receiver_identity(Handlers()).line_number == Handlers.__call__.__code__.co_firstlineno


def test_a_receiver_that_explodes_on_attribute_access_still_gets_a_name() -> None:
    class Hostile:
        def __getattribute__(self, name: str) -> Any:
            raise RuntimeError("no attributes for you")

        def __call__(self, sender: Any, **kwargs: Any) -> None:
            return None

    assert receiver_identity(Hostile()).name.endswith("Hostile.__call__")


# --- senders ---------------------------------------------------------------------------------


def test_sender_labels() -> None:
    assert sender_label(None) == "None"
    assert sender_label(Author) == "testapp.Author"
    assert sender_label(Signal) == "django.dispatch.dispatcher.Signal"
    assert sender_label("seven") == "seven"
    assert sender_label("x" * 100) == "x" * 63 + "…"
    assert sender_label(42) == "42"
    assert sender_label(sys) == "sys"
    assert sender_label(plain) == "tests.test_naming.plain"
    assert sender_label(object()) == "<builtins.object instance>"


def test_model_instance_senders_never_have_repr_or_str_called() -> None:
    instance = ExplodingRepr(name="boom")
    assert sender_label(instance) == "<testapp.ExplodingRepr instance>"


def test_lazy_objects_are_never_evaluated() -> None:
    from django.utils.functional import SimpleLazyObject

    evaluated = []

    def setup() -> object:
        evaluated.append(True)
        return object()

    lazy = SimpleLazyObject(setup)
    sender_label(lazy)
    fresh = SignalRegistry()
    module = types.ModuleType("tests.lazy_holder")
    module.lazy = lazy  # type: ignore[attr-defined]
    sys.modules["tests.lazy_holder"] = module
    try:
        fresh.name_of(pre_init)
        fresh.name_of(post_save)
    finally:
        del sys.modules["tests.lazy_holder"]
    assert evaluated == []
