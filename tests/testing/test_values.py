"""Values in messages: ordinary values shown as Python writes them, nothing of the app's run."""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import pathlib
import uuid
import zoneinfo
from fractions import Fraction
from typing import Any
from unittest import mock

import pytest
from django.db import models
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from signal_tracing.testing.values import MAX_COMPARED_LENGTH, safe_repr
from tests.testapp.models import Author, ExplodingRepr

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def explode(*args: Any) -> Any:
    raise AssertionError("showing a value ran the application's code")


class Money(decimal.Decimal):
    __repr__ = explode


class Size(models.TextChoices):
    LARGE = "L", "Large"


class Colour(enum.Enum):
    RED = 1

    __repr__ = explode
    __str__ = explode


class Access(enum.Flag):
    READ = 1
    WRITE = 2


class AppZone(datetime.tzinfo):
    """A time zone of the application's: repr() of a datetime would call its __repr__."""

    __repr__ = explode
    utcoffset = explode
    tzname = explode
    dst = explode


ORDINARY: list[tuple[object, str]] = [
    (decimal.Decimal("99.00"), "Decimal('99.00')"),
    (Fraction(1, 3), "Fraction(1, 3)"),
    (datetime.date(2025, 5, 17), "datetime.date(2025, 5, 17)"),
    (datetime.datetime(2025, 5, 17, 9, 30), "datetime.datetime(2025, 5, 17, 9, 30)"),
    (
        datetime.datetime(2025, 5, 17, 9, 30, tzinfo=datetime.timezone.utc),
        "datetime.datetime(2025, 5, 17, 9, 30, tzinfo=datetime.timezone.utc)",
    ),
    (
        datetime.datetime(2025, 5, 17, 9, 30, tzinfo=PARIS),
        "datetime.datetime(2025, 5, 17, 9, 30, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))",
    ),
    (datetime.time(9, 30), "datetime.time(9, 30)"),
    (datetime.timedelta(minutes=5), "datetime.timedelta(seconds=300)"),
    (
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "UUID('12345678-1234-5678-1234-567812345678')",
    ),
    (pathlib.PurePosixPath("/srv/media"), "PurePosixPath('/srv/media')"),
    (ipaddress.ip_address("192.0.2.1"), "IPv4Address('192.0.2.1')"),
    (range(3), "range(0, 3)"),
    ([decimal.Decimal("1.50"), None], "[Decimal('1.50'), None]"),
    ({"total": decimal.Decimal("2")}, "{'total': Decimal('2')}"),
    (mark_safe("<b>"), "'<b>'"),
    (mock.ANY, "<ANY>"),
    (Size.LARGE, "Size.LARGE"),
    # Python 3.11 names a combination of flags; 3.10 leaves it nameless, so it shows by type.
    (
        Access.READ | Access.WRITE,
        "Access.READ|WRITE"
        if (Access.READ | Access.WRITE)._name_
        else "<tests.testing.test_values.Access>",
    ),
    (Access(0), "<tests.testing.test_values.Access>"),
]

APPLICATIONS: list[tuple[object, str]] = [
    (Money("1"), "<tests.testing.test_values.Money>"),
    (SimpleLazyObject(explode), "<django.utils.functional.SimpleLazyObject>"),
    ([SimpleLazyObject(explode)], "<builtins.list>"),
    (gettext_lazy("Large"), "<lazy object>"),
    (ExplodingRepr(pk=7), "<testapp.ExplodingRepr pk=7>"),
    (Colour.RED, "Colour.RED"),
    (
        datetime.datetime(2025, 5, 17, 9, 30, tzinfo=AppZone()),
        "datetime.datetime(2025, 5, 17, 9, 30, tzinfo=<tests.testing.test_values.AppZone>)",
    ),
    ([datetime.time(9, 30, tzinfo=AppZone())], "<builtins.list>"),
]


# Explicit ids: pytest would make them with str() or isinstance(), which evaluate lazy objects.
@pytest.mark.parametrize(("value", "shown"), ORDINARY, ids=[shown for _, shown in ORDINARY])
def test_ordinary_values_are_shown_as_python_writes_them(value: object, shown: str) -> None:
    assert safe_repr(value, MAX_COMPARED_LENGTH) == shown


@pytest.mark.parametrize(("value", "shown"), APPLICATIONS, ids=[shown for _, shown in APPLICATIONS])
def test_nothing_of_the_applications_is_run_or_evaluated(value: object, shown: str) -> None:
    assert safe_repr(value, MAX_COMPARED_LENGTH) == shown


def test_model_instances_show_their_primary_key_by_the_same_rules() -> None:
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert safe_repr(Author(pk=key)) == (
        "<testapp.Author pk=UUID('12345678-1234-5678-1234-567812345678')>"
    )
    assert safe_repr(Author()) == "<testapp.Author pk=None>"
    assert safe_repr(Author) == "testapp.Author"


def test_long_values_are_cut_to_the_limit() -> None:
    assert safe_repr("x" * 1_000_000) == "'" + "x" * 58 + "…"
    assert safe_repr(b"y" * 100, 10) == "b'yyyyyyy…"
    assert len(safe_repr(datetime.datetime(2025, 5, 17, 9, 30, tzinfo=PARIS))) == 60


def test_large_containers_are_shown_by_their_type() -> None:
    assert safe_repr(list(range(100))).startswith("[0, 1, 2")
    assert safe_repr(list(range(101))) == "<builtins.list>"
    assert safe_repr([list(range(60)), list(range(60))]) == "<builtins.list>"
