"""Span attribute keys and span-name formats (the telemetry contract), and kwargs -> attributes.

Only allow-listed keyword arguments become attributes, each through an extractor that reads
identifiers and sizes, never field values, request data or connection settings. Every key
here is listed in ``docs/telemetry.md``; a test keeps the two in step.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from django.apps import AppConfig
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.template.base import Template
from opentelemetry.util.types import AttributeValue

from signal_tracing.naming import sender_label, truncate

# Dispatch (firing) attributes.
SIGNAL_NAME: Final = "django.signal.name"
SIGNAL_PATH: Final = "django.signal.path"
SIGNAL_SENDER: Final = "django.signal.sender"
SIGNAL_METHOD: Final = "django.signal.method"
SIGNAL_RECEIVERS: Final = "django.signal.receivers"
SIGNAL_RECEIVERS_NOT_RUN: Final = "django.signal.receivers.not_run"
SIGNAL_RECEIVERS_FAILED: Final = "django.signal.receivers.failed"
#: Receivers defined by Django itself that ran without a span of their own (DJANGO_RECEIVERS).
SIGNAL_RECEIVERS_DJANGO: Final = "django.signal.receivers.django"
SIGNAL_RECEIVERS_DJANGO_COUNT: Final = "django.signal.receivers.django.count"
SIGNAL_DEPTH: Final = "django.signal.depth"
SIGNAL_REENTRANT: Final = "django.signal.reentrant"
SIGNAL_COUNTS: Final = "django.signal.counts"
SIGNAL_COUNTS_TOTAL: Final = "django.signal.counts.total"
SPANS_DROPPED: Final = "django.signal.spans_dropped"

# Allow-listed kwargs of Django's built-in signals.
KWARG_CREATED: Final = "django.signal.created"
KWARG_RAW: Final = "django.signal.raw"
KWARG_USING: Final = "django.signal.using"
KWARG_UPDATE_FIELDS: Final = "django.signal.update_fields"
KWARG_INSTANCE_PK: Final = "django.signal.instance.pk"
KWARG_M2M_ACTION: Final = "django.signal.m2m.action"
KWARG_M2M_MODEL: Final = "django.signal.m2m.model"
KWARG_M2M_REVERSE: Final = "django.signal.m2m.reverse"
KWARG_M2M_PK_SET_SIZE: Final = "django.signal.m2m.pk_set.size"
KWARG_APP_LABEL: Final = "django.signal.app_label"
KWARG_PLAN_SIZE: Final = "django.signal.migrate.plan.size"
KWARG_SETTING: Final = "django.signal.setting.name"
KWARG_SETTING_VALUE: Final = "django.signal.setting.value"
KWARG_SETTING_ENTER: Final = "django.signal.setting.enter"
KWARG_TEMPLATE: Final = "django.signal.template.name"
DB_SYSTEM: Final = "db.system"
DB_SYSTEM_NAME: Final = "db.system.name"
DB_ALIAS: Final = "django.db.alias"
#: Prefix for kwargs opted in by name through ``RECORD_KWARGS``.
KWARG_PREFIX: Final = "django.signal.kwargs."

# Where a firing came from (signal_tracing.origins). SEND_SITE_ATTRIBUTES "compact": one
# attribute, "sms/views.py:42 in bulk_resend"; "full": the code.* keys under our own prefix,
# because a merged span's code.* keys are its receiver's.
SEND_SITE: Final = "django.signal.send_site"
SEND_SITE_FILE_PATH: Final = "django.signal.send_site.file.path"
SEND_SITE_LINE_NUMBER: Final = "django.signal.send_site.line.number"
SEND_SITE_FUNCTION_NAME: Final = "django.signal.send_site.function.name"
#: Model signals: the firing ran inside ``transaction.atomic()`` on its ``using`` database.
IN_ATOMIC_BLOCK: Final = "django.signal.in_atomic_block"
# A signal storm (signal_tracing.storms): an event on the request, command or test span.
STORM_EVENT: Final = "django.signal.storm"
STORM_COUNT: Final = "django.signal.storm.count"
STORM_DURATION: Final = "django.signal.storm.duration"
STORM_THRESHOLD: Final = "django.signal.storm.threshold"

# Receiver attributes (OpenTelemetry semantic conventions for code, plus our own).
CODE_FUNCTION_NAME: Final = "code.function.name"
CODE_FILE_PATH: Final = "code.file.path"
CODE_LINE_NUMBER: Final = "code.line.number"
RECEIVER_ASYNC: Final = "django.signal.receiver.async"
RECEIVER_OUTCOME: Final = "django.signal.receiver.outcome"
ERROR_TYPE: Final = "error.type"

# Span names. Both parts are low-cardinality: signal names and receiver code paths.
DISPATCH_SPAN_NAME: Final = "{signal} {method}"
RECEIVER_SPAN_NAME: Final = "{receiver}"
MERGED_SPAN_NAME: Final = "{signal} {receiver}"

# Lifecycle scopes: the request, management command, test and start-up spans that firings
# nest under (signal_tracing.lifecycle). HTTP and test keys follow the OpenTelemetry semantic
# conventions; nothing from the query string, headers, cookies or the environ is recorded.
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_REQUEST_METHOD_ORIGINAL: Final = "http.request.method_original"
HTTP_ROUTE: Final = "http.route"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
URL_SCHEME: Final = "url.scheme"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
NETWORK_PROTOCOL_VERSION: Final = "network.protocol.version"
RESPONSE_STREAMING: Final = "django.response.streaming"
REQUEST_CANCELLED: Final = "django.request.cancelled"
REQUEST_ABANDONED: Final = "django.request.abandoned"
COMMAND_NAME: Final = "django.command.name"
TEST_CASE_NAME: Final = "test.case.name"
TEST_CASE_RESULT_STATUS: Final = "test.case.result.status"
STARTUP_OBSERVED: Final = "django.startup.observed"
STARTUP_MODELS: Final = "django.startup.models"
STARTUP_MODELS_COUNT: Final = "django.startup.models.count"

#: ``"GET"`` until the URL is resolved, then ``"GET articles/<int:year>/"``.
REQUEST_SPAN_NAME: Final = "{method} {route}"
COMMAND_SPAN_NAME: Final = "manage.py {command}"
#: The test's id: a pytest node id or a unittest id.
TEST_SPAN_NAME: Final = "{test}"
STARTUP_SPAN_NAME: Final = "django.setup"

REDACTED: Final = "********************"


def _pk_text(pk: object, limit: int) -> str | int | None:
    if pk is None:
        return None
    if isinstance(pk, int) and not isinstance(pk, bool):
        return pk
    if isinstance(pk, (str, uuid.UUID)):
        return truncate(str(pk), limit)
    return None


def _instance(value: object, limit: int) -> dict[str, AttributeValue]:
    # Only Django models have a pk we can read without side effects.
    if not isinstance(value, Model):
        return {}
    pk = _pk_text(value.pk, limit)
    return {} if pk is None else {KWARG_INSTANCE_PK: pk}


def _bool(key: str) -> Callable[[object, int], dict[str, AttributeValue]]:
    def extract(value: object, limit: int) -> dict[str, AttributeValue]:
        return {key: value} if isinstance(value, bool) else {}

    return extract


def _str(key: str) -> Callable[[object, int], dict[str, AttributeValue]]:
    def extract(value: object, limit: int) -> dict[str, AttributeValue]:
        return {key: truncate(value, limit)} if isinstance(value, str) else {}

    return extract


def _update_fields(value: object, limit: int) -> dict[str, AttributeValue]:
    if not isinstance(value, (frozenset, set, list, tuple)):
        return {}
    names = sorted(truncate(name, limit) for name in value if isinstance(name, str))
    return {KWARG_UPDATE_FIELDS: names}


def _model(value: object, limit: int) -> dict[str, AttributeValue]:
    return {KWARG_M2M_MODEL: sender_label(value)} if isinstance(value, type) else {}


def _pk_set(value: object, limit: int) -> dict[str, AttributeValue]:
    if isinstance(value, (set, frozenset, list, tuple)):
        return {KWARG_M2M_PK_SET_SIZE: len(value)}
    return {}


def _app_config(value: object, limit: int) -> dict[str, AttributeValue]:
    if isinstance(value, AppConfig) and isinstance(value.label, str):
        return {KWARG_APP_LABEL: value.label}
    return {}


def _plan(value: object, limit: int) -> dict[str, AttributeValue]:
    return {KWARG_PLAN_SIZE: len(value)} if isinstance(value, list) else {}


def _connection(value: object, limit: int) -> dict[str, AttributeValue]:
    if not isinstance(value, BaseDatabaseWrapper):
        return {}
    # Vendor and alias only: settings_dict holds host, user and password.
    return {DB_SYSTEM: value.vendor, DB_SYSTEM_NAME: value.vendor, DB_ALIAS: value.alias}


def _template(value: object, limit: int) -> dict[str, AttributeValue]:
    name = getattr(value, "name", None) if _is_template(value) else None
    return {KWARG_TEMPLATE: truncate(name, limit)} if isinstance(name, str) else {}


def _is_template(value: object) -> bool:
    return isinstance(value, Template)


def template_name(value: object) -> str | None:
    """Return a template's name (``None`` for string templates), for exclusion matching."""
    name = getattr(value, "name", None) if _is_template(value) else None
    return name if isinstance(name, str) else None


