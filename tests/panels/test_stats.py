"""The panel's stats: real firings recorded by the core, turned into JSON-safe data once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from django.db.models.signals import post_save

from signal_tracing.panels.stats import trace_url
from tests.panels.orders import audit, count_stock, fail, order_paid, quiet, restock, stock_low
from tests.panels.recorded import recorded
from tests.testapp.models import Author, ExplodingRepr


def test_stats_survive_a_json_round_trip_unchanged(connect: Callable[..., None]) -> None:
    connect(order_paid, restock)
    connect(order_paid, fail)
    connect(order_paid, audit)
    connect(stock_low, count_stock)
    stats = recorded(lambda: order_paid.send_robust(sender="shop"), jaeger_url="http://j:16686")
    # Plain json (no default=) refuses anything but JSON types; equality after the round trip
    # rules out tuples and other values that would come back different from the store.
    assert json.loads(json.dumps(stats)) == stats
    assert stats["rows"]
    assert stats["findings"]


@pytest.mark.django_db
def test_stats_hold_labels_and_safe_attributes_never_field_values(
    connect: Callable[..., None],
) -> None:
    connect(post_save, quiet, sender=Author)
    connect(post_save, quiet, sender=ExplodingRepr)

    def save() -> None:
        Author.objects.create(name="Ada Lovelace, secret")
        ExplodingRepr.objects.create(name="boom")  # its str()/repr() raise if called

    stats = recorded(save)
    text = json.dumps(stats)
    assert "Ada Lovelace" not in text
    assert "boom" not in text
    assert [row["sender"] for row in stats["rows"] if row["kind"] == "dispatch"] == [
        "testapp.Author",
        "testapp.ExplodingRepr",
    ]
    attributes = dict(stats["rows"][0]["attributes"])
    assert attributes == {
        "django.signal.created": "True",
        "django.signal.instance.pk": str(Author.objects.get().pk),
        "django.signal.raw": "False",
        "django.signal.using": "default",
    }


def test_firings_without_a_recorded_span_have_no_trace(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    stats = recorded(lambda: order_paid.send(sender="shop"), jaeger_url="http://j:16686")
    assert (stats["trace_id"], stats["trace_url"]) == ("", "")


def test_jaeger_links_need_both_a_url_and_a_trace() -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    assert trace_url("http://localhost:16686/", trace_id) == (
        f"http://localhost:16686/trace/{trace_id}"
    )
    assert trace_url(None, trace_id) == ""
    assert trace_url("http://localhost:16686", None) == ""


def test_the_stats_modules_do_not_import_the_toolbar() -> None:
    # signal_tracing.panels loads the panel class (and django-debug-toolbar) on first access
    # only, so the stats stay importable where the toolbar isn't installed.
    code = (
        "import sys, signal_tracing.panels, signal_tracing.panels.stats, "
        "signal_tracing.panels.trace; "
        "assert 'debug_toolbar' not in sys.modules, sorted(sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
