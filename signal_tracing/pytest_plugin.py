"""pytest plugin (``pytest11`` entry point): fixtures over :mod:`signal_tracing.testing`.

Django and the rest of signal_tracing are imported inside the fixtures, so this plugin loads
in every pytest run, whether or not Django is installed, configured or used by the project.
Fixture names share the ``signal_`` prefix, the way pytest-django's share ``django_``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.dispatch import Signal
    from opentelemetry.sdk.trace import ReadableSpan

    from signal_tracing.testing import Sent, SignalCapture

#: "failed" or "skipped" once a phase of the item (set-up, call, tear-down) reported so.
_OUTCOME: Final = pytest.StashKey[str]()

#: The end of a failure message when pytest runs without ``-v``.
HINT: Final = "(add -v option to show the full tree of signals and receivers)"


class _Unset:
    def __repr__(self) -> str:
        return "<any sender>"


_UNSET: Final = _Unset()


class SignalAssertNumSent(Protocol):
    """The type of the ``signal_assert_num_sent`` and ``signal_assert_max_num_sent`` fixtures."""

    def __call__(
        self,
        num: int,
        signal: Signal | str | None = ...,
        *,
        sender: Any = ...,
        receiver: Callable[..., Any] | str | None = ...,
        kwargs: Mapping[str, Any] | None = ...,
        **kwarg_filters: Any,
    ) -> AbstractContextManager[SignalCapture]:
        pass  # pragma: no cover


class SignalSpans(Protocol):
    """The type of the ``signal_spans`` fixture."""

    def finished(self) -> list[ReadableSpan]:
        """Return the spans finished so far, in the order they ended."""

    def names(self) -> list[str]:
        """Return the finished spans' names, in the order they ended."""

    def clear(self) -> None:
        """Forget the spans finished so far."""

    def render(self, keys: Sequence[str] = ...) -> str:
        """Return the finished spans as an indented text tree."""


def _verbose(config: pytest.Config) -> bool:
    return int(config.getoption("verbose")) > 0


@pytest.fixture
def signal_capture(pytestconfig: pytest.Config) -> Iterator[SignalCapture]:
    """Capture every signal firing from here to the end of the test.

    Firings made by fixtures set up after this one are captured too; call
    ``signal_capture.clear()`` to start afresh.
    """
    from signal_tracing.testing import SignalCapture

    with SignalCapture(verbose=_verbose(pytestconfig), hint=HINT) as capture:
        yield capture


class _AssertNumSent:
    """The context manager the assert fixtures return (a class, so tracebacks end in the test)."""

    def __init__(self, config: pytest.Config, num: int, wanted: Sent, exact: bool) -> None:
        from signal_tracing.testing import SignalCapture

        self.num = num
        self.wanted = wanted
        self.exact = exact
        self.capture = SignalCapture(verbose=_verbose(config), hint=HINT)

    def __enter__(self) -> SignalCapture:
        return self.capture.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        self.capture.__exit__(exc_type, exc, traceback)
        if exc_type is not None:  # the block's own error matters more than a count
            return
        if self.exact:
            message, _found = self.capture.check_count(self.wanted, times=self.num)
        else:
            message, _found = self.capture.check_count(self.wanted, at_most=self.num)
        if message is not None:
            pytest.fail(message)


def _assert_num_sent(
    config: pytest.Config,
    num: int,
    signal: Signal | str | None = None,
    *,
    exact: bool,
    sender: Any = _UNSET,
    receiver: Callable[..., Any] | str | None = None,
    kwargs: Mapping[str, Any] | None = None,
    **kwarg_filters: Any,
) -> _AssertNumSent:
    from signal_tracing.testing import Sent

    __tracebackhide__ = True
    filters: dict[str, Any] = {"receiver": receiver, "kwargs": kwargs}
    if sender is not _UNSET:
        filters["sender"] = sender
    # Built before the block runs, so a misspelt signal fails at once.
    wanted = Sent(signal, **filters, **kwarg_filters)
    return _AssertNumSent(config, num, wanted, exact)


@pytest.fixture
def signal_assert_num_sent(pytestconfig: pytest.Config) -> SignalAssertNumSent:
    """Fail unless the block sends exactly ``num`` matching firings (any signal by default)."""

    def assert_num_sent(num: int, *args: Any, **kwargs: Any) -> AbstractContextManager[Any]:
        __tracebackhide__ = True
        return _assert_num_sent(pytestconfig, num, *args, exact=True, **kwargs)

    return assert_num_sent


@pytest.fixture
def signal_assert_max_num_sent(pytestconfig: pytest.Config) -> SignalAssertNumSent:
    """Fail if the block sends more than ``num`` matching firings (any signal by default)."""

    def assert_max_num_sent(num: int, *args: Any, **kwargs: Any) -> AbstractContextManager[Any]:
        __tracebackhide__ = True
        return _assert_num_sent(pytestconfig, num, *args, exact=False, **kwargs)

    return assert_max_num_sent


@pytest.fixture
def signal_spans() -> Iterator[SignalSpans]:
    """The OpenTelemetry spans finished during the test, from a private in-memory exporter.

    Tracing is on for the test whatever ``SIGNAL_TRACING`` says; the global tracer provider is
    never touched, and tracing is restored as it was afterwards. Needs ``opentelemetry-sdk``.
    """
    from signal_tracing.testing.collected_spans import collect_spans

    with collect_spans() as collected:
        yield collected


# Each test its own trace (TEST_SPANS): the whole protocol, set-up to tear-down, runs inside
# lifecycle.test_scope(). A Django TestCase run by pytest nests its own scope in this one,
# and the outer one wins, so a test never gets two spans.


def _test_scope(node_id: str) -> AbstractContextManager[Any] | None:
    # Nothing to do unless something already loaded the tracer and tracing is on: a project
    # that never used signal_tracing pays one dictionary lookup per test.
    from signal_tracing.state import is_tracing

    if not is_tracing():
        return None
    from signal_tracing.lifecycle import test_scope

    return test_scope(node_id)


# Old-style hook wrappers: the plugin is loaded into every pytest run of an environment where
# signal_tracing is installed, so it keeps working with pytest 7 (new-style needs pytest 8).
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    scope_manager = _test_scope(item.nodeid)
    if scope_manager is None:
        yield
        return
    with scope_manager as scope:
        yield
        outcome = item.stash.get(_OUTCOME, "passed")
        if scope is not None and scope.result_status is None and outcome != "skipped":
            scope.set_result("fail" if outcome == "failed" else "pass")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    result = yield
    report: pytest.TestReport = result.get_result()
    if report.failed or (report.skipped and item.stash.get(_OUTCOME, "") != "failed"):
        item.stash[_OUTCOME] = report.outcome
