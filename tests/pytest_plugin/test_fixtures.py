"""The plugin's fixtures in this process: failures are pytest failures, blocks' errors win."""

from __future__ import annotations

from typing import Any

import pytest

from signal_tracing.pytest_plugin import SignalAssertNumSent
from tests.testapp.signals import order_placed


def send_twice() -> None:
    order_placed.send(sender="till")
    order_placed.send(sender="till")


def test_exact_count_failure_is_a_pytest_failure(
    signal_assert_num_sent: SignalAssertNumSent,
) -> None:
    with (
        pytest.raises(pytest.fail.Exception) as failure,
        signal_assert_num_sent(2, order_placed, sender="till", size=30),
    ):
        order_placed.send(sender="till", size=30)
    assert str(failure.value).splitlines()[0] == (
        "Expected order_placed with sender='till', size=30 to be sent exactly 2 times, "
        "but it was sent 1 time."
    )


def test_max_count_passes_up_to_the_bound(signal_assert_max_num_sent: SignalAssertNumSent) -> None:
    with signal_assert_max_num_sent(2, order_placed) as captured:
        send_twice()
    assert captured.count(order_placed) == 2
    with (
        pytest.raises(pytest.fail.Exception, match="to be sent at most 1 time, but it was sent 2"),
        signal_assert_max_num_sent(1, order_placed),
    ):
        send_twice()


def test_an_error_in_the_block_is_not_replaced_by_a_count_failure(
    signal_assert_num_sent: SignalAssertNumSent,
) -> None:
    with pytest.raises(KeyError), signal_assert_num_sent(1, order_placed):
        {}["missing"]


def test_with_no_signal_every_firing_counts(signal_assert_num_sent: SignalAssertNumSent) -> None:
    with signal_assert_num_sent(0):
        pass
    with signal_assert_num_sent(2, receiver=None, kwargs={"size": 1}):
        order_placed.send(sender="till", size=1)
        order_placed.send(sender="counter", size=1)


def test_the_capture_fixture_is_active_for_the_whole_test(signal_capture: Any) -> None:
    assert signal_capture.active
    order_placed.send(sender="till")
    assert [firing.sender for firing in signal_capture.firings] == ["till"]
