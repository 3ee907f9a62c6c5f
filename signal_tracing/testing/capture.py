"""``capture_signals()``: record every firing in a block, then query and assert on it."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final

from signal_tracing import instrumentation, recording
from signal_tracing.recording import Recording
from signal_tracing.testing import report
from signal_tracing.testing.firing import Firing, FiringIndex
from signal_tracing.testing.matching import ANY_SENDER, Sent, SignalLike, as_filter

DEFAULT_HINT: Final = (
    "(pass verbose=True to capture_signals(), or print(capture.render()), "
    "to show the full tree of signals and receivers)"
)


class SignalCapture:
    """Every signal firing in the current context while active, with its live objects.

    Use it as a context manager (``with capture_signals() as captured:``) or call
    :meth:`start` and :meth:`stop`. Firings without receivers (including signals muted by
    factory_boy's ``mute_signals``) are captured too, and tracing does not need to be enabled.
    Nothing that is sent, returned or raised changes.

    The capture keeps strong references to every sent signal, sender and keyword argument
    until the capture object itself is garbage collected (or :meth:`clear` is called).
    """

    def __init__(self, *, verbose: bool = False, hint: str | None = DEFAULT_HINT) -> None:
        #: Whether failure messages include the whole tree of what fired.
        self.verbose = verbose
        #: Said at the end of a failure message when not verbose.
        self.hint = hint
        self._recording: Recording | None = None
        self._token: contextvars.Token[tuple[Recording, ...]] | None = None
        self._index = FiringIndex()

    # Life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start capturing in the current context (the thread or task, and what it spawns)."""
        if self._token is not None:
            raise RuntimeError("This capture is already active; use a new capture to nest.")
        instrumentation.acquire_capture()
        if self._recording is None:
            self._recording = Recording(everything=True, keep_objects=True)
        self._token = recording.start(self._recording)

    def stop(self) -> None:
        """Stop capturing; what was captured stays available."""
        if self._token is None or self._recording is None:
            raise RuntimeError("This capture is not active.")
        try:
            recording.stop(self._recording, self._token)
        finally:
            self._token = None
            instrumentation.release_capture()

    @property
    def active(self) -> bool:
        return self._token is not None

    def clear(self) -> None:
        """Forget what was captured so far (and drop the references to it)."""
        self._index.clear()
        if self._recording is not None:
            self._recording.roots.clear()
            self._recording.dispatches.clear()
            self._recording.counts.clear()

    def __enter__(self) -> SignalCapture:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Reading ------------------------------------------------------------------------------------

    @property
    def firings(self) -> list[Firing]:
        """Every captured firing, nested ones included, in the order they started."""
        if self._recording is None:
            return []
        dispatches = self._recording.dispatches
        index = self._index
        for record in dispatches[len(index.in_order) :]:
            index.add(record)
        return list(index.in_order)

    @property
    def roots(self) -> list[Firing]:
        """Captured firings not sent from inside another captured firing, in order."""
        firings = self.firings
        nested = {id(child.record) for firing in firings for child in firing.children}
        return [firing for firing in firings if id(firing.record) not in nested]

    def filter(
        self,
        signal: SignalLike | None = None,
        *,
        sender: Any = ANY_SENDER,
        receiver: Callable[..., Any] | str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **kwarg_filters: Any,
    ) -> list[Firing]:
        """Return the captured firings that match, in order (see :class:`Sent`)."""
        wanted = Sent(signal, sender=sender, receiver=receiver, kwargs=kwargs, **kwarg_filters)
        return [firing for firing in self.firings if wanted.matches(firing)]

    def count(
        self,
        signal: SignalLike | None = None,
        *,
        sender: Any = ANY_SENDER,
        receiver: Callable[..., Any] | str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **kwarg_filters: Any,
    ) -> int:
        """Return how many captured firings match."""
        return len(
            self.filter(signal, sender=sender, receiver=receiver, kwargs=kwargs, **kwarg_filters)
        )

    def render(self) -> str:
        """Return the tree of captured firings and receiver calls as indented text."""
        return report.render_tree(self.roots)

    def summary(self) -> str:
        """Return every captured firing on one line, repeats folded."""
        return report.summary(self.firings)

    # Asserting ----------------------------------------------------------------------------------

    def assert_sent(
        self,
        signal: SignalLike | None = None,
        *,
        times: int | None = None,
        at_most: int | None = None,
        sender: Any = ANY_SENDER,
        receiver: Callable[..., Any] | str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **kwarg_filters: Any,
    ) -> list[Firing]:
        """Assert that matching firings were captured; return them.

        By default at least one; ``times=N`` exactly N; ``at_most=N`` no more than N.
        """
        __tracebackhide__ = True
        wanted = Sent(signal, sender=sender, receiver=receiver, kwargs=kwargs, **kwarg_filters)
        message, found = self.check_count(wanted, times=times, at_most=at_most)
        if message is not None:
            raise AssertionError(message)
        return found

    def assert_not_sent(
        self,
        signal: SignalLike | None = None,
        *,
        sender: Any = ANY_SENDER,
        receiver: Callable[..., Any] | str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **kwarg_filters: Any,
    ) -> None:
        """Assert that no captured firing matches."""
        __tracebackhide__ = True
        wanted = Sent(signal, sender=sender, receiver=receiver, kwargs=kwargs, **kwarg_filters)
        message, _found = self.check_count(wanted, times=0)
        if message is not None:
            raise AssertionError(message)

    def assert_order(self, *expected: Sent | SignalLike) -> list[Firing]:
        """Assert that firings matching ``expected`` started in this order; return them.

        Other firings may come before, between and after them.
        """
        __tracebackhide__ = True
        message, found = self.check_order([as_filter(item) for item in expected])
        if message is not None:
            raise AssertionError(message)
        return found

    def check_count(
        self, wanted: Sent, *, times: int | None = None, at_most: int | None = None
    ) -> tuple[str | None, list[Firing]]:
        """Return the failure message (or ``None``) and the matching firings."""
        if times is not None and at_most is not None:
            raise TypeError("Pass times= or at_most=, not both.")
        for name, value in (("times", times), ("at_most", at_most)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be an integer >= 0, not {value!r}.")
        firings = self.firings
        found = [firing for firing in firings if wanted.matches(firing)]
        actual = len(found)
        subject = wanted.describe()
        if times == 0 or (times is None and at_most == 0):
            if not actual:
                return None, found
            head = f"Expected {subject} not to be sent, but it was sent {report.times(actual)}."
        elif times is not None:
            if actual == times:
                return None, found
            head = (
                f"Expected {subject} to be sent exactly {report.times(times)}, "
                f"but it was sent {report.times(actual)}."
            )
        elif at_most is not None:
            if actual <= at_most:
                return None, found
            head = (
                f"Expected {subject} to be sent at most {report.times(at_most)}, "
                f"but it was sent {report.times(actual)}."
            )
        else:
            if actual:
                return None, found
            head = f"Expected {subject} to be sent, but it was not."
        return self._message(head, report.near_misses(wanted, firings)), found

    def check_order(self, expected: list[Sent]) -> tuple[str | None, list[Firing]]:
        """Return the failure message (or ``None``) and the firings matched, in order."""
        firings = self.firings
        found: list[Firing] = []
        position = 0
        for index, wanted in enumerate(expected):
            while position < len(firings) and not wanted.matches(firings[position]):
                position += 1
            if position == len(firings):
                wanted_list = "\n".join(
                    f"  {number}. {item.describe()}" for number, item in enumerate(expected, 1)
                )
                if index == 0:
                    where = "nothing matched #1"
                else:
                    where = (
                        f"#{index} matched firing {firings.index(found[-1]) + 1} "
                        f"({found[-1].signal_name}), and no later firing matched #{index + 1}"
                    )
                head = f"Expected firings in this order:\n{wanted_list}\nbut {where}."
                return self._message(head, ""), found
            found.append(firings[position])
            position += 1
        return None, found

    def _message(self, head: str, details: str) -> str:
        parts = [head]
        if details:
            parts.append(details)
        parts.append(report.context(self.firings, self.roots, self.verbose, self.hint))
        return "\n".join(parts)

    def __repr__(self) -> str:
        state = "active" if self.active else "stopped"
        return f"<SignalCapture {state}, {len(self.firings)} firings>"


def capture_signals(*, verbose: bool = False, hint: str | None = DEFAULT_HINT) -> SignalCapture:
    """Return a capture of every signal firing, to use as a context manager.

    ::

        with capture_signals() as captured:
            SmsCode.objects.create(mobile="13800138000", sms_type=1)
        captured.assert_sent(post_save, sender=SmsCode, created=True, times=1)
        captured.assert_not_sent(sms_code_verified)

    ``verbose=True`` puts the whole tree of firings in failure messages; otherwise they end
    with ``hint``.
    """
    return SignalCapture(verbose=verbose, hint=hint)
