"""Span attribute keys and span-name formats (the telemetry contract), and values -> attributes.

A built-in signal's keyword arguments become attributes only for that signal (found by
identity, never by the argument's name), each through an extractor that reads identifiers and
sizes, never field values, request data or connection settings; other signals' arguments only
when named in ``RECORD_KWARGS``. Nothing here calls ``repr()``/``str()`` on, or evaluates, an
object of the application's: types are checked with ``type()``, never ``isinstance()`` (which
reads ``__class__`` and so evaluates lazy objects), and other objects are described by type.
Every value is a plain OpenTelemetry value, bounded (see ``MAX_SEQUENCE_ITEMS``,
``MAX_STACKTRACE_LENGTH``). Every key here is listed in ``docs/telemetry.md``; a test keeps the
two in step.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import itertools
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import FunctionType, MethodType
from typing import Any, Final, TypeAlias

from django.apps import AppConfig
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.dispatch import Signal
from django.template.base import Template
from opentelemetry.util.types import AttributeValue

from signal_tracing.naming import BUILTIN_SIGNALS, TRUNCATED_MARK, sender_label, truncate

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

# The exception event of a failed receiver, request or command (OpenTelemetry conventions).
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

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

#: The most items of one sequence attribute (``update_fields``, a list in ``RECORD_KWARGS``);
#: a longer sequence keeps its first ``MAX_SEQUENCE_ITEMS - 1`` items and ends with
#: ``"… N more"``.
MAX_SEQUENCE_ITEMS: Final = 64
#: The most characters of an ``exception.stacktrace``; a longer one keeps its end (the
#: innermost frames and the exception itself) after a leading ``…``.
MAX_STACKTRACE_LENGTH: Final = 16_384
#: The innermost frames kept of each traceback, and the most exceptions of a chain shown.
MAX_STACKTRACE_FRAMES: Final = 64
MAX_CHAINED_EXCEPTIONS: Final = 8
#: How deep a ``setting_changed`` value's dicts, lists, tuples and sets are rendered.
MAX_SETTING_DEPTH: Final = 8

#: Adds the attributes of one keyword argument: ``(sent kwargs, MAX_ATTRIBUTE_LENGTH, into)``.
Extractor: TypeAlias = Callable[[Mapping[str, Any], int, dict[str, AttributeValue]], None]

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_INT_BITS: Final = 256  # wider ints are not turned into text (that takes quadratic time)


def type_description(cls: type) -> str:
    """Describe an object by its type only: ``<myapp.models.Gateway>``."""
    return f"<{cls.__module__}.{cls.__qualname__}>"


def _is_plain_collection(value_type: type) -> bool:
    # Exact builtins only: iterating them runs no code of the application's.
    return value_type is list or value_type is tuple or value_type is set or value_type is frozenset


def _item_text(item: object, limit: int) -> str:
    item_type = type(item)
    if item_type is str:
        return truncate(item, limit)  # type: ignore[arg-type]
    if item is None or item_type is bool or item_type is float:
        return repr(item)
    if item_type is int and item.bit_length() <= _MAX_INT_BITS:  # type: ignore[attr-defined]
        return truncate(repr(item), limit)
    return type_description(item_type)


def _bounded_texts(items: Iterable[object], size: int, limit: int, ordered: bool) -> list[str]:
    """Texts of at most ``MAX_SEQUENCE_ITEMS`` items; ``ordered``: sort them (sets) if whole."""
    if size > MAX_SEQUENCE_ITEMS:
        kept = MAX_SEQUENCE_ITEMS - 1
        texts = [_item_text(item, limit) for item in itertools.islice(items, kept)]
        texts.append(f"{TRUNCATED_MARK} {size - kept} more")
        return texts
    texts = [_item_text(item, limit) for item in items]
    if ordered:
        texts.sort()
    return texts


def plain_value(value: object, limit: int) -> AttributeValue:
    """Return ``value`` as an attribute value, never running the application's code.

    Booleans, floats, 64-bit ints and strings as they are (strings cut at ``limit``); lists,
    tuples and sets of them as a list of strings (at most ``MAX_SEQUENCE_ITEMS``, sets sorted);
    ``None`` as ``"None"``; anything else, subclasses and lazy objects included, as its type.
    """
    value_type = type(value)
    if value_type is bool or value_type is float:
        return value  # type: ignore[return-value]
    if value_type is int and _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
        return value  # type: ignore[return-value]
    if _is_plain_collection(value_type):
        items: Any = value
        return _bounded_texts(
            items, len(items), limit, value_type is set or value_type is frozenset
        )
    return _item_text(value, limit)


# --- one extractor per kind of keyword argument -------------------------------------------------


def _bool(kwarg: str, key: str) -> Extractor:
    def extract(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
        value = named.get(kwarg)
        if type(value) is bool:
            into[key] = value

    return extract


def _str(kwarg: str, key: str) -> Extractor:
    def extract(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
        value = named.get(kwarg)
        if type(value) is str:
            into[key] = truncate(value, limit)

    return extract


def _instance_pk(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    instance = named.get("instance")
    model = type(instance)
    if not issubclass(model, Model):
        return
    pk_field = model._meta.pk
    if pk_field is None:
        return
    # The pk as stored on the instance: reading ``instance.pk`` could load a deferred field.
    pk: Any = vars(instance).get(pk_field.attname)
    pk_type = type(pk)
    if pk_type is int and _INT64_MIN <= pk <= _INT64_MAX:
        into[KWARG_INSTANCE_PK] = pk
    elif pk_type is str:
        into[KWARG_INSTANCE_PK] = truncate(pk, limit)
    elif pk_type is uuid.UUID:
        into[KWARG_INSTANCE_PK] = str(pk)


def _update_fields(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    fields: Any = named.get("update_fields")
    if _is_plain_collection(type(fields)):
        into[KWARG_UPDATE_FIELDS] = _bounded_texts(fields, len(fields), limit, ordered=True)


def _m2m_model(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    model = named.get("model")
    if issubclass(type(model), type):
        into[KWARG_M2M_MODEL] = truncate(sender_label(model), limit)


def _pk_set(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    pk_set: Any = named.get("pk_set")
    if _is_plain_collection(type(pk_set)):
        into[KWARG_M2M_PK_SET_SIZE] = len(pk_set)


def _app_label(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    app_config = named.get("app_config")
    if issubclass(type(app_config), AppConfig):
        label = getattr(app_config, "label", None)
        if type(label) is str:
            into[KWARG_APP_LABEL] = truncate(label, limit)


def _plan(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    plan = named.get("plan")
    if type(plan) is list:
        into[KWARG_PLAN_SIZE] = len(plan)


def _connection(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    connection = named.get("connection")
    if not issubclass(type(connection), BaseDatabaseWrapper):
        return
    # Vendor and alias only: settings_dict holds host, user and password.
    vendor = getattr(connection, "vendor", None)
    alias = getattr(connection, "alias", None)
    if type(vendor) is str:
        into[DB_SYSTEM] = into[DB_SYSTEM_NAME] = truncate(vendor, limit)
    if type(alias) is str:
        into[DB_ALIAS] = truncate(alias, limit)


def template_name(value: object) -> str | None:
    """Return a template's name (``None`` for string templates), for exclusion matching."""
    if not issubclass(type(value), Template):
        return None
    name = getattr(value, "name", None)
    return name if type(name) is str else None


