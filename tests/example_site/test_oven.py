"""The oven page leaks a receiver on purpose, for the panel's "left connected" warning.

Kept out of test_kitchen.py: docs/testing.md's receiver-coverage report is that module's run,
and the receivers this page leaves connected would be in it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import kitchen.views  # noqa: F401  (imported before the snapshot, as on a site that has served a page)
import pytest
from django.test import Client
from kitchen.baking import bake
from kitchen.models import Size
from kitchen.signals import pizza_done

from signal_tracing import leaks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _restore_pizza_done() -> Iterator[None]:
    connected = list(pizza_done.receivers)
    yield
    with pizza_done.lock:
        pizza_done.receivers[:] = connected
        pizza_done.sender_receivers_cache.clear()


def test_every_visit_leaves_one_more_receiver_connected(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    before = leaks.take_snapshot()
    first = client.get("/kitchen/oven/")
    second = client.get("/kitchen/oven/")
    receivers = len(pizza_done.receivers)
    assert f'<strong id="receivers">{receivers - 1}</strong>' in first.content.decode()
    assert f'<strong id="receivers">{receivers}</strong>' in second.content.decode()
    assert [
        (leak.signal_name, leak.receiver.name, leak.receiver.weak)
        for leak in leaks.find_leaks(before)
    ] == [("pizza_done", "kitchen.views.oven_page.<locals>.note_pizza", False)] * 2
    # Both keep running for every pizza baked after them.
    with caplog.at_level(logging.INFO, logger="kitchen"):
        bake(Size.SMALL, [])
    assert [record.getMessage() for record in caplog.records].count(
        "A size S pizza came out while the oven page was open"
    ) == 2
