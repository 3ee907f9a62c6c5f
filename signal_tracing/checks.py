"""System checks for the ``SIGNAL_TRACING`` setting. Every id is listed in docs/checks.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.dispatch import Signal
from django.utils.module_loading import import_string

from signal_tracing.conf import SETTING_NAME, read_setting, validate


def _signal_path_problem(path: object) -> str | None:
    if not isinstance(path, str) or "." not in path:
        return "is not a dotted path"
    try:
        target = import_string(path)
    except ImportError as error:
        return f"cannot be imported ({error})"
    if not isinstance(target, Signal):
        return f"is a {type(target).__name__}, not a django.dispatch.Signal"
    return None


@register()
def check_setting(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = read_setting()
    errors: list[CheckMessage] = [
        Error(problem.message, hint=problem.hint, id=problem.check_id) for problem in validate(raw)
    ]
    policies = raw.get("POLICIES") if isinstance(raw, Mapping) else None
    if isinstance(policies, Mapping):
        for path in policies:
            problem = _signal_path_problem(path)
            if problem is not None:
                errors.append(
                    Error(
                        f"{SETTING_NAME}['POLICIES'] key {path!r} {problem}.",
                        hint="Keys are signals' dotted paths, such as "
                        "'django.db.models.signals.post_init' or 'myapp.signals.order_paid'.",
                        id="signal_tracing.E005",
                    )
                )
    return errors


@register()
def check_exporter(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # signal_tracing.E006 (EXPORTER's packages missing), E007 (unsupported OTLP protocol).
    from signal_tracing.conf import config_from_settings
    from signal_tracing.exporting import check_problems

    return [
        Error(problem.message, hint=problem.hint, id=problem.check_id)
        for problem in check_problems(config_from_settings().exporter)
    ]
