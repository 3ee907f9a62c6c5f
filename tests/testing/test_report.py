"""Failure messages say what was expected, what fired instead, and what to do next."""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext

from signal_tracing.testing import Sent, SignalCapture, capture_signals
from tests.testapp.models import Author, ExplodingRepr, Tag
from tests.testing.sites import line_in, sent_from

pytestmark = pytest.mark.django_db

HINT = (
    "(pass verbose=True to capture_signals(), or print(capture.render()), "
    "to show the full tree of signals and receivers)"
)
ALL_FIRINGS = (
    "All firings (10): pre_init sender=testapp.Author, post_init sender=testapp.Author, "
    "pre_save sender=testapp.Author, post_save sender=testapp.Author, "
    "pizza_done sender=testapp.Author, pre_save sender=testapp.Author, "
    "post_save sender=testapp.Author, pizza_done sender=testapp.Author, "
    "pizza_done sender=kitchen x2"
)

pizza_done = Signal()
payment_taken = Signal()


class Burnt(Exception):
    pass


def announce(sender: Any, instance: Author, created: bool, **kwargs: Any) -> None:
    pizza_done.send(sender=sender, size=len(instance.name))


def burn(sender: Any, size: int, **kwargs: Any) -> None:
    if size >= 30:
        raise Burnt


#: Where the ``captured`` fixture's firings were sent from.
FROM_CREATE = sent_from(__name__, "captured", "author = Author.objects.create(")
FROM_SAVE = sent_from(__name__, "captured", "author.save()")
FROM_ANNOUNCE = sent_from(__name__, "announce", "pizza_done.send(")
FROM_KITCHEN = sent_from(__name__, "captured", "pizza_done.send_robust(")


@pytest.fixture
def captured() -> Iterator[SignalCapture]:
    post_save.connect(announce, sender=Author)
    pizza_done.connect(burn)
    try:
        with capture_signals() as capture:
            author = Author.objects.create(name="Bing Xin")
            author.save()
            for _ in range(2):
                pizza_done.send_robust(sender="kitchen", size=30)
        yield capture
    finally:
        post_save.disconnect(announce, sender=Author)
        pizza_done.disconnect(burn)


