"""SignalAssertionsMixin.signal_no_leaks: each test of the class fails if it leaves receivers."""

from __future__ import annotations

import unittest
from typing import Any

from django.test import SimpleTestCase

from signal_tracing.testing import SignalAssertionsMixin
from signal_tracing.testing.mixin import LEAKS_IGNORE_HINT
from tests.testapp.signals import order_placed

connected_by_set_up_class: list[Any] = []


def on_order_for_the_class(sender: Any, **kwargs: Any) -> None:
    pass


class Leaky(SignalAssertionsMixin, SimpleTestCase):
    __test__ = False  # run by the tests below, with unittest
    signal_no_leaks = True

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        order_placed.connect(on_order_for_the_class, weak=False)

    @classmethod
    def tearDownClass(cls) -> None:
        order_placed.disconnect(on_order_for_the_class)
        super().tearDownClass()

    def test_leaves_one(self) -> None:
        def on_order(sender: Any, **kwargs: Any) -> None:
            pass

        order_placed.connect(on_order, weak=False)
        connected_by_set_up_class.append(on_order)

    def test_cleans_up_with_add_cleanup(self) -> None:
        def on_order(sender: Any, **kwargs: Any) -> None:
            pass

        order_placed.connect(on_order, weak=False)
        self.addCleanup(order_placed.disconnect, on_order)

    def test_leaves_an_ignored_one(self) -> None:
        def on_order_ignored(sender: Any, **kwargs: Any) -> None:
            pass

        order_placed.connect(on_order_ignored, weak=False)
        connected_by_set_up_class.append(on_order_ignored)


class LeakyIgnoring(Leaky):
    signal_leaks_ignore = ("*.on_order_ignored",)


class NotChecked(Leaky):
    signal_no_leaks = False


def run(case: type[unittest.TestCase]) -> unittest.TestResult:
    result = unittest.TestResult()
    try:
        unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
    finally:
        while connected_by_set_up_class:
            order_placed.disconnect(connected_by_set_up_class.pop())
    return result


def failed(result: unittest.TestResult) -> dict[str, str]:
    return {test.id().rpartition(".")[2]: message for test, message in result.failures}


def test_each_test_that_leaves_a_receiver_fails_with_the_message() -> None:
    result = run(Leaky)

    failures = failed(result)
    assert sorted(failures) == ["test_leaves_an_ignored_one", "test_leaves_one"]
    assert result.errors == []
    message = failures["test_leaves_one"].rstrip("\n").rpartition("AssertionError: ")[2]
    lines = message.splitlines()
    assert (
        lines[0]
        == "tests.testing.test_mixin_leaks.Leaky.test_leaves_one left 1 receiver connected:"
    )
    assert lines[1] == (
        "  order_placed <- tests.testing.test_mixin_leaks.Leaky.test_leaves_one.<locals>.on_order "
        f"(tests/testing/test_mixin_leaks.py:{Leaky.test_leaves_one.__code__.co_firstlineno + 1}): "
        "strong (weak=False)"
    )
    assert lines[-1] == LEAKS_IGNORE_HINT


def test_signal_leaks_ignore_names_receivers_not_to_report() -> None:
    assert sorted(failed(run(LeakyIgnoring))) == ["test_leaves_one"]


def test_nothing_is_checked_by_default() -> None:
    result = run(NotChecked)
    assert result.failures == []
    assert result.testsRun == 3
