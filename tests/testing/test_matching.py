"""Filtering captured firings by signal, sender, receiver and keyword arguments."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from unittest.mock import ANY

import pytest
from django.core.signals import setting_changed
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from django.test import override_settings

from signal_tracing.testing import ANY_SENDER, Sent, SignalCapture, capture_signals
from tests.testapp.models import Author, Book
from tests.testapp.signals import order_placed

pytestmark = pytest.mark.django_db

#: A signal that no module attribute names (kept in a list, which the registry ignores).
unnamed = [Signal()]


def on_order(sender: Any, **kwargs: Any) -> None:
    pass


class Till:
    def ring(self, sender: Any, **kwargs: Any) -> None:
        pass

    @staticmethod
    def weigh(sender: Any, **kwargs: Any) -> None:
        pass

    @classmethod
    def count_orders(cls, sender: Any, **kwargs: Any) -> None:
        pass


till = Till()


@pytest.fixture
def two_signals_called_dough_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Signal, Signal]:
    north, south = ModuleType("tests.bakery.north"), ModuleType("tests.bakery.south")
    north.dough_ready = Signal()  # type: ignore[attr-defined]
    south.dough_ready = Signal()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests.bakery.north", north)
    monkeypatch.setitem(sys.modules, "tests.bakery.south", south)
    return north.dough_ready, south.dough_ready  # type: ignore[attr-defined]


@pytest.fixture
def captured() -> Iterator[SignalCapture]:
    order_placed.connect(on_order)
    order_placed.connect(till.ring)
    try:
        with capture_signals() as capture:
            author = Author.objects.create(name="Lao She")
            author.name = "Lao She (舒庆春)"
            author.save(update_fields=["name"])
            Book.objects.create(title="Teahouse", author=author)
            order_placed.send(sender="counter", size=30, toppings=["ham"])
            order_placed.send(sender=None, size=12)
            order_placed.send_robust(sender=author, size=40, receiver="bob")
        yield capture
    finally:
        order_placed.disconnect(on_order)
        order_placed.disconnect(till.ring)


# --- signals ---------------------------------------------------------------------------------


def test_signal_by_object_dotted_path_or_short_name(captured: SignalCapture) -> None:
    by_object = captured.filter(post_save)
    assert len(by_object) == 3
    assert captured.filter("django.db.models.signals.post_save") == by_object
    assert captured.filter("post_save") == by_object
    assert captured.count("tests.testapp.signals.order_placed") == 3


def test_no_signal_means_every_signal(captured: SignalCapture) -> None:
    assert captured.filter() == captured.firings
    assert captured.count(sender="counter") == 1


def test_a_dotted_path_that_reexports_a_signal_finds_the_same_object() -> None:
    # Django documents django.test.signals.setting_changed; it is defined in django.core.
    with capture_signals() as capture, override_settings(SMS_BACKEND="x"):
        pass
    assert capture.count("django.core.signals.setting_changed", setting="SMS_BACKEND") == 2
    assert capture.count(setting_changed, setting="SMS_BACKEND", enter=True) == 1


def test_a_misspelt_signal_name_is_an_error_that_suggests_the_right_one(
    captured: SignalCapture,
) -> None:
    with pytest.raises(ValueError, match="post_sav") as error:
        captured.assert_not_sent("post_sav")
    assert str(error.value) == "No loaded signal is called 'post_sav'. Did you mean 'post_save'?"
    with pytest.raises(ValueError, match="Did you mean") as error:
        Sent("django.core.signals.post_save")  # the right name in the wrong module
    assert str(error.value) == (
        "No loaded signal is called 'django.core.signals.post_save'. "
        "Did you mean 'django.db.models.signals.post_save'?"
    )


def test_a_name_like_no_signal_says_what_to_pass(captured: SignalCapture) -> None:
    with pytest.raises(ValueError, match="zzz") as error:
        captured.assert_not_sent("zzz")
    assert str(error.value) == (
        "No loaded signal is called 'zzz'. Pass the signal object, its dotted path "
        "(such as 'django.db.models.signals.post_save') or the short name of a signal "
        "defined at module level (such as 'post_save')."
    )


def test_a_path_in_a_module_not_imported_says_nothing_is_imported_for_it() -> None:
    with pytest.raises(ValueError, match="gone") as error:
        Sent("myapp.signals.gone")
    assert str(error.value) == (
        "No loaded signal is called 'myapp.signals.gone'. Nothing called 'myapp.signals' is "
        "imported, and names are looked up without importing anything: import it first."
    )


def test_a_short_name_shared_by_signals_lists_them(
    two_signals_called_dough_ready: tuple[Signal, Signal],
) -> None:
    with pytest.raises(ValueError, match="dough_ready") as error:
        Sent("dough_ready")
    assert str(error.value) == (
        "'dough_ready' is the name of 2 loaded signals: tests.bakery.north.dough_ready, "
        "tests.bakery.south.dough_ready. Give the dotted path of the one you mean."
    )
    north, _south = two_signals_called_dough_ready
    assert Sent("tests.bakery.north.dough_ready").signal_object is north


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda c, name: c.filter(name), id="filter"),
        pytest.param(lambda c, name: c.count(name), id="count"),
        pytest.param(lambda c, name: c.assert_sent(name), id="assert_sent"),
        pytest.param(lambda c, name: c.assert_not_sent(name, size=0), id="assert_not_sent"),
        pytest.param(lambda c, name: c.assert_order(name), id="assert_order"),
        pytest.param(lambda c, name: c.assert_order(Sent(name)), id="Sent"),
    ],
)
def test_every_query_and_assertion_takes_short_names_and_checks_them(
    captured: SignalCapture, use: Callable[[SignalCapture, str], object]
) -> None:
    use(captured, "order_placed")
    with pytest.raises(ValueError, match=r"Did you mean 'order_placed'"):
        use(captured, "order_place")


def test_something_that_is_not_a_signal_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Expected a Signal, its dotted path or its short name"):
        Sent(42)  # type: ignore[arg-type]


# --- senders -------------------------------------------------------------------------------


def test_sender_by_class_or_model_label(captured: SignalCapture) -> None:
    assert captured.count(post_save, sender=Author) == 2
    assert captured.count(post_save, sender="testapp.Author") == 2
    assert captured.count(post_save, sender=Book) == 1


def test_sender_by_value_including_none(captured: SignalCapture) -> None:
    assert [f.kwargs["size"] for f in captured.filter(order_placed, sender="counter")] == [30]
    assert [f.kwargs["size"] for f in captured.filter(order_placed, sender=None)] == [12]
    assert captured.count(order_placed, sender=ANY_SENDER) == 3
    author = Author.objects.get()
    assert [f.kwargs["size"] for f in captured.filter(order_placed, sender=author)] == [40]


# --- receivers -----------------------------------------------------------------------------


def test_receiver_by_callable_or_dotted_path(captured: SignalCapture) -> None:
    assert captured.count(receiver=on_order) == 3
    assert captured.count(receiver="tests.testing.test_matching.on_order") == 3
    assert captured.count(receiver=till.ring) == 3
    assert captured.count(receiver="tests.testing.test_matching.Till.ring") == 3
    assert captured.count(post_save, receiver=on_order) == 0


def test_a_misspelt_receiver_path_is_an_error_that_suggests_the_right_one() -> None:
    with pytest.raises(ValueError, match="on_ordr") as error:
        Sent(order_placed, receiver="tests.testing.test_matching.on_ordr")
    assert str(error.value) == (
        "'tests.testing.test_matching.on_ordr' is not a callable in an imported module. "
        "Did you mean 'tests.testing.test_matching.on_order'?"
    )
    with pytest.raises(
        ValueError, match=r"Did you mean 'tests\.testing\.test_matching\.Till\.ring'"
    ):
        Sent(order_placed, receiver="tests.testing.test_matching.Till.rnig")


def test_a_receiver_path_like_nothing_says_what_to_pass() -> None:
    with pytest.raises(ValueError, match="xyz") as error:
        Sent(order_placed, receiver="tests.testing.test_matching.xyz")
    assert str(error.value) == (
        "'tests.testing.test_matching.xyz' is not a callable in an imported module. Pass "
        "the receiver itself, or its dotted path such as 'sms.receivers.send_sms_code'."
    )
    with pytest.raises(ValueError, match="not a callable"):
        Sent(order_placed, receiver="tests.testing.test_matching.till")  # an instance


def test_static_and_class_method_receivers_by_dotted_path() -> None:
    order_placed.connect(Till.weigh)
    order_placed.connect(Till.count_orders)
    try:
        with capture_signals() as capture:
            order_placed.send(sender="counter")
    finally:
        order_placed.disconnect(Till.weigh)
        order_placed.disconnect(Till.count_orders)
    assert capture.count(receiver="tests.testing.test_matching.Till.weigh") == 1
    assert capture.count(receiver="tests.testing.test_matching.Till.count_orders") == 1


# --- keyword arguments ---------------------------------------------------------------------


def test_kwargs_compare_by_equality(captured: SignalCapture) -> None:
    author = Author.objects.get()
    assert captured.count(post_save, created=True) == 2
    assert captured.count(post_save, sender=Author, created=False) == 1
    assert captured.count(post_save, instance=author) == 2
    assert captured.count(pre_save, update_fields=frozenset({"name"})) == 1
    assert captured.count(order_placed, toppings=["ham"], size=30) == 1


def test_a_kwarg_that_was_not_sent_does_not_match(captured: SignalCapture) -> None:
    assert captured.count(order_placed, toppings=ANY) == 1
    assert captured.count(order_placed, colour=None) == 0


def test_kwargs_mapping_for_names_that_clash_with_parameters(captured: SignalCapture) -> None:
    assert captured.count(order_placed, kwargs={"receiver": "bob"}) == 1
    assert captured.count(order_placed, kwargs={"receiver": "bob"}, size=12) == 0


def test_sent_describes_itself() -> None:
    wanted = Sent(post_save, sender=Author, created=True, receiver=on_order)
    assert wanted.describe() == (
        "post_save with sender=testapp.Author, created=True, "
        "received by tests.testing.test_matching.on_order"
    )
    assert Sent().describe() == "a signal"
    assert Sent("order_placed", sender="counter").describe() == "order_placed with sender='counter'"
    assert repr(Sent(unnamed[0])) == "Sent(django.dispatch.dispatcher.Signal:unnamed_signal)"


def test_a_receiver_that_is_not_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Expected a receiver or its dotted path, not int"):
        Sent(order_placed, receiver=42)  # type: ignore[arg-type]


def test_any_sender_reads_as_such() -> None:
    assert repr(ANY_SENDER) == "ANY_SENDER"
    assert Sent(order_placed, sender=ANY_SENDER).describe() == "order_placed"


def test_asking_a_firing_for_a_receiver_it_did_not_call(captured: SignalCapture) -> None:
    [firing] = captured.filter(post_save, sender=Book)
    with pytest.raises(LookupError) as error:
        firing.call(on_order)
    assert str(error.value) == (
        "tests.testing.test_matching.on_order was not called for post_save (receivers: none)."
    )