def cleanse_setting_value(setting: str, value: object, limit: int) -> str:
    """Return a setting's value as Django's error reporter would show it, truncated."""
    from django.views.debug import SafeExceptionReporterFilter

    cleansed = SafeExceptionReporterFilter().cleanse_setting(setting, value)
    if isinstance(cleansed, (str, int, float, bool)) or cleansed is None:
        return truncate(str(cleansed), limit)
    if isinstance(cleansed, (dict, list, tuple)):
        try:
            return truncate(repr(cleansed), limit)
        except Exception:
            return f"<{type(cleansed).__name__}>"
    return f"<{type(cleansed).__module__}.{type(cleansed).__qualname__}>"


_EXTRACTORS: Final[Mapping[str, Callable[[object, int], dict[str, AttributeValue]]]] = {
    "created": _bool(KWARG_CREATED),
    "raw": _bool(KWARG_RAW),
    "using": _str(KWARG_USING),
    "update_fields": _update_fields,
    "instance": _instance,
    "action": _str(KWARG_M2M_ACTION),
    "model": _model,
    "reverse": _bool(KWARG_M2M_REVERSE),
    "pk_set": _pk_set,
    "app_config": _app_config,
    "plan": _plan,
    "connection": _connection,
    "template": _template,
    "setting": _str(KWARG_SETTING),
    "enter": _bool(KWARG_SETTING_ENTER),
}


def _opted_in_value(value: object, limit: int) -> AttributeValue:
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return truncate(value, limit)
    if isinstance(value, (list, tuple, set, frozenset)) and all(
        isinstance(item, (str, int, float, bool)) for item in value
    ):
        return [truncate(str(item), limit) for item in value]
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def kwargs_attributes(
    named: Mapping[str, Any], limit: int, record_kwargs: tuple[str, ...]
) -> dict[str, AttributeValue]:
    """Return the privacy-safe attributes for a firing's keyword arguments."""
    attributes: dict[str, AttributeValue] = {}
    for key, value in named.items():
        extractor = _EXTRACTORS.get(key)
        if extractor is not None:
            attributes.update(extractor(value, limit))
        elif key in record_kwargs:
            attributes[KWARG_PREFIX + key] = _opted_in_value(value, limit)
    if "setting" in named and isinstance(named["setting"], str) and "value" in named:
        attributes[KWARG_SETTING_VALUE] = cleanse_setting_value(
            named["setting"], named["value"], limit
        )
    return attributes


def matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    """Return whether a dotted name matches one of the fnmatch-style patterns."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
