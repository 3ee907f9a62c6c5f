"""Only privacy-safe, plain and bounded values become span attributes.

Built-in signals' keyword arguments are read only for the signal they belong to; nothing of
the application's is evaluated, ``repr()``'d or ``str()``'d to get there.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from django.core.signals import setting_changed
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models.signals import (
    class_prepared,
    m2m_changed,
    post_delete,
    post_init,
    post_migrate,
    post_save,
    pre_init,
    pre_save,
)
from django.dispatch import Signal
from django.template import Template
from django.test.signals import template_rendered
from django.utils.functional import SimpleLazyObject

from signal_tracing.attributes import (
    MAX_CHAINED_EXCEPTIONS,
    MAX_SEQUENCE_ITEMS,
    MAX_STACKTRACE_LENGTH,
    cleanse_setting_value,
    exception_attributes,
    kwargs_attributes,
    kwargs_extractors,
    matches_any,
    plain_value,
    template_name,
)
from signal_tracing.naming import TRUNCATED_MARK
from tests.testapp.models import Author, ExplodingRepr

audit = Signal()


def attributes(
    signal: Signal, record_kwargs: tuple[str, ...] = (), limit: int = 64, **named: Any
) -> dict[str, Any]:
    result = kwargs_attributes(named, kwargs_extractors(signal, record_kwargs), limit)
    assert_plain(result)
    return result


def assert_plain(attributes: Mapping[str, Any]) -> None:
    """Every value is one OpenTelemetry accepts: str, bool, int, float or a list of one type."""
    for key, value in attributes.items():
        if type(value) is list:
            assert len({type(item) for item in value}) <= 1, key
            assert all(type(item) in (str, bool, int, float) for item in value), key
        else:
            assert type(value) in (str, bool, int, float), (key, type(value))


class Hostile:
    """An application object the tracer must never call into."""

    calls = 0

    def __repr__(self) -> str:
        Hostile.calls += 1
        time.sleep(2)
        return "slow"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        Hostile.calls += 1
        return False

    __hash__ = object.__hash__


@pytest.fixture
def hostile() -> Hostile:
    Hostile.calls = 0
    return Hostile()


class Evaluations:
    """Lazy objects whose evaluation is counted."""

    def __init__(self) -> None:
        self.count = 0

    def lazy(self, value: object) -> SimpleLazyObject:
        def evaluate() -> object:
            self.count += 1
            return value

        return SimpleLazyObject(evaluate)


# --- built-in kwargs, for the built-in signal only ---------------------------------------------


def test_model_signal_kwargs_keep_identifiers_never_field_values() -> None:
    author = Author(pk=7, name="Secret Person 13800138000")
    assert attributes(
        post_save,
        instance=author,
        created=True,
        raw=False,
        using="default",
        update_fields=frozenset({"name", "email"}),
    ) == {
        "django.signal.instance.pk": 7,
        "django.signal.created": True,
        "django.signal.raw": False,
        "django.signal.using": "default",
        "django.signal.update_fields": ["email", "name"],
    }


@pytest.mark.parametrize(
    ("pk", "recorded"),
    [
        ("sku-" + "9" * 100, {"django.signal.instance.pk": "sku-" + "9" * 59 + "…"}),
        (
            uuid.UUID(int=1),
            {"django.signal.instance.pk": "00000000-0000-0000-0000-000000000001"},
        ),
        (2**70, {}),  # not an OpenTelemetry int
        (None, {}),  # not saved yet
        (7.5, {}),  # whatever else the field holds is left out
    ],
)
def test_instance_pks_are_recorded_only_when_plain(pk: Any, recorded: dict[str, Any]) -> None:
    assert attributes(post_init, instance=Author(pk=pk)) == recorded


@pytest.mark.parametrize(
    ("signal", "named"),
    [
        (post_init, {"instance": "not a model instance"}),
        (setting_changed, {"setting": 42, "value": "secret", "enter": True}),
        (m2m_changed, {"model": "not a class", "pk_set": "123", "reverse": "yes"}),
        (post_migrate, {"app_config": "testapp", "plan": (1, 2)}),
        (connection_created, {"connection": "postgres://user:pw@host/db"}),
        (template_rendered, {"template": "secret.html"}),
        (post_save, {"update_fields": "name", "created": 1, "using": None}),
    ],
)
def test_built_in_signals_sent_by_hand_with_other_types_record_none_of_them(
    signal: Signal, named: dict[str, Any]
) -> None:
    assert attributes(signal, **named) == {}


def test_a_custom_signal_records_none_of_the_built_in_kwarg_names() -> None:
    # The audit signal: these are the values that leaked by name.
    sent = {
        "action": "emailed reset link to alice@example.com",
        "setting": "recovery_phone",
        "value": "+86 13800138000",
        "using": "tok_live_abc123",
        "created": True,
        "update_fields": ["password"],
        "template": Template("x"),
        "enter": True,
    }
    assert attributes(audit, **sent) == {}


def test_a_custom_signal_records_what_record_kwargs_names_under_its_own_prefix() -> None:
    assert attributes(audit, ("action", "size"), action="reset", size=3, using="tok") == {
        "django.signal.kwargs.action": "reset",
        "django.signal.kwargs.size": 3,
    }


def test_built_in_kwargs_are_read_only_for_the_signal_that_sends_them() -> None:
    # pre_save has no "created", post_delete no "update_fields", post_save no m2m "action".
    assert attributes(pre_save, created=True, using="default") == {"django.signal.using": "default"}
    assert attributes(post_delete, update_fields=["name"]) == {}
    assert attributes(post_save, action="post_add") == {}
    assert attributes(class_prepared, using="default") == {}


def test_record_kwargs_never_extends_a_built_in_signal() -> None:
    # setting_changed's raw value, pre_init's field values: never, even when named.
    assert attributes(setting_changed, ("value",), setting="SECRET_KEY", value="s3cr3t") == {
        "django.signal.setting.name": "SECRET_KEY",
        "django.signal.setting.value": "********************",
    }
    assert attributes(pre_init, ("args", "kwargs"), args=("Alice",), kwargs={"n": 1}) == {}


def test_instances_whose_repr_and_str_explode_are_read_safely() -> None:
    assert attributes(post_save, instance=ExplodingRepr(pk=3, name="x")) == {
        "django.signal.instance.pk": 3
    }
    assert attributes(post_save, instance=ExplodingRepr(name="unsaved")) == {}
    key = uuid.UUID(int=5)
    assert attributes(post_init, instance=Author(pk=key)) == {  # type: ignore[misc]
        "django.signal.instance.pk": str(key)
    }


def test_m2m_changed_records_action_model_and_only_the_size_of_pk_set() -> None:
    assert attributes(
        m2m_changed, action="post_add", model=Author, reverse=False, pk_set={1, 2, 3}
    ) == {
        "django.signal.m2m.action": "post_add",
        "django.signal.m2m.model": "testapp.Author",
        "django.signal.m2m.reverse": False,
        "django.signal.m2m.pk_set.size": 3,
    }


def test_migrate_signals_record_the_app_label_and_plan_size_never_the_objects() -> None:
    from django.apps import apps

    result = attributes(
        post_migrate, app_config=apps.get_app_config("testapp"), plan=[1, 2], apps=apps
    )
    assert result == {"django.signal.app_label": "testapp", "django.signal.migrate.plan.size": 2}


@pytest.mark.django_db
def test_connection_created_records_vendor_and_alias_never_settings() -> None:
    # connection_created sends the wrapper itself (not django.db.connection, a proxy).
    wrapper = connections["default"]
    result = attributes(connection_created, connection=wrapper)
    assert result == {
        "db.system": wrapper.vendor,
        "db.system.name": wrapper.vendor,
        "django.db.alias": "default",
    }
    exported = repr(result)
    for key in ("PASSWORD", "HOST", "PORT"):
        value = str(wrapper.settings_dict.get(key) or "")
        assert not value or value not in exported


def test_template_rendered_records_the_name_never_the_context() -> None:
    template = Template("{{ secret }}")
    template.name = "shop/checkout.html"
    result = attributes(template_rendered, template=template, context={"secret": "card 4111"})
    assert result == {"django.signal.template.name": "shop/checkout.html"}
    assert template_name(template) == "shop/checkout.html"
    assert template_name("not a template") is None


# --- setting_changed values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("SECRET_KEY", "s3cr3t", "********************"),
        (
            "DATABASES",
            {"default": {"PASSWORD": "hunter2", "NAME": "db"}},
            "{'default': {'PASSWORD': '********************', 'NAME': 'db'}}",
        ),
        ("API_TOKEN", "abc", "********************"),
        ("DEBUG", True, "True"),
        ("ALLOWED_HOSTS", ["a", 1, 2.5, None, ("b",)], "['a', 1, 2.5, None, ('b',)]"),
        ("CACHES", [{"KEY_PREFIX": "x"}], "[{'KEY_PREFIX': '********************'}]"),
        ("IDS", {1, 2}, "{1, 2}"),
        ("EMPTY", (set(), frozenset(), {}, []), "(set(), frozenset(), {}, [])"),
    ],
)
def test_setting_changed_values_are_cleansed_like_the_error_reporter(
    setting: str, value: object, expected: str
) -> None:
    result = attributes(setting_changed, limit=256, setting=setting, value=value, enter=True)
    assert result == {
        "django.signal.setting.name": setting,
        "django.signal.setting.value": expected,
        "django.signal.setting.enter": True,
    }


def test_setting_values_never_call_into_application_objects(hostile: Hostile) -> None:
    evaluations = Evaluations()
    value = {"gateway": hostile, "items": [hostile, evaluations.lazy("x")], "cls": Author}
    started = time.perf_counter()
    text = cleanse_setting_value("PAYMENTS", value, 256)
    assert time.perf_counter() - started < 0.5
    assert (hostile.calls, evaluations.count) == (0, 0)
    assert text == (
        "{'gateway': <tests.test_attributes.Hostile>, "
        "'items': [<tests.test_attributes.Hostile>, "
        "<django.utils.functional.SimpleLazyObject>], 'cls': testapp.Author}"
    )


def test_cleansed_values_are_truncated_and_cost_no_more_than_the_limit() -> None:
    assert len(cleanse_setting_value("ALLOWED_HOSTS", ["a" * 50], 20)) == 20
    huge = ["x" * 1000] * 1_000_000
    started = time.perf_counter()
    text = cleanse_setting_value("HOSTS", huge, 256)
    assert time.perf_counter() - started < 0.05
    assert len(text) == 256
    assert text.endswith("…")
    nested: list[Any] = []
    nested.append(nested)  # a list that holds itself
    assert cleanse_setting_value("LOOP", nested, 256) == "[[[[[[[[…]]]]]]]]"


# --- values the application chose to record -----------------------------------------------------


def test_opted_in_values_are_plain_and_others_are_described_by_type() -> None:
    opted_in = attributes(
        audit,
        ("toppings", "size", "box", "ratio", "none", "ids"),
        toppings=["ham", 1],
        size="L",
        box=object(),
        ratio=0.5,
        none=None,
        ids=frozenset({3, 1, 2}),
    )
    assert opted_in == {
        "django.signal.kwargs.toppings": ["ham", "1"],
        "django.signal.kwargs.size": "L",
        "django.signal.kwargs.box": "<builtins.object>",
        "django.signal.kwargs.ratio": 0.5,
        "django.signal.kwargs.none": "None",
        "django.signal.kwargs.ids": ["1", "2", "3"],
    }


def test_lazy_objects_are_never_evaluated_and_never_stored(hostile: Hostile) -> None:
    evaluations = Evaluations()
    lazy_author = evaluations.lazy(Author(pk=1))
    sent = {"using": evaluations.lazy("default"), "instance": lazy_author, "raw": False}
    assert attributes(post_save, **sent) == {"django.signal.raw": False}
    opted_in = attributes(
        audit,
        ("who", "tags", "slow"),
        who=evaluations.lazy("alice"),
        tags=[evaluations.lazy("x"), hostile],
        slow=hostile,
    )
    assert opted_in == {
        "django.signal.kwargs.who": "<django.utils.functional.SimpleLazyObject>",
        "django.signal.kwargs.tags": [
            "<django.utils.functional.SimpleLazyObject>",
            "<tests.test_attributes.Hostile>",
        ],
        "django.signal.kwargs.slow": "<tests.test_attributes.Hostile>",
    }
    assert (evaluations.count, hostile.calls) == (0, 0)


class Secret(str):
    def __str__(self) -> str:
        return "****"


class Level(enum.IntEnum):
    HIGH = 3


def test_subclasses_of_plain_types_are_described_by_type() -> None:
    # A str subclass may hide its text behind __str__; an IntEnum's repr is the app's code.
    assert plain_value(Secret("hunter2"), 64) == "<tests.test_attributes.Secret>"
    assert plain_value(Level.HIGH, 64) == "<tests.test_attributes.Level>"
    assert plain_value(2**70, 64) == str(2**70)  # outside OTLP's int64: as text
    assert plain_value(True, 64) is True


def test_sequences_keep_a_bounded_number_of_items() -> None:
    # The 27.7 MB span: 100,000 items of 1,000 characters.
    started = time.perf_counter()
    result = attributes(audit, ("tags",), tags=["x" * 1000] * 100_000)
    assert time.perf_counter() - started < 0.05
    tags = result["django.signal.kwargs.tags"]
    assert len(tags) == MAX_SEQUENCE_ITEMS
    assert tags[0] == "x" * 63 + "…"
    assert tags[-1] == f"… {100_000 - MAX_SEQUENCE_ITEMS + 1} more"
    fields = attributes(pre_save, update_fields=[f"f{i}" for i in range(100)])
    assert len(fields["django.signal.update_fields"]) == MAX_SEQUENCE_ITEMS


def test_long_strings_are_truncated() -> None:
    assert attributes(post_save, using="x" * 80)["django.signal.using"] == "x" * 63 + "…"


def test_extractors_are_computed_once_per_signal_and_empty_for_unnamed_kwargs() -> None:
    assert kwargs_extractors(audit, ()) == ()
    assert len(kwargs_extractors(audit, ("a", "b", "a"))) == 2
    assert kwargs_extractors(Signal(), ()) == ()


# --- exceptions ---------------------------------------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


def raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_exception_messages_are_left_out_unless_asked_for() -> None:
    error = raised(ValueError("Invalid phone number 13800138000"))
    quiet = exception_attributes(error, record_message=False, limit=64)
    assert quiet["exception.type"] == "builtins.ValueError"
    assert "13800138000" not in repr(quiet)
    assert quiet["exception.stacktrace"].endswith("builtins.ValueError\n")
    loud = exception_attributes(error, record_message=True, limit=64)
    assert loud["exception.message"] == "Invalid phone number 13800138000"
    assert loud["exception.stacktrace"].endswith(
        "builtins.ValueError: Invalid phone number 13800138000\n"
    )


def test_a_message_whose_str_raises_never_breaks_the_event() -> None:
    result = exception_attributes(raised(Unprintable()), record_message=True, limit=64)
    assert result["exception.message"] == "<exception str() failed>"
    assert result["exception.type"] == "tests.test_attributes.Unprintable"


def test_huge_messages_and_stack_traces_are_bounded() -> None:
    error = raised(ValueError("m" * 10_000_000))
    result = exception_attributes(error, record_message=True, limit=256)
    assert len(result["exception.message"]) == 256
    assert len(result["exception.stacktrace"]) <= MAX_STACKTRACE_LENGTH

    def recurse(depth: int) -> None:
        if depth:
            recurse(depth - 1)
        raise LookupError("bottom")

    deep = exception_attributes(raised_by(recurse, 500), record_message=False, limit=256)
    assert len(deep["exception.stacktrace"]) <= MAX_STACKTRACE_LENGTH
    assert deep["exception.stacktrace"].endswith("builtins.LookupError\n")


def raised_by(function: Any, *args: Any) -> BaseException:
    try:
        function(*args)
    except BaseException as caught:
        return caught
    raise AssertionError("did not raise")


def test_chained_exceptions_are_shown_with_their_types_and_messages_only_if_asked() -> None:
    email = "alice@example.com"  # source lines are in the trace: the message comes from data

    def chained() -> None:
        try:
            raise KeyError(email)
        except KeyError as error:
            raise RuntimeError("lookup failed") from error

    error = raised_by(chained)
    quiet = exception_attributes(error, record_message=False, limit=64)["exception.stacktrace"]
    assert "builtins.KeyError\n\nThe above exception was the direct cause" in str(quiet)
    assert "alice" not in str(quiet)
    loud = exception_attributes(error, record_message=True, limit=64)["exception.stacktrace"]
    assert "builtins.KeyError: 'alice@example.com'" in str(loud)


def test_implicit_chains_are_shown_and_cycles_end_the_chain() -> None:
    def handling() -> None:
        try:
            raise KeyError("inner")
        except KeyError:
            raise RuntimeError("outer")  # noqa: B904 - the implicit chain is the point

    trace = str(
        exception_attributes(raised_by(handling), record_message=False, limit=64)[
            "exception.stacktrace"
        ]
    )
    assert "builtins.KeyError\n\nDuring handling of the above exception" in trace
    first, second = ValueError("a"), TypeError("b")
    first.__cause__, second.__cause__ = second, first  # a cycle: each shown once
    cyclic = str(
        exception_attributes(first, record_message=False, limit=64)["exception.stacktrace"]
    )
    assert cyclic.count("builtins.ValueError") == cyclic.count("builtins.TypeError") == 1


def test_a_long_chain_of_deep_stacks_keeps_its_end_within_the_bound() -> None:
    # Two functions calling each other: traceback folds a frame repeated in a row.
    def recurse(depth: int, cause: BaseException | None) -> None:
        if depth:
            other(depth - 1, cause)
        raise LookupError("deep") from cause

    def other(depth: int, cause: BaseException | None) -> None:
        recurse(depth, cause)

    error: BaseException | None = None
    for _ in range(MAX_CHAINED_EXCEPTIONS * 2):  # more links than are shown
        error = raised_by(recurse, 100, error)
    assert error is not None
    trace = str(exception_attributes(error, record_message=False, limit=64)["exception.stacktrace"])
    assert len(trace) == MAX_STACKTRACE_LENGTH
    assert trace.startswith(TRUNCATED_MARK)
    assert trace.endswith("builtins.LookupError\n")  # the outermost exception, where it ended
    assert trace.count("builtins.LookupError") <= MAX_CHAINED_EXCEPTIONS


def test_patterns_match_dotted_names() -> None:
    assert matches_any("debug_toolbar.models.HistoryEntry", ("debug_toolbar.*",))
    assert not matches_any("sms.SmsCode", ("debug_toolbar.*",))
