"""Lifecycle in a fresh process (``scenario.py``): start-up observed or not, ``manage.py
migrate`` on a fresh database, a custom command, re-connections per request, Django's test
runner; on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import management as auth_management

from tests.lifecycle.postgres import PostgresServer, Unavailable

ROOT = Path(__file__).resolve().parents[2]

# Django 6.1 added a post_migrate receiver that renames permissions after a model rename.
POST_MIGRATE_RECEIVERS = [
    "django.contrib.contenttypes.management.create_contenttypes",
    *(
        ["django.contrib.auth.management.rename_permissions_after_model_rename"]
        if hasattr(auth_management, "rename_permissions_after_model_rename")
        else []
    ),
    "django.contrib.auth.management.create_permissions",
]


def run_scenario(name: str, database_url: str) -> dict[str, Any]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.lifecycle.scenario_settings",
        "SCENARIO_DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }
    environment.pop("OTEL_TRACES_EXPORTER", None)
    result = subprocess.run(
        [sys.executable, "-m", "tests.lifecycle.scenario", name],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Commands may print to stdout first (``manage.py test``); the report is the last line.
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return report


def exported_text(report: dict[str, Any]) -> str:
    return "\n".join(f"{span['name']} {json.dumps(span['attributes'])}" for span in report["spans"])


def early_tree(db_system: str) -> str:
    # Django's own receivers (create_contenttypes, reset_queries...) ride on their firing's
    # span: no spans of their own (DJANGO_RECEIVERS).
    connection = (
        f"connection_created __main__.on_connection_created db.system={db_system}"
        " django.db.alias=default"
    )
    post_migrate = [
        f"  post_migrate send django.signal.app_label={app_label}"
        " django.signal.migrate.plan.size=14"
        for app_label in ("contenttypes", "auth", "testapp")
    ]
    request = [
        "GET authors/new/ http.route=authors/new/",
        "  request_started send",
        f"  {connection}",
        "  request_finished send",
    ]
    return "\n".join(
        [
            "django.setup django.startup.observed=True",
            "manage.py migrate django.command.name=migrate",
            f"  {connection}",
            "  pre_migrate send django.signal.app_label=contenttypes"
            " django.signal.migrate.plan.size=14",
            *post_migrate,
            "manage.py greet django.command.name=greet",
            f"  {connection}",
            "manage.py greet django.command.name=greet"
            " error.type=django.core.management.base.CommandError !ERROR",
            # CONN_MAX_AGE = 0: each request's connection is closed by request_finished, so
            # the next request on the same server thread connects again, inside its own span.
            *request,
            *request,
        ]
    )


def assert_early_scenario(report: dict[str, Any], db_system: str) -> None:
    assert report["tree"] == early_tree(db_system)
    post_migrate = [span for span in report["spans"] if span["name"] == "post_migrate send"]
    assert [span["attributes"]["django.signal.receivers.django"] for span in post_migrate] == [
        POST_MIGRATE_RECEIVERS
    ] * 3
    (startup,) = [span for span in report["spans"] if span["name"] == "django.setup"]
    assert startup["attributes"]["django.startup.models"] == [
        "auth.Group",
        "auth.Group_permissions",
        "auth.Permission",
        "auth.User",
        "auth.User_groups",
        "auth.User_user_permissions",
        "contenttypes.ContentType",
        "testapp.Author",
        "testapp.Book",
        "testapp.Book_tags",
        "testapp.ExplodingRepr",
        "testapp.Tag",
    ]
    assert startup["attributes"]["django.startup.models.count"] == 12
    text = exported_text(report)
    assert "hunter2-never-exported" not in text  # a command argument
    assert "scenario-secret-key-never-exported" not in text  # SECRET_KEY


def test_early_instrument_on_sqlite(tmp_path: Path) -> None:
    database = tmp_path / "fresh.sqlite3"

    report = run_scenario("early", f"sqlite:///{database}")

    assert_early_scenario(report, "sqlite")
    assert str(tmp_path) not in exported_text(report)  # connection settings stay out


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip(
        "psycopg", reason="psycopg is not installed: pip install -e '.[postgres]' (nox -s postgres)"
    )
    try:
        server = PostgresServer()
        server.start()
    except Unavailable as unavailable:
        pytest.skip(f"PostgreSQL could not be started: {unavailable}")
    try:
        yield server.url.replace("postgres@", "postgres:pg-password-never-exported@")
    finally:
        server.stop()


@pytest.mark.postgres
def test_early_instrument_on_postgresql(postgres_url: str) -> None:
    report = run_scenario("early", postgres_url)

    assert_early_scenario(report, "postgresql")
    text = exported_text(report)
    assert "pg-password-never-exported" not in text
    assert postgres_url.rsplit(":", 1)[1].split("/")[0] not in text  # the port


def test_tracing_started_in_ready_says_start_up_was_not_observed(tmp_path: Path) -> None:
    report = run_scenario("late", f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert report["tree"] == "django.setup django.startup.observed=False"
    (startup,) = report["spans"]
    assert startup["attributes"] == {
        "django.startup.observed": False,
        "django.startup.models.count": 12,
    }


def test_django_test_runner_gives_each_test_its_own_trace(tmp_path: Path) -> None:
    report = run_scenario("test_runner", f"sqlite:///{tmp_path / 'db.sqlite3'}")

    roots = [line for line in report["tree"].splitlines() if not line.startswith(" ")]
    assert roots == [
        "django.setup django.startup.observed=True",
        # Exit status 1: one sample test fails on purpose.
        "manage.py test django.command.name=test error.type=builtins.SystemExit !ERROR",
        "tests.lifecycle.sample_tests.SampleDatabaseTests.test_creates_an_author"
        " test.case.result.status=pass",
        "tests.lifecycle.sample_tests.SampleTests.test_fails test.case.result.status=fail",
        "tests.lifecycle.sample_tests.SampleTests.test_passes test.case.result.status=pass",
    ]
    # The test database is set up inside the command's trace.
    assert "  manage.py migrate django.command.name=migrate" in report["tree"].splitlines()
    assert "s3cr3t-in-a-test" not in exported_text(report)


def test_test_cases_run_from_a_script_get_spans(tmp_path: Path) -> None:
    # A runtests.py: instrument() before django.setup(), django.test imported afterwards.
    report = run_scenario("runtests_simple", f"sqlite:///{tmp_path / 'db.sqlite3'}")

    roots = [line for line in report["tree"].splitlines() if not line.startswith(" ")]
    assert roots == [
        "django.setup django.startup.observed=True",
        "manage.py check django.command.name=check",  # DiscoverRunner.run_checks()
        "tests.lifecycle.sample_tests.SampleTests.test_fails test.case.result.status=fail",
        "tests.lifecycle.sample_tests.SampleTests.test_passes test.case.result.status=pass",
    ]


def test_test_cases_run_by_unittest_itself_get_spans(tmp_path: Path) -> None:
    # No Django test runner and no management command: django.test is imported by the test
    # module, after instrument(); the import watcher patches SimpleTestCase then.
    report = run_scenario("unittest_main", f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert report["tree"].splitlines() == [
        "django.setup django.startup.observed=True",
        "tests.lifecycle.sample_tests.SampleTests.test_fails test.case.result.status=fail",
        "tests.lifecycle.sample_tests.SampleTests.test_passes test.case.result.status=pass",
        "  setting_changed send",
        "  setting_changed send_robust",
    ]
