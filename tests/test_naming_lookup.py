"""naming.py's lookups: the signal or receiver a written name means, found without side effects.

The test API's messages are specified in tests/testing/test_matching.py; this module covers
what the settings checks use too, and that a lookup runs no code of the application's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.utils.functional import SimpleLazyObject

from signal_tracing.naming import (
    SignalLookup,
    close_matches,
    did_you_mean,
    find_loaded,
    lookup_signal,
    resolve_receiver_name,
    resolve_signal,
)
from tests.testapp.signals import order_placed


class Loud:
    """Fails the test if anything reads its property."""

    paid = Signal()

    @property
    def total(self) -> Signal:
        raise AssertionError("a lookup ran a property")


def module_getattr(name: str) -> Any:  # PEP 562: called for names a module lacks
    raise AssertionError(f"a lookup ran the module __getattr__ for {name!r}")


def _evaluated() -> Signal:
    raise AssertionError("a lookup evaluated a lazy object")


@pytest.fixture
def trap() -> Iterator[ModuleType]:
    module = ModuleType("tests.trap")
    module.__getattr__ = module_getattr  # type: ignore[method-assign]
    module.Loud = Loud  # type: ignore[attr-defined]
    module.lazy = SimpleLazyObject(_evaluated)  # type: ignore[attr-defined]
    module.closed = Signal()  # type: ignore[attr-defined]
    sys.modules["tests.trap"] = module
    yield module
    del sys.modules["tests.trap"]


def test_a_unique_short_name_or_a_dotted_path_finds_the_signal() -> None:
    assert lookup_signal("post_save") == SignalLookup("post_save", post_save)
    assert lookup_signal("django.db.models.signals.post_save").signal is post_save
    assert lookup_signal("tests.testapp.signals.order_placed").signal is order_placed
    assert lookup_signal("post_save").problem is None


def test_any_loaded_path_to_the_signal_works_re_exports_and_class_attributes(
    trap: ModuleType,
) -> None:
    from django.core.signals import setting_changed

    # Named django.test.signals.setting_changed, defined in django.core.signals.
    assert lookup_signal("django.core.signals.setting_changed").signal is setting_changed
    assert lookup_signal("tests.trap.Loud.paid").signal is Loud.paid


def test_unknown_names_carry_suggestions_for_the_checks_to_word_their_own_way() -> None:
    lookup = lookup_signal("post_sav")
    assert lookup.signal is None
    assert lookup.suggestions == ("post_save",)
    assert lookup.problem == "No loaded signal is called 'post_sav'. Did you mean 'post_save'?"
    assert lookup_signal("django.db.models.signals.post_sav").suggestions == (
        "django.db.models.signals.post_save",
    )
    assert lookup_signal("tests.testapp.signals.order_placd").suggestions[0] == (
        "tests.testapp.signals.order_placed"
    )


def test_several_close_matches_are_offered_best_first() -> None:
    assert lookup_signal("pst_save").problem == (
        "No loaded signal is called 'pst_save'. Did you mean 'post_save' or 'pre_save'?"
    )


def test_a_path_in_a_module_that_is_not_imported_is_said_so() -> None:
    lookup = lookup_signal("nowhere.signals.ready")
    assert lookup.not_imported == "nowhere.signals"
    assert lookup.problem == (
        "No loaded signal is called 'nowhere.signals.ready'. Nothing called 'nowhere.signals' "
        "is imported, and names are looked up without importing anything: import it first."
    )
    assert "nowhere.signals" not in sys.modules


def test_lookups_run_no_module_getattr_property_or_lazy_object(trap: ModuleType) -> None:
    assert find_loaded("tests.trap.ghost") is None
    assert find_loaded("tests.trap.Loud.total") is Loud.__dict__["total"]
    assert lookup_signal("tests.trap.Loud.total").signal is None
    assert lookup_signal("tests.trap.lazy").signal is None
    assert lookup_signal("tests.trap.closed").signal is trap.closed  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="not a callable"):
        resolve_receiver_name("tests.trap.ghost")
    with pytest.raises(ValueError, match="not a callable"):
        resolve_receiver_name("tests.trap.lazy")


def test_a_lazy_object_given_as_a_signal_is_refused_without_being_evaluated() -> None:
    with pytest.raises(TypeError, match="not SimpleLazyObject"):
        resolve_signal(SimpleLazyObject(_evaluated))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not SimpleLazyObject"):
        resolve_receiver_name(SimpleLazyObject(_evaluated))


def test_a_receiver_path_in_a_module_that_is_not_imported_says_what_to_pass() -> None:
    with pytest.raises(ValueError, match="nowhere") as error:
        resolve_receiver_name("nowhere.receivers.ring")
    assert str(error.value) == (
        "'nowhere.receivers.ring' is not a callable in an imported module. Pass the receiver "
        "itself, or its dotted path such as 'sms.receivers.send_sms_code'."
    )


def test_signal_objects_pass_through() -> None:
    assert resolve_signal(order_placed) is order_placed


def test_did_you_mean_serves_any_misspelt_name() -> None:
    assert close_matches("ENABLD", ["EXPORTER", "ENABLED", "POLICIES"]) == ["ENABLED"]
    assert close_matches("zzz", ["ENABLED"]) == []
    assert did_you_mean(["ENABLED"]) == "Did you mean 'ENABLED'?"
    assert did_you_mean(["a", "b", "c"]) == "Did you mean 'a', 'b' or 'c'?"