def failure(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as error:
        check(*args, **kwargs)
    return str(error.value)


def test_expected_at_least_once(captured: SignalCapture) -> None:
    assert failure(captured.assert_sent, post_save, sender=Tag) == "\n".join(
        [
            "Expected post_save with sender=testapp.Tag to be sent, but it was not.",
            "post_save was sent 2 times:",
            f"    post_save send sender=testapp.Author{FROM_CREATE} "
            "-> tests.testing.test_report.announce",
            f"    post_save send sender=testapp.Author{FROM_SAVE} "
            "-> tests.testing.test_report.announce",
            ALL_FIRINGS,
            HINT,
        ]
    )


def test_expected_exactly_n_marks_the_firings_that_matched(captured: SignalCapture) -> None:
    assert failure(captured.assert_sent, post_save, created=True, times=2) == "\n".join(
        [
            "Expected post_save with created=True to be sent exactly 2 times, "
            "but it was sent 1 time.",
            "post_save was sent 2 times:",
            f"  * post_save send sender=testapp.Author created=True{FROM_CREATE} "
            "-> tests.testing.test_report.announce",
            f"    post_save send sender=testapp.Author created=False{FROM_SAVE} "
            "-> tests.testing.test_report.announce",
            "  (* = matches)",
            ALL_FIRINGS,
            HINT,
        ]
    )


def test_expected_at_most_n_shows_receiver_outcomes(captured: SignalCapture) -> None:
    assert failure(captured.assert_sent, pizza_done, sender="kitchen", at_most=1) == "\n".join(
        [
            "Expected pizza_done with sender='kitchen' to be sent at most 1 time, "
            "but it was sent 2 times.",
            "pizza_done was sent 4 times:",
            f"    pizza_done send sender=testapp.Author{FROM_ANNOUNCE} "
            "-> tests.testing.test_report.burn",
            f"    pizza_done send sender=testapp.Author{FROM_ANNOUNCE} "
            "-> tests.testing.test_report.burn",
            f"  * pizza_done send_robust sender=kitchen{FROM_KITCHEN} "
            "-> tests.testing.test_report.burn (handled tests.testing.test_report.Burnt)",
            f"  * pizza_done send_robust sender=kitchen{FROM_KITCHEN} "
            "-> tests.testing.test_report.burn (handled tests.testing.test_report.Burnt)",
            "  (* = matches)",
            ALL_FIRINGS,
            HINT,
        ]
    )


def test_expected_not_sent(captured: SignalCapture) -> None:
    message = failure(captured.assert_not_sent, pizza_done, size=30)
    assert message.splitlines()[0] == (
        "Expected pizza_done with size=30 not to be sent, but it was sent 2 times."
    )


def test_expected_any_signal_lists_everything(captured: SignalCapture) -> None:
    assert failure(captured.assert_sent, times=3) == "\n".join(
        [
            "Expected a signal to be sent exactly 3 times, but it was sent 10 times.",
            ALL_FIRINGS,
            HINT,
        ]
    )


def test_nothing_sent_at_all() -> None:
    with capture_signals() as capture:
        pass
    assert failure(capture.assert_sent, pizza_done) == (
        "Expected pizza_done to be sent, but it was not.\nNo signals were sent."
    )


def test_order_failure_says_where_the_sequence_broke(captured: SignalCapture) -> None:
    message = failure(
        captured.assert_order, Sent(pizza_done, sender="kitchen"), Sent(post_save, created=False)
    )
    assert message == "\n".join(
        [
            "Expected firings in this order:",
            "  1. pizza_done with sender='kitchen'",
            "  2. post_save with created=False",
            "but #1 matched firing 9 (pizza_done), and no later firing matched #2.",
            ALL_FIRINGS,
            HINT,
        ]
    )
    assert failure(captured.assert_order, Sent(pizza_done, size=99)).splitlines()[2] == (
        "but nothing matched #1."
    )


def test_order_passes_with_other_firings_in_between(captured: SignalCapture) -> None:
    found = captured.assert_order(
        "pre_save", Sent(pizza_done, size=8), post_save, "tests.testing.test_report.pizza_done"
    )
    assert [f.signal_name for f in found] == ["pre_save", "pizza_done", "post_save", "pizza_done"]


def test_verbose_messages_carry_the_whole_tree(captured: SignalCapture) -> None:
    captured.verbose = True
    message = failure(captured.assert_not_sent, pre_save)
    tree = message.split("\n\nSignals sent:\n", 1)[1]
    assert tree == captured.render()
    assert HINT not in message


def test_render_shows_nesting_receivers_outcomes_and_kwargs(captured: SignalCapture) -> None:
    pk = Author.objects.get().pk  # not always 1: the PostgreSQL leg keeps its sequences
    assert captured.render() == "\n".join(
        [
            # Model.__init__ empties the kwargs dict it sent: values are live, not copies.
            f"pre_init send sender=testapp.Author args=(), kwargs={{}}{FROM_CREATE} (no receivers)",
            f"post_init send sender=testapp.Author instance=<testapp.Author pk={pk}>"
            f"{FROM_CREATE} (no receivers)",
            f"pre_save send sender=testapp.Author instance=<testapp.Author pk={pk}>, "
            f"raw=False, using='default', update_fields=None{FROM_CREATE} (no receivers)",
            f"post_save send sender=testapp.Author instance=<testapp.Author pk={pk}>, "
            f"created=True, update_fields=None, raw=False, using='default'{FROM_CREATE}",
            "  tests.testing.test_report.announce: ok",
            f"    pizza_done send sender=testapp.Author size=8{FROM_ANNOUNCE}",
            "      tests.testing.test_report.burn: ok",
            f"pre_save send sender=testapp.Author instance=<testapp.Author pk={pk}>, "
            f"raw=False, using='default', update_fields=None{FROM_SAVE} (no receivers)",
            f"post_save send sender=testapp.Author instance=<testapp.Author pk={pk}>, "
            f"created=False, update_fields=None, raw=False, using='default'{FROM_SAVE}",
            "  tests.testing.test_report.announce: ok",
            f"    pizza_done send sender=testapp.Author size=8{FROM_ANNOUNCE}",
            "      tests.testing.test_report.burn: ok",
            f"pizza_done send_robust sender=kitchen size=30{FROM_KITCHEN}",
            "  tests.testing.test_report.burn: handled tests.testing.test_report.Burnt",
            f"pizza_done send_robust sender=kitchen size=30{FROM_KITCHEN}",
            "  tests.testing.test_report.burn: handled tests.testing.test_report.Burnt",
        ]
    )


def test_each_firing_says_where_it_was_sent_from_and_nothing_when_no_line_qualifies() -> None:
    def place_order() -> None:
        pizza_done.send(sender="oven", size=12)

    with capture_signals(verbose=True, hint=None) as capture:
        place_order()
        # Sent by a thread of the standard library's alone: no line of ours on the way.
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(pizza_done.send, "counter"))
        thread.start()
        thread.join()

    test = "test_each_firing_says_where_it_was_sent_from_and_nothing_when_no_line_qualifies"
    line = line_in(__name__, test, 'pizza_done.send(sender="oven"')
    # Python 3.10's code objects have no qualified name: a nested function goes by its own.
    function = f"{test}.<locals>.place_order" if sys.version_info >= (3, 11) else "place_order"
    sent = f" (from tests/testing/test_report.py:{line} in {function})"
    assert capture.firings[1].send_site is None
    assert failure(capture.assert_sent, pizza_done, size=99) == "\n".join(
        [
            "Expected pizza_done with size=99 to be sent, but it was not.",
            "pizza_done was sent 2 times:",
            f"    pizza_done send sender=oven size=12{sent} -> no receivers",
            "    pizza_done send sender=counter size=<missing> -> no receivers",
            "All firings (2): pizza_done sender=oven, pizza_done sender=counter",
            "",
            "Signals sent:",
            f"pizza_done send sender=oven size=12{sent} (no receivers)",
            "pizza_done send sender=counter (no receivers)",
        ]
    )


