"""Requests whose path matches EXCLUDE_REQUEST_PATHS leave no trace at all (the toolbar's own)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import include, path

from tests.lifecycle import views
from tests.lifecycle.conftest import Tracing, _traced

urlpatterns = [
    path("__debug__/", include([path("render_panel/", views.create_author)])),
    path("health/", views.create_author),
    path("plain/", views.plain),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def test_the_toolbars_own_requests_are_not_traced_by_default(
    tracing_everything: Tracing,
) -> None:
    # The view saves a model: firings that would otherwise be spans of their own.
    assert Client().get("/__debug__/render_panel/").status_code == 200
    assert tracing_everything.spans() == []
    assert Client().get("/plain/").status_code == 200
    assert [s.name for s in tracing_everything.spans() if s.parent is None] == ["GET plain/"]


def test_paths_can_be_excluded_by_pattern() -> None:
    tracing = next(gen := _traced(exclude_request_paths=["/health*"]))
    try:
        Client().get("/health/")
        Client().get("/__debug__/render_panel/")
        roots = [s.name for s in tracing.spans() if s.parent is None]
        # The setting replaces the default: the toolbar path is traced again.
        assert roots == ["GET __debug__/render_panel/"]
    finally:
        gen.close()