def _template(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    name = template_name(named.get("template"))
    if name is not None:
        into[KWARG_TEMPLATE] = truncate(name, limit)


def _setting(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
    setting = named.get("setting")
    if type(setting) is not str:
        return
    into[KWARG_SETTING] = truncate(setting, limit)
    if "value" in named:
        into[KWARG_SETTING_VALUE] = cleanse_setting_value(setting, named["value"], limit)
    enter = named.get("enter")
    if type(enter) is bool:
        into[KWARG_SETTING_ENTER] = enter


def _opted_in(kwarg: str) -> Extractor:
    key = KWARG_PREFIX + kwarg

    def extract(named: Mapping[str, Any], limit: int, into: dict[str, AttributeValue]) -> None:
        if kwarg in named:
            into[key] = plain_value(named[kwarg], limit)

    return extract


_USING: Final = _str("using", KWARG_USING)
_SAVE: Final = (_instance_pk, _bool("raw", KWARG_RAW), _USING, _update_fields)
_MIGRATE: Final = (_app_label, _USING, _plan)

#: What is recorded of each built-in signal's keyword arguments, by its documented path. Only
#: the signal itself gets these: another signal sending ``action=`` or ``using=`` gets nothing.
BUILTIN_KWARGS: Final[Mapping[str, tuple[Extractor, ...]]] = {
    "django.db.models.signals.post_init": (_instance_pk,),
    "django.db.models.signals.pre_save": _SAVE,
    "django.db.models.signals.post_save": (*_SAVE, _bool("created", KWARG_CREATED)),
    "django.db.models.signals.pre_delete": (_instance_pk, _USING),
    "django.db.models.signals.post_delete": (_instance_pk, _USING),
    "django.db.models.signals.m2m_changed": (
        _str("action", KWARG_M2M_ACTION),
        _instance_pk,
        _bool("reverse", KWARG_M2M_REVERSE),
        _m2m_model,
        _pk_set,
        _USING,
    ),
    "django.db.models.signals.pre_migrate": _MIGRATE,
    "django.db.models.signals.post_migrate": _MIGRATE,
    "django.test.signals.setting_changed": (_setting,),
    "django.test.signals.template_rendered": (_template,),
    "django.db.backends.signals.connection_created": (_connection,),
}


def _builtin_path(signal: Signal) -> str | None:
    # By identity, in modules already imported (a built-in signal exists only once its
    # module is): a signal of the project's own is never taken for one of Django's.
    for module_name, attribute, path in BUILTIN_SIGNALS:
        module = sys.modules.get(module_name)
        if module is not None and vars(module).get(attribute) is signal:
            return path
    return None


def kwargs_extractors(signal: Signal, record_kwargs: tuple[str, ...]) -> tuple[Extractor, ...]:
    """Return what records ``signal``'s keyword arguments, to compute once per signal.

    One of Django's built-in signals gets its own allow-list (:data:`BUILTIN_KWARGS`, which
    ``RECORD_KWARGS`` does not extend); any other signal the ``RECORD_KWARGS`` names only.
    """
    path = _builtin_path(signal)
    if path is not None:
        return BUILTIN_KWARGS.get(path, ())
    return tuple(_opted_in(kwarg) for kwarg in dict.fromkeys(record_kwargs))


def kwargs_attributes(
    named: Mapping[str, Any], extractors: tuple[Extractor, ...], limit: int
) -> dict[str, AttributeValue]:
    """Return the attributes of a firing's keyword arguments, by its signal's extractors."""
    attributes: dict[str, AttributeValue] = {}
    for extract in extractors:
        extract(named, limit, attributes)
    return attributes


# --- setting_changed values ---------------------------------------------------------------------


@functools.cache
def _hidden_settings() -> re.Pattern[str]:
    from django.views.debug import SafeExceptionReporterFilter

    return SafeExceptionReporterFilter.hidden_settings


class _Full(Exception):
    """The rendering reached its length limit: stop walking the value."""


class _Rendering:
    __slots__ = ("budget", "parts")

    def __init__(self, budget: int) -> None:
        self.parts: list[str] = []
        self.budget = budget

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.budget -= len(text)
        if self.budget < 0:
            raise _Full


def cleanse_setting_value(setting: str, value: object, limit: int) -> str:
    """Return a setting's value as Django's error reporter shows it, never running app code.

    Secrets are replaced as ``SafeExceptionReporterFilter`` replaces them (by the setting's
    name, and inside dicts by each key). A string is shown as it is; numbers, booleans,
    ``None`` and dicts, lists, tuples and sets of these are rendered like ``repr()``, up to
    ``limit`` characters, so a huge value costs no more than a small one; classes and
    functions by their dotted name; any other object by its type (``<myapp.gateways.Gateway>``).
    """
    hidden = _hidden_settings()
    if hidden.search(setting):
        return truncate(REDACTED, limit)
    if type(value) is str:
        return truncate(value, limit)  # as it is; quoted inside containers only
    rendering = _Rendering(limit)
    with contextlib.suppress(_Full):
        _render(value, hidden, rendering, MAX_SETTING_DEPTH)
    return truncate("".join(rendering.parts), limit)


def _render(value: object, hidden: re.Pattern[str], into: _Rendering, depth: int) -> None:
    value_type = type(value)
    if value_type is str:
        text: Any = value
        into.add(repr(text[: into.budget + 1]))  # a longer string overflows the budget anyway
    elif value is None or value_type is bool or value_type is float:
        into.add(repr(value))
    elif value_type is int:
        into.add(_item_text(value, into.budget + 1))
    elif issubclass(value_type, type) or value_type is FunctionType or value_type is MethodType:
        into.add(sender_label(value))
    elif not issubclass(value_type, (dict, list, tuple, set, frozenset)):
        into.add(type_description(value_type))
    elif depth == 0:
        into.add(TRUNCATED_MARK)
    elif issubclass(value_type, dict):
        # dict.items(), list.__iter__() and so on read the builtin storage directly: a
        # subclass's overrides (the application's code) never run.
        into.add("{")
        entries: Any = dict.items(value)  # type: ignore[arg-type]
        for index, (key, item) in enumerate(entries):
            if index:
                into.add(", ")
            _render(key, hidden, into, 0)
            into.add(": ")
            if issubclass(type(key), str) and hidden.search(key):
                into.add(repr(REDACTED))
            else:
                _render(item, hidden, into, depth - 1)
        into.add("}")
    else:
        _render_items(value, value_type, hidden, into, depth)


def _render_items(
    value: Any, value_type: type, hidden: re.Pattern[str], into: _Rendering, depth: int
) -> None:
    if issubclass(value_type, list):
        opening, closing, items = "[", "]", list.__iter__(value)
    elif issubclass(value_type, tuple):
        opening, closing, items = (
            "(",
            ",)" if tuple.__len__(value) == 1 else ")",
            tuple.__iter__(value),
        )
    elif issubclass(value_type, set):
        opening, closing, items = "{", "}", set.__iter__(value)
    else:
        opening, closing, items = "frozenset({", "})", frozenset.__iter__(value)
    if issubclass(value_type, (set, frozenset)) and not len(value):
        into.add("set()" if issubclass(value_type, set) else "frozenset()")
        return
    into.add(opening)
    for index, item in enumerate(items):
        if index:
            into.add(", ")
        _render(item, hidden, into, depth - 1)
    into.add(closing)


# --- exceptions ---------------------------------------------------------------------------------

#: What joins chained exceptions in a stack trace, as ``traceback`` prints it.
_CHAIN_LINES: Final = (
    "\nThe above exception was the direct cause of the following exception:\n\n",
    "\nDuring handling of the above exception, another exception occurred:\n\n",
)


def exception_attributes(
    error: BaseException, *, record_message: bool, limit: int
) -> dict[str, AttributeValue]:
    """Return the attributes of an ``exception`` event for ``error``: bounded, never raising.

    The message (``str(error)``, the one call into an object of the application's, made only
    when ``RECORD_EXCEPTION_MESSAGES`` asks for it) is cut at ``limit`` characters, as are the
    messages of chained exceptions in the stack trace; the stack trace keeps the innermost
    ``MAX_STACKTRACE_FRAMES`` frames of each exception and at most ``MAX_STACKTRACE_LENGTH``
    characters. Whatever cannot be read is left out: the event is still recorded.
    """
    error_type = f"{type(error).__module__}.{type(error).__qualname__}"
    attributes: dict[str, AttributeValue] = {EXCEPTION_TYPE: error_type}
    try:
        if record_message:
            attributes[EXCEPTION_MESSAGE] = _exception_message(error, limit)
        attributes[EXCEPTION_STACKTRACE] = _stacktrace(error, record_message, limit)
    except Exception:
        pass
    return attributes


def _exception_message(error: BaseException, limit: int) -> str:
    try:
        message = str(error)
    except Exception:
        return "<exception str() failed>"
    # str() returns whatever __str__ returned if it is a str: a subclass is copied as text.
    return truncate(str.__str__(message), limit)


def _stacktrace(error: BaseException, record_message: bool, limit: int) -> str:
    lines: list[str] = []
    for exception, link in _chain(error):
        summary = traceback.StackSummary.extract(
            traceback.walk_tb(exception.__traceback__), limit=-MAX_STACKTRACE_FRAMES
        )
        if summary:
            lines.append("Traceback (most recent call last):\n")
            lines.extend(summary.format())
        last = f"{type(exception).__module__}.{type(exception).__qualname__}"
        if record_message:
            last += f": {_exception_message(exception, limit)}"
        lines.append(last + "\n")
        lines.append(link)
    text = "".join(lines)
    if len(text) > MAX_STACKTRACE_LENGTH:
        text = TRUNCATED_MARK + text[len(text) - MAX_STACKTRACE_LENGTH + 1 :]
    return text


def _chain(error: BaseException) -> list[tuple[BaseException, str]]:
    """``error`` and the exceptions it was raised from or while handling, outermost first,
    each with the line that joins it to the next (as ``traceback`` prints them)."""
    chain = [(error, "")]
    seen = {id(error)}
    current = error
    while len(chain) < MAX_CHAINED_EXCEPTIONS:
        if current.__cause__ is not None:
            following, link = current.__cause__, _CHAIN_LINES[0]
        elif current.__context__ is not None and not current.__suppress_context__:
            following, link = current.__context__, _CHAIN_LINES[1]
        else:
            break
        if id(following) in seen:
            break
        seen.add(id(following))
        chain.append((following, link))
        current = following
    chain.reverse()
    return chain


def matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    """Return whether a dotted name matches one of the fnmatch-style patterns."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
