"""The ``SIGNAL_TRACING`` setting: defaults, validation and a typed, frozen view of it.

This is the only module that reads ``settings.SIGNAL_TRACING``. Reading at start-up never
raises: a broken value falls back to its default here and is reported by the system checks
(``checks.py``), which call :func:`validate` on the same raw value. A value changed at run time
(``override_settings``) goes through :func:`validated_config`, which raises the same messages.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import urlsplit

from signal_tracing.records import Policy

if TYPE_CHECKING:
    from django.dispatch import Signal

SETTING_NAME: Final = "SIGNAL_TRACING"

#: Signals that fire once per model instance built: counted, not one span each.
DEFAULT_POLICIES: Final[Mapping[str, Policy]] = {
    "django.db.models.signals.pre_init": Policy.COUNT,
    "django.db.models.signals.post_init": Policy.COUNT,
}

EXPORTER_CHOICES: Final = (None, "otlp", "console")
#: What becomes of receivers defined by Django itself (module ``django`` or ``django.*``):
#: a span each, names on their firing's span (the default), or that and, when a firing runs
#: only Django's receivers, a count on the enclosing span instead of a span (lean).
DJANGO_RECEIVERS_CHOICES: Final = ("span", "attributes", "count")
SEND_SITE_ATTRIBUTES_CHOICES: Final = ("compact", "full", "off")


@dataclasses.dataclass(frozen=True)
class Config:
    """The effective configuration. Field names are the setting keys in lower case."""

    enabled: bool = True
    policies: Mapping[str, Policy] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_POLICIES)
    )
    default_policy: Policy = Policy.SPAN
    exclude_senders: tuple[str, ...] = ("debug_toolbar.*",)
    exclude_receivers: tuple[str, ...] = ("debug_toolbar.*", "signal_tracing.*")
    exclude_templates: tuple[str, ...] = ("debug_toolbar/*",)
    exclude_request_paths: tuple[str, ...] = ("/__debug__/*",)
    record_kwargs: tuple[str, ...] = ()
    record_exception_messages: bool = False
    max_attribute_length: int = 256
    max_spans_per_trace: int = 1000
    merge_single_receiver: bool = True
    django_receivers: str = "attributes"
    slow_receiver_ms: float = 20.0
    init_flood_threshold: int = 500
    storm_threshold: int = 20
    send_site_attributes: str = "compact"
    jaeger_url: str | None = None
    exporter: str | None = None
    service_name: str | None = None
    exit_flush_timeout: float = 2.0
    request_spans: bool = True
    command_spans: bool = True
    test_spans: bool | None = None

    def policy_for(self, signal: Signal, signal_path: str) -> Policy:
        """Return the policy of ``signal``, whose dotted path is ``signal_path``.

        A ``POLICIES`` key names a signal by any path it can be imported from, or by its short
        name when no other signal has it; it is matched by identity, never by spelling, and
        only in modules already imported. Keys written later win, so the setting's entries
        win over the defaults. Called once per signal (the result is cached with the signal's
        other facts).
        """
        # naming imports Django: not at this module's import (the pytest plugin reads it).
        from signal_tracing.naming import find_loaded, lookup_signal

        short_name = signal_path.rpartition(".")[2]
        for key, policy in list(self.policies.items())[::-1]:
            if key == signal_path:
                return policy
            if "." in key:
                if find_loaded(key) is signal:
                    return policy
            elif key == short_name and lookup_signal(key).signal is signal:
                return policy
        return self.default_policy

    def policy_for_path(self, signal_path: str) -> Policy:
        """Return the policy of the signal at ``signal_path`` in a loaded module (for pages
        that list signals by path); a path that names nothing loaded matches by spelling."""
        from django.dispatch import Signal

        from signal_tracing.naming import find_loaded

        signal = find_loaded(signal_path)
        if isinstance(signal, Signal):
            return self.policy_for(signal, signal_path)
        return self.policies.get(signal_path, self.default_policy)


class Problem(NamedTuple):
    """One thing wrong with the setting, as the system checks report it."""

    check_id: str
    message: str
    hint: str


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_optional_bool(value: object) -> bool:
    return value is None or isinstance(value, bool)


def _is_non_negative_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_positive_int(value: object) -> bool:
    return _is_non_negative_int(value) and value > 0  # type: ignore[operator]


def _is_non_negative_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _is_string_list(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def _is_optional_str(value: object) -> bool:
    return value is None or (isinstance(value, str) and value != "")


def _is_optional_url(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # such as an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_policy(value: object) -> bool:
    return isinstance(value, str) and value in Policy._value2member_map_


def _is_policy_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def _is_exporter(value: object) -> bool:
    return value in EXPORTER_CHOICES


def _is_django_receivers(value: object) -> bool:
    return isinstance(value, str) and value in DJANGO_RECEIVERS_CHOICES


def _is_send_site_attributes(value: object) -> bool:
    return isinstance(value, str) and value in SEND_SITE_ATTRIBUTES_CHOICES


class _Key(NamedTuple):
    accepts: Callable[[object], bool]
    expected: str


#: Every accepted key, what it accepts, and how to say so in an error message.
KEYS: Final[Mapping[str, _Key]] = {
    "ENABLED": _Key(_is_bool, "True or False"),
    "POLICIES": _Key(
        _is_policy_mapping,
        'a dict of signal (dotted path or short name) -> "span", "count" or "off"',
    ),
    "DEFAULT_POLICY": _Key(_is_policy, '"span", "count" or "off"'),
    "EXCLUDE_SENDERS": _Key(_is_string_list, "a list of dotted patterns such as 'myapp.*'"),
    "EXCLUDE_RECEIVERS": _Key(_is_string_list, "a list of dotted patterns such as 'myapp.*'"),
    "EXCLUDE_TEMPLATES": _Key(_is_string_list, "a list of template name patterns"),
    "EXCLUDE_REQUEST_PATHS": _Key(
        _is_string_list, "a list of URL path patterns such as '/health*'"
    ),
    "RECORD_KWARGS": _Key(_is_string_list, "a list of keyword argument names"),
    "RECORD_EXCEPTION_MESSAGES": _Key(_is_bool, "True or False"),
    "MAX_ATTRIBUTE_LENGTH": _Key(_is_positive_int, "a positive integer"),
    "MAX_SPANS_PER_TRACE": _Key(_is_non_negative_int, "an integer >= 0 (0 means no cap)"),
    "MERGE_SINGLE_RECEIVER": _Key(_is_bool, "True or False"),
    "DJANGO_RECEIVERS": _Key(_is_django_receivers, '"span", "attributes" or "count"'),
    "SLOW_RECEIVER_MS": _Key(_is_non_negative_number, "a number of milliseconds >= 0"),
    "INIT_FLOOD_THRESHOLD": _Key(_is_non_negative_int, "an integer >= 0"),
    "STORM_THRESHOLD": _Key(_is_non_negative_int, "an integer >= 0 (0 turns storm reports off)"),
    "SEND_SITE_ATTRIBUTES": _Key(_is_send_site_attributes, '"compact", "full" or "off"'),
    "JAEGER_URL": _Key(
        _is_optional_url, "None or an http(s) URL with a host, such as 'http://localhost:16686'"
    ),
    "EXPORTER": _Key(_is_exporter, 'None, "otlp" or "console"'),
    "SERVICE_NAME": _Key(_is_optional_str, "None or a non-empty string"),
    "EXIT_FLUSH_TIMEOUT": _Key(_is_non_negative_number, "a number of seconds >= 0"),
    "REQUEST_SPANS": _Key(_is_bool, "True or False"),
    "COMMAND_SPANS": _Key(_is_bool, "True or False"),
    "TEST_SPANS": _Key(_is_optional_bool, "None (automatic), True or False"),
}


def validate(raw: object) -> list[Problem]:
    """Return every problem with a raw ``SIGNAL_TRACING`` value, in key order.

    ``POLICIES`` keys are resolved to signals only once the app registry is ready (system
    checks, run-time changes), importing their modules if need be; ``instrument()`` options
    given before ``django.setup()`` get that part checked by the system checks instead.
    """
    if not isinstance(raw, Mapping):
        return [
            Problem(
                "signal_tracing.E001",
                f"{SETTING_NAME} must be a dict, not {type(raw).__name__}.",
                f'Use for example {SETTING_NAME} = {{"ENABLED": True}}.',
            )
        ]
    problems = []
    for key, value in raw.items():
        spec = KEYS.get(key) if isinstance(key, str) else None
        if spec is None:
            problems.append(
                Problem(
                    "signal_tracing.E002",
                    f"{SETTING_NAME} has an unknown key {key!r}.",
                    _unknown_key_hint(key),
                )
            )
        elif not spec.accepts(value):
            problems.append(
                Problem(
                    "signal_tracing.E003",
                    f"{SETTING_NAME}[{key!r}] is {value!r}, which is not valid.",
                    f"{key} must be {spec.expected}.",
                )
            )
    policies = raw.get("POLICIES")
    if isinstance(policies, Mapping):
        for key, policy in policies.items():
            if not _is_policy(policy):
                problems.append(
                    Problem(
                        "signal_tracing.E004",
                        f"{SETTING_NAME}['POLICIES'][{key!r}] is {policy!r}, not a policy.",
                        'A policy is "span" (a span per firing), "count" (counted on the '
                        'enclosing span) or "off".',
                    )
                )
        if _apps_ready():
            problems.extend(_policy_key_problems(policies))
    return problems


def _unknown_key_hint(key: object) -> str:
    from signal_tracing.naming import close_matches, did_you_mean

    close = close_matches(key.upper(), KEYS) if isinstance(key, str) else []
    if close:
        return did_you_mean(close)
    return f"{SETTING_NAME} keys are upper case; see the settings reference for all of them."


def _apps_ready() -> bool:
    from django.apps import apps

    return apps.ready


_KEY_HINT: Final = (
    "A key is a signal's dotted path, any path it can be imported from "
    "('django.db.models.signals.post_init', 'myapp.signals.order_paid'), or the short name "
    "of one signal ('post_init')."
)


def _policy_key_problems(policies: Mapping[Any, object]) -> list[Problem]:
    problems = []
    named_by: dict[int, str] = {}  # id(signal) -> the first key that names it
    for key in policies:
        if not isinstance(key, str):
            problems.append(_key_problem(key, "is not a string", _KEY_HINT))
            continue
        signal, problem = _signal_for_check(key)
        if problem is not None:
            problems.append(problem)
            continue
        other = named_by.setdefault(id(signal), key)
        if other != key:
            problems.append(
                Problem(
                    "signal_tracing.E008",
                    f"{SETTING_NAME}['POLICIES'] keys {other!r} and {key!r} name the same signal.",
                    "Keep one of them: which one wins is not obvious to a reader.",
                )
            )
    return problems


def _signal_for_check(key: str) -> tuple[Signal | None, Problem | None]:
    from signal_tracing.naming import did_you_mean, find_loaded, lookup_signal

    lookup = lookup_signal(key)
    import_error = None
    if lookup.signal is None and lookup.not_imported is not None:
        # The checks import what a key names, as Django imports the paths its settings name;
        # at run time only loaded modules are looked at (importing can send signals).
        from django.utils.module_loading import import_string

        try:
            import_string(key)
        except Exception as error:  # ImportError, or whatever the module raised
            import_error = error
        else:
            lookup = lookup_signal(key)
    if lookup.signal is not None:
        return lookup.signal, None
    if lookup.candidates:
        return None, _key_problem(
            key,
            "is the short name of several signals: " + ", ".join(lookup.candidates),
            "Use the dotted path of the one you mean.",
        )
    found = find_loaded(key) if "." in key else None
    if found is not None:
        problem = f"is a {type(found).__name__}, not a django.dispatch.Signal"
    elif import_error is not None:
        problem = f"cannot be imported ({import_error})"
    else:
        problem = "names no signal"
    hint = did_you_mean(lookup.suggestions) if lookup.suggestions else _KEY_HINT
    return None, _key_problem(key, problem, hint)


def _key_problem(key: object, problem: str, hint: str) -> Problem:
    return Problem(
        "signal_tracing.E005", f"{SETTING_NAME}['POLICIES'] key {key!r} {problem}.", hint
    )


def _converted(key: str, value: Any) -> Any:
    if key == "POLICIES":
        merged = dict(DEFAULT_POLICIES)
        merged.update(
            {
                path: Policy(policy)
                for path, policy in value.items()
                if isinstance(path, str) and _is_policy(policy)
            }
        )
        return merged
    if key == "DEFAULT_POLICY":
        return Policy(value)
    if isinstance(value, list):
        return tuple(value)
    if key in ("SLOW_RECEIVER_MS", "EXIT_FLUSH_TIMEOUT"):
        return float(value)
    return value


def build_config(raw: object, base: Config | None = None) -> Config:
    """Return ``base`` (or the defaults) updated with every valid key of ``raw``.

    Invalid keys and values are skipped: the system checks report them.
    """
    config = base if base is not None else Config()
    if not isinstance(raw, Mapping):
        return config
    changes = {}
    for key, value in raw.items():
        spec = KEYS.get(key) if isinstance(key, str) else None
        if spec is not None and spec.accepts(value):
            changes[key.lower()] = _converted(key, value)
    return dataclasses.replace(config, **changes)


def options_to_setting(options: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``instrument(**options)`` keyword arguments into setting keys, strictly.

    Unlike the setting, code passing options gets an immediate ``TypeError``/``ValueError``.
    """
    setting = {}
    for name, value in options.items():
        key = name.upper()
        if key not in KEYS:
            raise TypeError(
                f"instrument() got an unexpected option {name!r}; "
                f"options are: {', '.join(sorted(k.lower() for k in KEYS))}."
            )
        setting[key] = value
    problems = validate(setting)
    if problems:
        raise ValueError(" ".join(f"{p.message} {p.hint}" for p in problems))
    return setting


def validated_config(raw: object) -> Config:
    """Return the config for a ``SIGNAL_TRACING`` value changed at run time, strictly.

    Raise ``ImproperlyConfigured`` with the system checks' messages if anything is wrong, so
    a bad ``override_settings()`` fails where it is written instead of being ignored.
    """
    problems = validate(raw)
    if problems:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "\n".join(f"({p.check_id}) {p.message}\n\tHINT: {p.hint}" for p in problems)
        )
    return build_config(raw)


def read_setting() -> object:
    """Return the raw ``SIGNAL_TRACING`` value, ``{}`` if unset or if settings aren't ready."""
    from django.conf import settings

    if not settings.configured:
        return {}
    return getattr(settings, SETTING_NAME, {})


def config_from_settings(options: Mapping[str, Any] | None = None) -> Config:
    """Return the effective config: defaults, then the setting, then explicit options."""
    config = build_config(read_setting())
    if options:
        config = build_config(options, config)
    return config
