"""Only allow-listed, privacy-safe values become span attributes."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.template import Template

from signal_tracing.attributes import (
    cleanse_setting_value,
    kwargs_attributes,
    matches_any,
    template_name,
)
from tests.testapp.models import Author, ExplodingRepr


def attributes(record_kwargs: tuple[str, ...] = (), **named: Any) -> dict[str, Any]:
    return kwargs_attributes(named, 64, record_kwargs)


def test_model_signal_kwargs_keep_identifiers_never_field_values() -> None:
    author = Author(pk=7, name="Secret Person 13800138000")
    assert attributes(
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


def test_instances_whose_repr_and_str_explode_are_read_safely() -> None:
    assert attributes(instance=ExplodingRepr(pk=3, name="x")) == {"django.signal.instance.pk": 3}
    assert attributes(instance=ExplodingRepr(name="unsaved")) == {}


def test_m2m_changed_records_action_model_and_only_the_size_of_pk_set() -> None:
    assert attributes(action="post_add", model=Author, reverse=False, pk_set={1, 2, 3}) == {
        "django.signal.m2m.action": "post_add",
        "django.signal.m2m.model": "testapp.Author",
        "django.signal.m2m.reverse": False,
        "django.signal.m2m.pk_set.size": 3,
    }


def test_migrate_signals_record_the_app_label_and_plan_size_never_the_objects() -> None:
    from django.apps import apps

    result = attributes(app_config=apps.get_app_config("testapp"), plan=[1, 2], apps=apps)
    assert result == {"django.signal.app_label": "testapp", "django.signal.migrate.plan.size": 2}


@pytest.mark.django_db
def test_connection_created_records_vendor_and_alias_never_settings() -> None:
    # connection_created sends the wrapper itself (not django.db.connection, a proxy).
    wrapper = connections["default"]
    result = attributes(connection=wrapper)
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
    result = attributes(template=template, context={"secret": "card 4111"})
    assert result == {"django.signal.template.name": "shop/checkout.html"}
    assert template_name(template) == "shop/checkout.html"
    assert template_name("not a template") is None


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("SECRET_KEY", "s3cr3t", "********************"),
        (
            "DATABASES",
            {"default": {"PASSWORD": "hunter2", "NAME": "db"}},
            "{'default': {'PASSWORD': '****",
        ),
        ("API_TOKEN", "abc", "********************"),
        ("DEBUG", True, "True"),
    ],
)
def test_setting_changed_values_are_cleansed_like_the_error_reporter(
    setting: str, value: object, expected: str
) -> None:
    result = attributes(setting=setting, value=value, enter=True)
    assert result["django.signal.setting.name"] == setting
    assert result["django.signal.setting.enter"] is True
    assert result["django.signal.setting.value"].startswith(expected)
    assert "hunter2" not in result["django.signal.setting.value"]


def test_cleansed_values_are_truncated() -> None:
    assert len(cleanse_setting_value("ALLOWED_HOSTS", ["a" * 50], 20)) == 20


def test_unknown_kwargs_are_dropped_unless_opted_in_by_name() -> None:
    assert attributes(toppings=["ham"], size="L", environ={"HTTP_COOKIE": "x"}) == {}
    opted_in = attributes(("toppings", "size", "box"), toppings=["ham", 1], size="L", box=object())
    assert opted_in == {
        "django.signal.kwargs.toppings": ["ham", "1"],
        "django.signal.kwargs.size": "L",
        "django.signal.kwargs.box": "<builtins.object>",
    }


def test_long_strings_are_truncated() -> None:
    assert attributes(using="x" * 80)["django.signal.using"] == "x" * 63 + "…"


def test_patterns_match_dotted_names() -> None:
    assert matches_any("debug_toolbar.models.HistoryEntry", ("debug_toolbar.*",))
    assert not matches_any("sms.SmsCode", ("debug_toolbar.*",))