def test_summary_folds_repeats() -> None:
    with capture_signals() as capture:
        for _ in range(3):
            pizza_done.send(sender="oven")
        pizza_done.send(sender="counter")
    assert capture.summary() == "pizza_done sender=oven x3, pizza_done sender=counter"


def test_messages_never_call_repr_or_query_the_database() -> None:
    with capture_signals() as capture:
        thing = ExplodingRepr.objects.create(name="x")
        pizza_done.send(sender="oven", thing=thing, things=ExplodingRepr.objects.all())
    with CaptureQueriesContext(connection) as queries:
        capture.verbose = True
        message = failure(capture.assert_sent, pizza_done, thing=None)
    assert len(queries) == 0
    assert (
        f"pizza_done send sender=oven thing=<testapp.ExplodingRepr pk={thing.pk}>, "
        "things=<django.db.models.query.QuerySet>"
    ) in message


def test_a_long_list_of_near_misses_is_cut() -> None:
    with capture_signals() as capture:
        for size in range(12):
            pizza_done.send(sender="oven", size=size)
    lines = failure(capture.assert_sent, pizza_done, size=99).splitlines()
    assert lines[1] == "pizza_done was sent 12 times:"
    sent = sent_from(__name__, "test_a_long_list_of_near_misses_is_cut", "pizza_done.send(")
    assert lines[2] == f"    pizza_done send sender=oven size=0{sent} -> no receivers"
    assert lines[12] == "    ... and 2 more"
    assert lines[13] == "All firings (12): pizza_done sender=oven x12"


