"""Signal storms: one signal and sender fired more than STORM_THRESHOLD times from one line."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils.html import escape

from tests.panels import hostile, receivers, views
from tests.panels.conftest import ToolbarClient
from tests.panels.html import line_of, tags_of, text_of
from tests.panels.orders import order_paid, quiet, resend_once
from tests.panels.recorded import recorded
from tests.panels.test_panel_leaks import nav_subtitle

pytestmark = pytest.mark.django_db


def pay_orders(count: int) -> None:
    for order in range(count):
        order_paid.send(sender="shop", order=order)


def pay_twice_from_two_lines(count: int) -> None:
    for order in range(count):
        order_paid.send(sender="shop", order=order)
    for order in range(count):
        order_paid.send(sender="shop", order=order)


def storms(stats: Any) -> list[Any]:
    return [finding for finding in stats["findings"] if finding["kind"] == "storm"]


def test_a_loop_past_the_threshold_is_one_storm_naming_its_line(
    connect: Callable[..., None],
) -> None:
    connect(order_paid, quiet)
    (storm,) = storms(recorded(lambda: pay_orders(4), storm_threshold=3))
    line = line_of(pay_orders, "order_paid.send")
    assert {key: storm[key] for key in ("signal", "sender", "count", "threshold")} == {
        "signal": "order_paid",
        "sender": "shop",
        "count": 4,
        "threshold": 3.0,
    }
    assert (storm["send_site"], storm["send_site_path"], storm["send_site_function"]) == (
        f"tests/panels/test_storms.py:{line}",
        __file__,
        "pay_orders",
    )
    assert storm["duration_ms"] > 0


def test_storms_come_before_the_warnings_about_each_of_their_firings(
    connect: Callable[..., None],
) -> None:
    connect(order_paid, resend_once)
    stats = recorded(lambda: pay_orders(4), storm_threshold=3)
    assert [(finding["kind"], finding["send_site"]) for finding in stats["findings"]] == [
        ("storm", f"tests/panels/test_storms.py:{line_of(pay_orders, 'order_paid.send')}"),
        ("storm", f"tests/panels/orders.py:{line_of(resend_once, 'order_paid.send')}"),
        *[("reentrant", "")] * 4,
    ]


def test_the_threshold_itself_is_not_a_storm(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    assert storms(recorded(lambda: pay_orders(3), storm_threshold=3)) == []


def test_firings_are_counted_per_line(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    # Six firings of one signal and sender, three from each of two lines: no storm.
    assert storms(recorded(lambda: pay_twice_from_two_lines(3), storm_threshold=3)) == []


def test_a_zero_threshold_turns_storms_off(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    assert storms(recorded(lambda: pay_orders(50), storm_threshold=0)) == []


def test_the_panel_warns_with_the_count_the_time_and_the_line(
    toolbar: ToolbarClient, settings: Any
) -> None:
    settings.SIGNAL_TRACING = {"ENABLED": True, "SLOW_RECEIVER_MS": 0}
    response = toolbar.client.get("/inventory/", {"items": 21})
    assert nav_subtitle(response.content.decode()).endswith("· 1 warning")
    html = toolbar.render_panel(response.headers["djdt-request-id"])
    line = line_of(views.inventory_view, "stock_checked.send")
    found = re.search(
        r"Signal storm: stock_checked for warehouse fired 21 times from "
        rf"tests/panels/views\.py:{line} in inventory_view, (\d+\.\d\d) ms in all "
        r"\(more than 20 from one line\): a save\(\) or send\(\) in a loop\?",
        text_of(html),
    )
    assert found is not None, text_of(html)
    assert f'title="{views.__file__}"' in html


def test_a_storm_sent_by_a_receiver_names_the_receivers_line(toolbar: ToolbarClient) -> None:
    stats = toolbar.stored_stats(toolbar.visit("/inventory/", items=25, nested=1))
    (storm,) = storms(stats)
    line = line_of(receivers.check_every_item, "stock_checked.send")
    assert (storm["signal"], storm["count"], storm["send_site"]) == (
        "stock_checked",
        25,
        f"tests/panels/receivers.py:{line}",
    )


@pytest.fixture
def hostile_receiver() -> Iterator[None]:
    hostile.connect()
    yield
    hostile.disconnect()


@pytest.mark.usefixtures("hostile_receiver")
def test_a_storm_from_hostile_code_renders_as_text(toolbar: ToolbarClient) -> None:
    html = toolbar.render_panel(toolbar.visit("/parcels/", times=21))
    text = text_of(html)
    assert (
        f"Signal storm: parcel_scanned for {hostile.SENDER} fired 21 times from "
        f"{hostile.FILE_NAME}:3 in {hostile.QUALNAME}, "
    ) in text
    for value in (hostile.FILE_NAME, hostile.QUALNAME, hostile.SENDER):
        assert value not in html
        assert escape(value) in html
    assert not {"script", "img", "b", "iframe"} & tags_of(html)
