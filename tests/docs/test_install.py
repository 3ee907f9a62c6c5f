"""docs/install.md: the app needs no middleware, and how it sits beside Django's OTel middleware.

A fresh ``startproject`` project gets the page's settings snippets, read out of the Markdown,
and opentelemetry-instrumentation-django set up as its own docs say; one request through the
test client shows where each span lands.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.docs.django_instrumentation import installed_apart
from tests.docs.markdown import settings_snippets
from tests.docs.project import FreshProject

SCRIPT = Path(__file__).with_name("beside_django_instrumentation.py")
PAGE = "docs/install.md"
OURS = "signal_tracing"
THEIRS = "opentelemetry.instrumentation.django"
ROUTE = "POST admin/login/"
# Both firings run only Django's own receivers: no span of their own (DJANGO_RECEIVERS), so
# each firing keeps its dispatch span, which names them.
LOGGED_IN = "user_logged_in send"
REQUEST_STARTED = "request_started send"


@pytest.fixture
def project(tmp_path: Path) -> FreshProject:
    root = tmp_path / "project"
    project = FreshProject.create(
        root, PYTHONPATH=os.pathsep.join(map(str, (root, installed_apart())))
    )
    project.append_settings(*settings_snippets(PAGE, "Add the app"))
    migrated = project.manage("migrate", "-v0")  # the login page reads the session table
    assert migrated.returncode == 0, migrated.stderr
    return project


def one_request(project: FreshProject) -> dict[str, Any]:
    result = project.run(str(SCRIPT))
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout)
    assert outcome["status"] == 302  # logged in, redirected to the admin
    return outcome


def only(spans: list[dict[str, Any]], name: str, scope: str = OURS) -> dict[str, Any]:
    [span] = [span for span in spans if span["name"] == name and span["scope"] == scope]
    return span


def test_with_no_middleware_of_ours_the_request_span_holds_request_started_and_django_s(
    project: FreshProject,
) -> None:
    outcome = one_request(project)

    assert [entry for entry in outcome["middleware"] if "signal_tracing" in entry] == []
    spans = outcome["spans"]

    ours, theirs = only(spans, ROUTE), only(spans, ROUTE, THEIRS)
    assert (ours["kind"], ours["parent_id"]) == ("SERVER", 0)
    assert (theirs["kind"], theirs["parent_id"]) == ("INTERNAL", ours["span_id"])
    # request_started ran before any middleware: inside our span, outside Django's.
    assert only(spans, REQUEST_STARTED)["parent_id"] == ours["span_id"]
    logged_in = only(spans, LOGGED_IN)
    assert logged_in["parent_id"] == theirs["span_id"]
    assert logged_in["django_receivers"] == ["django.contrib.auth.models.update_last_login"]


def test_with_request_spans_off_django_s_span_is_the_root_of_the_view_s_firings(
    project: FreshProject,
) -> None:
    project.append_settings(*settings_snippets(PAGE, "Where is the middleware?"))

    spans = one_request(project)["spans"]

    theirs = only(spans, ROUTE, THEIRS)
    assert (theirs["kind"], theirs["parent_id"]) == ("SERVER", 0)
    assert [span for span in spans if span["name"] == ROUTE] == [theirs]
    assert only(spans, LOGGED_IN)["parent_id"] == theirs["span_id"]
    # request_started and request_finished happen outside any middleware: traces of their own.
    started = only(spans, REQUEST_STARTED)
    assert started["parent_id"] == 0
    assert started["trace_id"] != theirs["trace_id"]
