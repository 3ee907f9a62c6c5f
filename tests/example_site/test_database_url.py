from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from example_site.database import parse_database_url

BASE = Path("/srv/site")


def test_sqlite_relative_to_the_site() -> None:
    assert parse_database_url("sqlite:///db.sqlite3", BASE) == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE / "db.sqlite3",
    }


def test_sqlite_absolute() -> None:
    settings = parse_database_url("sqlite:////tmp/example.sqlite3", BASE)
    assert settings["NAME"] == Path("/tmp/example.sqlite3")


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite:///:memory:", "sqlite://"])
def test_sqlite_in_memory(url: str) -> None:
    assert parse_database_url(url, BASE) == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    }


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
def test_postgres(scheme: str) -> None:
    url = f"{scheme}://app%40corp:p%3Ass@db.internal:6543/shop?sslmode=require"
    assert parse_database_url(url, BASE) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "shop",
        "USER": "app@corp",
        "PASSWORD": "p:ss",
        "HOST": "db.internal",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
    }


def test_postgres_defaults_to_the_local_socket() -> None:
    settings = parse_database_url("postgres:///shop", BASE)
    assert (settings["HOST"], settings["PORT"], settings["USER"]) == ("", "", "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:hunter2@localhost/shop", "is not supported"),
        ("postgres://root:hunter2@localhost:5432", "names no database"),
        ("postgres://root:hunter2@localhost:99999/shop", "Port out of range"),
        ("db.sqlite3", "is not supported"),
    ],
)
def test_bad_urls_are_refused_without_repeating_the_password(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as error:
        parse_database_url(url, BASE)
    assert "hunter2" not in str(error.value)
    if "root" in url:
        assert "root:********@" in str(error.value)
