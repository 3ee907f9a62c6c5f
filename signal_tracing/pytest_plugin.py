"""pytest plugin (``pytest11`` entry point): fixtures over :mod:`signal_tracing.testing`, the
``signal_no_leaks`` marker (``--signal-no-leaks``, ini ``signal_no_leaks``) and receiver
coverage (``--signal-coverage``, whose plugin object lives in ``testing.pytest_coverage``).

Django and the rest of signal_tracing are imported inside the fixtures and hooks, and only
when used, so this plugin loads in every pytest run, whether or not Django is installed,
configured or used by the project. Fixture names share the ``signal_`` prefix, the way
pytest-django's share ``django_``.
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

    from signal_tracing.leaks import ConnectionSnapshot
    from signal_tracing.testing import Sent, SignalCapture
    from signal_tracing.testing.leak_check import LeakCheck

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


# --------------------------------------------------------------------------------------------
# signal_no_leaks: fail a test that leaves receivers connected.

LEAKS_MARKER: Final = "signal_no_leaks"
LEAKS_IGNORE_HINT: Final = (
    "To leave one connected on purpose, add its name to\n"
    "@pytest.mark.signal_no_leaks(ignore=[...]) or to the signal_leaks_ignore ini option."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("signal_tracing", "signal_tracing (Django signals)")
    group.addoption(
        "--signal-no-leaks",
        action="store_true",
        default=None,
        help="fail every test that leaves signal receivers connected "
        "(as if marked signal_no_leaks)",
    )
    group.addoption(
        "--signal-coverage",
        action="store_true",
        default=False,
        help="report, at the end of the run, how many times each of the project's signal "
        "receivers was called, and which never were",
    )
    group.addoption(
        "--signal-coverage-json",
        metavar="PATH",
        default=None,
        help="also write the receiver coverage report to PATH as JSON (implies --signal-coverage)",
    )
    group.addoption(
        "--signal-coverage-fail-under",
        metavar="PERCENT",
        type=float,
        default=None,
        help="fail the run if less than PERCENT of the project's receivers were called "
        "(implies --signal-coverage)",
    )
    group.addoption(
        "--signal-coverage-source",
        metavar="DIR",
        action="append",
        default=[],
        help="a directory of the project's own code (repeatable; default: the rootdir); "
        "installed packages inside it are not the project's",
    )
    parser.addini(
        "signal_no_leaks",
        "fail every test that leaves signal receivers connected (as if marked signal_no_leaks)",
        type="bool",
        default=False,
    )
    parser.addini(
        "signal_leaks_ignore",
        "receiver names (fnmatch patterns) that signal_no_leaks never reports",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    if (
        config.getoption("signal_coverage")
        or config.getoption("signal_coverage_json") is not None
        or config.getoption("signal_coverage_fail_under") is not None
    ):
        from signal_tracing.testing.pytest_coverage import ReceiverCoveragePlugin

        config.pluginmanager.register(ReceiverCoveragePlugin(config), "signal_tracing_coverage")
    config.addinivalue_line(
        "markers",
        f"{LEAKS_MARKER}(check=True, ignore=()): fail the test if it leaves signal receivers "
        "connected; ignore: receiver names (fnmatch patterns) not to report",
    )


def _leak_check_wanted(item: pytest.Item) -> tuple[bool, list[str]]:
    config = item.config
    wanted = bool(config.getoption("signal_no_leaks") or config.getini("signal_no_leaks"))
    ignore = list(config.getini("signal_leaks_ignore"))
    marker = item.get_closest_marker(LEAKS_MARKER)
    if marker is not None:
        unknown = set(marker.kwargs) - {"check", "ignore"}
        if marker.args or unknown:
            pytest.fail(
                f"{LEAKS_MARKER} takes the keyword arguments check= and ignore= only, "
                f"not {', '.join(sorted(unknown)) or repr(marker.args)}.",
                pytrace=False,
            )
        wanted = bool(marker.kwargs.get("check", True))
        ignore.extend(marker.kwargs.get("ignore", ()))
    return wanted, ignore


class _LongerLivedFixtures:
    """Connections made while a wider-scoped fixture is set up during a test are its own."""

    def __init__(self) -> None:
        self.check: LeakCheck | None = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None]:
        check = self.check
        if check is None or fixturedef.scope == "function":
            yield
            return
        from signal_tracing.leaks import take_snapshot

        before: ConnectionSnapshot = take_snapshot()
        yield
        check.before.adopt(before)


_FIXTURES_PLUGIN: Final = "signal_tracing_leak_fixtures"


@pytest.fixture(autouse=True)
def _signal_no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Check for leaked receivers when the test asks (see ``signal_no_leaks``)."""
    wanted, ignore = _leak_check_wanted(request.node)
    if not wanted:
        yield
        return
    from signal_tracing.testing.leak_check import LeakCheck

    manager = request.config.pluginmanager
    tracker = manager.get_plugin(_FIXTURES_PLUGIN)
    if tracker is None:
        tracker = _LongerLivedFixtures()
        manager.register(tracker, _FIXTURES_PLUGIN)
    check = LeakCheck(ignore)
    tracker.check = check
    yield
    # Autouse fixtures are set up before the test's other function-scoped ones, so this runs
    # after those are torn down: their disconnections count.
    tracker.check = None
    message = check.failure(request.node.nodeid, LEAKS_IGNORE_HINT)
    if message is not None:
        pytest.fail(message, pytrace=False)
