"""The "in transaction" badge: model signals sent inside transaction.atomic()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.db.models.signals import post_save
from django.template.loader import render_to_string

from signal_tracing.panels.stats import STATS_VERSION
from tests.panels.html import details_of, timeline_rows
from tests.panels.orders import order_paid, quiet
from tests.panels.recorded import recorded
from tests.testapp.models import Author


def save_in_and_out_of_a_transaction() -> None:
    Author.objects.create(name="outside")
    with transaction.atomic():
        Author.objects.create(name="inside")
    order_paid.send(sender="shop")


@pytest.mark.django_db(transaction=True)
def test_model_firings_say_whether_they_ran_inside_atomic(connect: Callable[..., None]) -> None:
    connect(post_save, quiet, Author)
    connect(order_paid, quiet)
    rows = recorded(save_in_and_out_of_a_transaction)["rows"]
    assert [
        (row["signal"], row["in_atomic_block"]) for row in rows if row["kind"] == "dispatch"
    ] == [
        ("post_save", False),
        ("post_save", True),
        ("order_paid", None),  # not a model signal: nothing to say
    ]


@pytest.mark.django_db(transaction=True)
def test_only_firings_inside_atomic_get_the_badge(connect: Callable[..., None]) -> None:
    connect(post_save, quiet, Author)
    connect(order_paid, quiet)
    stats: dict[str, Any] = dict(recorded(save_in_and_out_of_a_transaction))
    stats["current_version"] = stats["version"] == STATS_VERSION
    html = render_to_string("signal_tracing/panel.html", stats)
    firings = [row.split(" from ")[0] for row in timeline_rows(html) if "quiet" not in row]
    assert firings == ["post_save", "post_save in transaction", "order_paid"]
    assert [detail for detail in details_of(html) if detail.startswith("Transaction")] == [
        "Transaction: none (autocommit)",
        "Transaction: inside transaction.atomic() on its database: receivers with side effects "
        "(an SMS, an e-mail, a task) belong in transaction.on_commit()",
    ]
    assert 'title="Sent inside transaction.atomic(): its receivers run before the commit' in html