def test_count_arguments_are_checked(captured: SignalCapture) -> None:
    with pytest.raises(TypeError, match=r"Pass times= or at_most=, not both\."):
        captured.assert_sent(pizza_done, times=1, at_most=2)
    with pytest.raises(ValueError, match=r"times must be an integer >= 0, not -1\."):
        captured.assert_sent(pizza_done, times=-1)


def test_a_capture_never_started_has_nothing_and_says_so() -> None:
    capture = capture_signals(hint=None)
    assert capture.firings == []
    assert capture.roots == []
    assert capture.render() == ""
    assert failure(capture.assert_sent, pizza_done) == (
        "Expected pizza_done to be sent, but it was not.\nNo signals were sent."
    )


def test_without_a_hint_the_message_ends_with_the_list() -> None:
    with capture_signals(hint=None) as capture:
        pizza_done.send(sender="oven")
    assert failure(capture.assert_not_sent, pizza_done).splitlines()[-1] == (
        "All firings (1): pizza_done sender=oven"
    )


def test_a_long_summary_is_cut_after_forty_groups() -> None:
    with capture_signals() as capture:
        for number in range(45):
            pizza_done.send(sender=f"oven {number}")
    summary = capture.summary()
    assert summary.startswith("pizza_done sender=oven 0, pizza_done sender=oven 1, ")
    assert summary.endswith("pizza_done sender=oven 39, ... and 5 more")


def test_values_are_shown_only_when_plain() -> None:
    with capture_signals() as capture:
        pizza_done.send(
            sender="oven",
            model=Author,
            nested=[[[["deep"]]]],
            table={"size": 30},
            text="x" * 100,
        )
    sent = sent_from(__name__, "test_values_are_shown_only_when_plain", "pizza_done.send(")
    assert capture.render() == (
        "pizza_done send sender=oven model=testapp.Author, nested=<builtins.list>, "
        "table={'size': 30}, text='" + "x" * 58 + "…" + sent + " (no receivers)"
    )


def test_values_a_filter_compares_are_shown_on_both_sides() -> None:
    with capture_signals(hint=None) as capture:
        payment_taken.send(sender=Author, amount=Decimal("99.00"))
        payment_taken.send(sender=Author, amount=Decimal("9.90"))
    message = failure(
        capture.assert_sent, payment_taken, sender=Author, amount=Decimal("99.00"), times=2
    )
    function = "test_values_a_filter_compares_are_shown_on_both_sides"
    sent_99 = sent_from(__name__, function, 'payment_taken.send(sender=Author, amount=Decimal("99')
    sent_9 = sent_from(__name__, function, 'payment_taken.send(sender=Author, amount=Decimal("9.')
    assert message == "\n".join(
        [
            "Expected payment_taken with sender=testapp.Author, amount=Decimal('99.00') "
            "to be sent exactly 2 times, but it was sent 1 time.",
            "payment_taken was sent 2 times:",
            "  * payment_taken send sender=testapp.Author amount=Decimal('99.00')"
            f"{sent_99} -> no receivers",
            f"    payment_taken send sender=testapp.Author amount=Decimal('9.90'){sent_9} "
            "-> no receivers",
            "  (* = matches)",
            "All firings (2): payment_taken sender=testapp.Author x2",
        ]
    )


def test_compared_values_are_shown_longer_than_in_the_tree() -> None:
    paid_at = datetime(2025, 5, 17, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
    with capture_signals(hint=None) as capture:
        payment_taken.send(sender=Author, paid_at=paid_at)
    shown = "datetime.datetime(2025, 5, 17, 9, 30, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))"
    lines = failure(capture.assert_not_sent, payment_taken, paid_at=paid_at).splitlines()
    assert lines[0] == (
        f"Expected payment_taken with paid_at={shown} not to be sent, but it was sent 1 time."
    )
    sent = sent_from(
        __name__, "test_compared_values_are_shown_longer_than_in_the_tree", "payment_taken.send("
    )
    assert lines[2] == (
        f"  * payment_taken send sender=testapp.Author paid_at={shown}{sent} -> no receivers"
    )
