"""The ``SIGNAL_TRACING`` setting: defaults, validation and a typed, frozen view of it.

This is the only module that reads ``settings.SIGNAL_TRACING``. Reading never raises: a broken
value falls back to its default here and is reported by the system checks (``checks.py``),
which call :func:`validate` on the same raw value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from signal_tracing.records import Policy

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

    def policy_for(self, signal_path: str) -> Policy:
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
        _is_policy_mapping, 'a dict of signal dotted path -> "span", "count" or "off"'
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
    "JAEGER_URL": _Key(_is_optional_str, "None or a URL such as 'http://localhost:16686'"),
    "EXPORTER": _Key(_is_exporter, 'None, "otlp" or "console"'),
    "SERVICE_NAME": _Key(_is_optional_str, "None or a non-empty string"),
    "EXIT_FLUSH_TIMEOUT": _Key(_is_non_negative_number, "a number of seconds >= 0"),
    "REQUEST_SPANS": _Key(_is_bool, "True or False"),
    "COMMAND_SPANS": _Key(_is_bool, "True or False"),
    "TEST_SPANS": _Key(_is_optional_bool, "None (automatic), True or False"),
}


def validate(raw: object) -> list[Problem]:
    """Return every problem with a raw ``SIGNAL_TRACING`` value, in key order.

    Whether a POLICIES key names a real signal needs imports, so ``checks.py`` does that part.
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
                    "Known keys: " + ", ".join(sorted(KEYS)) + ".",
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
        for path, policy in policies.items():
            if not _is_policy(policy):
                problems.append(
                    Problem(
                        "signal_tracing.E004",
                        f"{SETTING_NAME}['POLICIES'][{path!r}] is {policy!r}, not a policy.",
                        'A policy is "span" (a span per firing), "count" (counted on the '
                        'enclosing span) or "off".',
                    )
                )
    return problems


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
