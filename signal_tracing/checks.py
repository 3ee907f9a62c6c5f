"""System checks for the ``SIGNAL_TRACING`` setting. Every id is listed in docs/checks.md."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from signal_tracing.conf import read_setting, validate


@register()
def check_setting(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # signal_tracing.E001 to E005 and E008: conf.validate, also used for run-time changes.
    return [
        Error(problem.message, hint=problem.hint, id=problem.check_id)
        for problem in validate(read_setting())
    ]


@register()
def check_exporter(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # signal_tracing.E006 (EXPORTER's packages missing), E007 (unsupported OTLP protocol).
    from signal_tracing.conf import config_from_settings
    from signal_tracing.exporting import check_problems

    return [
        Error(problem.message, hint=problem.hint, id=problem.check_id)
        for problem in check_problems(config_from_settings().exporter)
    ]
