"""Assertion methods for ``unittest`` and Django test cases, in ``assertNumQueries`` style."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from signal_tracing.testing.capture import SignalCapture
from signal_tracing.testing.matching import ANY_SENDER, Sent, SignalLike, as_filter

MIXIN_HINT = (
    "(set signal_capture_verbose = True on the test case to show the full tree of signals "
    "and receivers)"
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

    # Provided by unittest.TestCase.
    failureException: type[AssertionError]

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
