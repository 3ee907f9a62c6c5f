"""Send sites: each firing row says which line sent it ("why did this fire?")."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.db.models.signals import post_save
from django.utils.html import escape

from tests.panels import hostile, views
from tests.panels.conftest import ToolbarClient
from tests.panels.html import details_of, line_of, tags_of, timeline_rows
from tests.panels.orders import order_paid, quiet, resend_once
from tests.panels.recorded import recorded
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db


def send_order() -> None:
    order_paid.send(sender="shop")


def test_a_firing_row_names_the_line_that_sent_it(connect: Callable[..., None]) -> None:
    connect(order_paid, quiet)
    (row, _call) = recorded(send_order)["rows"]
    line = line_of(send_order, "order_paid.send")
    assert (
        row["send_site"],
        row["send_site_path"],
        row["send_site_line"],
        row["send_site_function"],
    ) == (f"tests/panels/test_send_sites.py:{line}", __file__, line, f"{__name__}.send_order")


def test_a_firing_sent_by_a_receiver_names_the_receivers_line(
    connect: Callable[..., None],
) -> None:
    connect(order_paid, resend_once)
    rows = recorded(send_order)["rows"]
    firings = [row["send_site"] for row in rows if row["kind"] == "dispatch"]
    assert firings == [
        f"tests/panels/test_send_sites.py:{line_of(send_order, 'order_paid.send')}",
        f"tests/panels/orders.py:{line_of(resend_once, 'order_paid.send')}",
    ]
    assert all(row["send_site"] == "" for row in rows if row["kind"] == "receiver")


def create_author() -> None:
    Author.objects.create(name="Ada")


def test_a_model_signal_names_the_apps_save_line_not_djangos(
    connect: Callable[..., None],
) -> None:
    connect(post_save, quiet, Author)
    (row, _call) = recorded(create_author)["rows"]
    assert row["signal"] == "post_save"
    assert row["send_site"] == (
        f"tests/panels/test_send_sites.py:{line_of(create_author, 'objects.create')}"
    )


def test_the_timeline_and_the_details_show_the_send_site(toolbar: ToolbarClient) -> None:
    html = toolbar.render_panel(toolbar.visit("/checkout/"))
    line = line_of(views.checkout_view, "checkout.send")
    assert timeline_rows(html)[0] == (
        f"checkout from tests/panels/views.py:{line} | shop | send | 2 receivers | ok"
    )
    # The full path on hover, and in the details with the function that sent it.
    assert f'title="{views.__file__}:{line} (tests.panels.views.checkout_view)"' in html
    assert f"Sent from: {views.__file__}:{line} in tests.panels.views.checkout_view" in details_of(
        html
    )


@pytest.fixture
def hostile_receiver() -> Iterator[None]:
    hostile.connect()
    yield
    hostile.disconnect()


@pytest.mark.usefixtures("hostile_receiver")
def test_a_send_site_whose_file_module_and_function_are_markup_renders_as_text(
    toolbar: ToolbarClient,
) -> None:
    html = toolbar.render_panel(toolbar.visit("/parcels/", times=1))
    function = f"{hostile.MODULE}.{hostile.QUALNAME}"
    for value in (hostile.FILE_NAME, function):
        assert value not in html
        assert escape(value) in html
    assert f"Sent from: {hostile.FILE_NAME}:3 in {function}" in details_of(html)
    assert not {"script", "img", "b", "iframe"} & tags_of(html)
