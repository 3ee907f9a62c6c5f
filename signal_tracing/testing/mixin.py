"""Assertion methods for ``unittest`` and Django test cases, in ``assertNumQueries`` style."""

from __future__ import annotations

import unittest
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from signal_tracing.testing.capture import SignalCapture
from signal_tracing.testing.leak_check import LeakCheck
from signal_tracing.testing.matching import ANY_SENDER, Sent, SignalLike, as_filter

MIXIN_HINT = (
    "(set signal_capture_verbose = True on the test case to show the full tree of signals "
    "and receivers)"
)
LEAKS_IGNORE_HINT = (
    "To leave one connected on purpose, add its name to signal_leaks_ignore on the test case."
)


class SignalAssertionsMixin:
    """Mix into a ``unittest.TestCase`` (or Django's) for signal assertions::

        class SmsCodeTests(SignalAssertionsMixin, TestCase):
            def test_creating_a_code_sends_it(self):
                with self.assertSignalSent(post_save, sender=SmsCode, created=True, times=1):
                    SmsCode.objects.create(mobile="13800138000", sms_type=1)

    Each method is a context manager that checks when the block ends (not if it raised) and
    yields the :class:`SignalCapture`, for further checks.
    """

    #: Put the whole tree of firings in failure messages.
    signal_capture_verbose: bool = False
    #: Fail each test that leaves signal receivers connected (see ``signal_tracing.leaks``).
    signal_no_leaks: bool = False
    #: Receiver names (fnmatch patterns) that ``signal_no_leaks`` never reports.
    signal_leaks_ignore: Sequence[str] = ()

    # Provided by unittest.TestCase.
    failureException: type[AssertionError]

    if TYPE_CHECKING:

        def id(self) -> str: ...

        def addCleanup(
            self, function: Callable[..., Any], /, *args: Any, **kwargs: Any
        ) -> None: ...

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        if self.signal_no_leaks:
            # The first cleanup added runs last: after tearDown() and every cleanup the test
            # adds, so that their disconnections count. setUpClass() and setUpTestData() ran
            # before this snapshot: what they connect is the class's, not the test's.
            check = LeakCheck(self.signal_leaks_ignore)
            self.addCleanup(self._fail_on_leaks, check)
        return super().run(result)  # type: ignore[misc,no-any-return]

    def _fail_on_leaks(self, check: LeakCheck) -> None:
        __tracebackhide__ = True
        self._fail(check.failure(self.id(), LEAKS_IGNORE_HINT))

    def captureSignals(self) -> SignalCapture:
        """Return a capture to use as a context manager; its failures name this option."""
        return SignalCapture(verbose=self.signal_capture_verbose, hint=MIXIN_HINT)

    def _fail(self, message: str | None) -> None:
        if message is not None:
            raise self.failureException(message)

    @contextmanager
    def assertSignalSent(
        self,
        signal: SignalLike | None = None,
        *,
        times: int | None = None,
        at_most: int | None = None,
        sender: Any = ANY_SENDER,
        receiver: Callable[..., Any] | str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **kwarg_filters: Any,
    ) -> Iterator[SignalCapture]:
        """Fail unless the block sends matching firings (at least once, ``times``, ``at_most``)."""
        wanted = Sent(signal, sender=sender, receiver=receiver, kwargs=kwargs, **kwarg_filters)
        with self.captureSignals() as captured:
            yield captured
        self._fail(captured.check_count(wanted, times=times, at_most=at_most)[0])

    @contextmanager
    def assertSignalNotSent(
        self,
        signal: SignalLike | None = None,
        *,
        sender: Any = ANY_SENDER,
        receiver: Callable[..., Any] | str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **kwarg_filters: Any,
    ) -> Iterator[SignalCapture]:
        """Fail if the block sends a matching firing."""
        wanted = Sent(signal, sender=sender, receiver=receiver, kwargs=kwargs, **kwarg_filters)
        with self.captureSignals() as captured:
            yield captured
        self._fail(captured.check_count(wanted, times=0)[0])

    @contextmanager
    def assertSignalsSentInOrder(self, *expected: Sent | SignalLike) -> Iterator[SignalCapture]:
        """Fail unless the block sends firings matching ``expected`` in that order."""
        wanted = [as_filter(item) for item in expected]
        with self.captureSignals() as captured:
            yield captured
        self._fail(captured.check_order(wanted)[0])
