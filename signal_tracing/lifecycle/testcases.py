"""Test spans: each test its own trace, under Django's test runner and under pytest.

``TEST_SPANS`` decides: ``True`` or ``False`` force it; ``None`` (the default) turns test spans
on only while spans are being exported, that is while the tracer provider in use is a real one
(an SDK provider given to ``instrument()`` or set globally), not the API's no-op or proxy.

Two ways in, and the outer one wins when both apply (a Django ``TestCase`` run by pytest with
the plugin's fixture): :func:`test_scope`, a context manager the pytest plugin's fixture calls
with the node id; and, for Django's test runner, a wrapper on ``SimpleTestCase.__call__`` that
needs no change to the project but the setting. We chose ``__call__`` over a documented test
runner class because it works with any ``TEST_RUNNER`` (and ``--parallel`` workers) and covers
``_pre_setup``/``_post_teardown`` (fixtures, transactions, ``flush``) as part of the test.

A test opened while a management command is running (``manage.py test``) starts a new trace:
the command's span keeps the database set-up, each test gets a trace of its own.
"""

from __future__ import annotations

import functools
import unittest
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context

from signal_tracing import attributes as attrs
from signal_tracing.conf import Config
from signal_tracing.lifecycle import patches
from signal_tracing.lifecycle.scopes import (
    CommandScope,
    TestScope,
    close,
    enter,
    innermost,
    live_node,
    may_start_span,
    parent_for_new_scope,
    start_span,
)
from signal_tracing.naming import truncate
from signal_tracing.state import current_config, current_emitter, report_tracer_failure


def wants_test_spans(config: Config) -> bool:
    """Return whether tests get spans of their own under ``config``."""
    if config.test_spans is not None:
        return config.test_spans
    emitter = current_emitter()
    if emitter is None:
        return False
    provider = emitter.tracer_provider
    if provider is None:
        provider = trace.get_tracer_provider()
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def _open(test_id: str) -> TestScope | None:
    config = current_config()
    if not wants_test_spans(config) or innermost(live_node(), TestScope) is not None:
        return None
    parent = parent_for_new_scope()
    context: Context | None = None
    if innermost(parent, CommandScope) is not None:
        parent, context = None, Context()
    name = truncate(test_id, config.max_attribute_length)
    span = None
    if may_start_span(parent):
        span = start_span(
            attrs.TEST_SPAN_NAME.format(test=name), {attrs.TEST_CASE_NAME: name}, context=context
        )
    scope = TestScope(name, span, parent)
    enter(scope)
    return scope


@contextmanager
def test_scope(test_id: str) -> Iterator[TestScope | None]:
    """Run the block as one test: a root span named ``test_id`` that firings nest under.

    Yields the :class:`TestScope` (call ``set_result("pass")`` or ``set_result("fail")`` on
    it), or ``None`` when no span is opened: test spans are off (see ``TEST_SPANS``), or the
    block already runs inside a test scope, whose owner records the outcome. An exception
    leaving the block marks the test failed and is recorded on the span.
    """
    try:
        scope = _open(test_id)
    except Exception:
        report_tracer_failure("opening a test span")
        scope = None
    error: BaseException | None = None
    try:
        yield scope
    except unittest.SkipTest:
        raise
    except BaseException as exc:
        if scope is not None and scope.result_status is None:
            scope.set_result("fail")
        error = exc
        raise
    finally:
        if scope is not None:
            close(scope, error=error)


test_scope.__test__ = False  # type: ignore[attr-defined]  # not a pytest test function


def _problems(result: object) -> tuple[int, int] | None:
    """Return (failed, skipped) counts of a unittest result, if it is one."""
    try:
        failed = (
            len(result.errors)  # type: ignore[attr-defined]
            + len(result.failures)  # type: ignore[attr-defined]
            + len(getattr(result, "unexpectedSuccesses", ()))
        )
        return failed, len(getattr(result, "skipped", ()))
    except (AttributeError, TypeError):
        return None


def _wrap_call(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def __call__(self: Any, result: Any = None) -> Any:
        if not patches.TEST_CASE_CALL.active:
            return original(self, result)
        with test_scope(self.id()) as scope:
            before = _problems(result)
            outcome = original(self, result)
            after = _problems(result)
            if scope is not None and before is not None and after is not None:
                if after[0] > before[0]:
                    scope.set_result("fail")
                elif after[1] == before[1]:
                    scope.set_result("pass")
            return outcome

    return __call__


def sync_patch() -> None:
    """Patch Django's test cases if test spans may be wanted and ``django.test`` is loaded."""
    if current_config().test_spans is False:
        patches.TEST_CASE_CALL.uninstall()
    else:
        patches.TEST_CASE_CALL.install(_wrap_call)


def uninstall() -> None:
    # Open test spans are closed by the __call__ that opened them, still on the stack.
    patches.TEST_CASE_CALL.uninstall()
