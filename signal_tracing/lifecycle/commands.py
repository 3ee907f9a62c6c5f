"""Management command spans: ``manage.py migrate`` and every other command, custom ones too.

``BaseCommand.execute`` is wrapped (``manage.py``, ``django-admin`` and ``call_command()`` all
go through it), so what a command sends (``pre_migrate``/``post_migrate`` once per app,
``connection_created``, model signals) nests under one span. Only the command's name is
recorded: its arguments may hold secrets (``createsuperuser``, ``changepassword``, custom ones).

Commands that serve or wait for a person (``runserver``, ``shell``...) get no span: it would
never end (so never be exported) and would swallow whatever their thread does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

from signal_tracing import attributes as attrs
from signal_tracing.lifecycle import patches
from signal_tracing.lifecycle.scopes import (
    CommandScope,
    close,
    enter,
    may_start_span,
    parent_for_new_scope,
    start_span,
)
from signal_tracing.state import report_tracer_failure

#: Long-running or interactive commands: no span of their own.
UNTRACED_COMMANDS: Final = frozenset(
    {
        "runserver",
        "testserver",
        "shell",
        "dbshell",
        "runserver_plus",  # django-extensions
        "shell_plus",  # django-extensions
        "runworker",  # channels
    }
)

_MARKER: Final = ".management.commands."


def command_name(command: object) -> str:
    """Return ``migrate`` for Django's migrate command, the class's dotted path otherwise."""
    command_type = type(command)
    module = command_type.__module__
    if _MARKER in module:
        return module.rsplit(".", 1)[-1]
    return f"{module}.{command_type.__qualname__}"


def _succeeded(error: BaseException) -> bool:
    return isinstance(error, SystemExit) and error.code in (None, 0)


def _wrap_execute(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def execute(self: Any, *args: Any, **options: Any) -> Any:
        if not patches.COMMAND_EXECUTE.active:
            return original(self, *args, **options)
        name = command_name(self)
        if name in UNTRACED_COMMANDS:
            return original(self, *args, **options)
        # ``manage.py test`` imports django.test only now: its test cases can be patched.
        from signal_tracing.lifecycle import testcases

        testcases.sync_patch()
        scope = _open(name)
        error: BaseException | None = None
        try:
            return original(self, *args, **options)
        except BaseException as exc:
            if not _succeeded(exc):
                error = exc
            raise
        finally:
            if scope is not None:
                close(scope, error=error)

    return execute


def _open(name: str) -> CommandScope | None:
    try:
        parent = parent_for_new_scope()
        span_name = attrs.COMMAND_SPAN_NAME.format(command=name)
        span = None
        if may_start_span(parent):
            span = start_span(span_name, {attrs.COMMAND_NAME: name})
        scope = CommandScope("command", span_name, span, parent)
        enter(scope)
    except Exception:
        report_tracer_failure("opening a management command span")
        return None
    return scope


def install() -> None:
    patches.COMMAND_EXECUTE.install(_wrap_execute)


def uninstall() -> None:
    # Open command spans are closed by the execute() that opened them, still on the stack.
    patches.COMMAND_EXECUTE.uninstall()
