from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.test import Client
from kitchen.baking import bake
from kitchen.models import Pizza, Size, Topping
from kitchen.receivers import CourierUnavailable, announce_pizza, count_toppings, notify_courier
from kitchen.signals import pizza_done

pytestmark = pytest.mark.django_db


def toppings(*names: str) -> list[Topping]:
    return list(Topping.objects.filter(name__in=names))


def test_migrations_load_the_seed_toppings() -> None:
    assert dict(Topping.objects.values_list("name", "price")) == {
        "ham": Decimal("1.50"),
        "mozzarella": Decimal("1.00"),
        "mushrooms": Decimal("1.00"),
        "olives": Decimal("0.80"),
        "pineapple": Decimal("1.20"),
    }


def test_pizza_done_reaches_receivers_connected_both_ways() -> None:
    responses = pizza_done.send_robust(sender=Pizza, toppings=["ham"], size="S")

    # announce_pizza by connect(), the others by @receiver, in connection order.
    assert [receiver for receiver, _ in responses] == [
        announce_pizza,
        count_toppings,
        notify_courier,
    ]
    assert [type(response) for _, response in responses] == [
        type(None),
        type(None),
        CourierUnavailable,
    ]
    assert Topping.objects.get(name="ham").times_ordered == 1


def test_pizza_done_sent_plainly_raises_the_courier_failure() -> None:
    # Why the kitchen uses send_robust(): with send() the failure escapes to the caller.
    with pytest.raises(CourierUnavailable):
        pizza_done.send(sender=Pizza, toppings=[], size="S")


def test_baking_prices_the_pizza_and_reports_the_failed_receiver(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="kitchen")

    baked = bake(Size.LARGE, toppings("ham", "olives"))

    pizza = Pizza.objects.get()
    assert baked.pizza == pizza
    assert pizza.price == baked.pizza.price == Decimal("12.00") + Decimal("1.50") + Decimal("0.80")
    assert [name for name, _error in baked.failures] == ["kitchen.receivers.notify_courier"]
    assert isinstance(baked.failures[0][1], CourierUnavailable)
    assert dict(
        Topping.objects.values_list("name", "times_ordered").filter(times_ordered__gt=0)
    ) == {
        "ham": 1,
        "olives": 1,
    }
    assert "Pizza ready: size L with ham, olives" in caplog.messages
    assert "Error calling notify_courier in Signal.send_robust()" in caplog.text


def test_baking_without_toppings_costs_the_base_price() -> None:
    assert bake(Size.SMALL, []).pizza.price == Decimal("8.00")


class TestRepricingOnM2mChanges:
    @pytest.fixture
    def pizza(self) -> Pizza:
        return bake(Size.MEDIUM, toppings("ham", "mushrooms")).pizza

    def price(self, pizza: Pizza) -> Decimal:
        pizza.refresh_from_db()
        return pizza.price

    def test_remove_and_clear(self, pizza: Pizza) -> None:
        pizza.toppings.remove(Topping.objects.get(name="ham"))
        assert self.price(pizza) == Decimal("11.00")
        pizza.toppings.clear()
        assert self.price(pizza) == Decimal("10.00")

    def test_changes_from_the_topping_side(self, pizza: Pizza) -> None:
        olives = Topping.objects.get(name="olives")
        olives.pizzas.add(pizza)
        assert self.price(pizza) == Decimal("13.30")
        olives.pizzas.remove(pizza)
        assert self.price(pizza) == Decimal("12.50")
        ham = Topping.objects.get(name="ham")
        ham.pizzas.clear()
        assert self.price(pizza) == Decimal("11.00")


class TestOrderPage:
    def test_lists_sizes_and_toppings(self, client: Client) -> None:
        html = client.get("/kitchen/").content.decode()
        assert 'name="size"' in html
        for topping in Topping.objects.all():
            assert f'value="{topping.pk}"' in html

    def test_baking_shows_the_pizza_and_the_failed_receiver(self, client: Client) -> None:
        ham, olives = toppings("ham", "olives")
        response = client.post(
            "/kitchen/", {"size": "L", "toppings": [ham.pk, olives.pk]}, follow=True
        )

        assert response.redirect_chain == [("/kitchen/", 302)]
        html = response.content.decode()
        pizza = Pizza.objects.get()
        assert f"Large pizza #{pizza.pk} is ready: 14.30." in html
        assert (
            "pizza_done receiver kitchen.receivers.notify_courier failed (CourierUnavailable)."
            in html
        )
        assert f"Large pizza #{pizza.pk}: ham, olives (14.30)" in html

    @pytest.mark.parametrize(
        "data",
        [{"size": "XL"}, {"size": "M", "toppings": ["999"]}, {"size": "M", "toppings": ["x"]}, {}],
    )
    def test_bad_orders_get_400_and_bake_nothing(
        self, client: Client, data: dict[str, object]
    ) -> None:
        response = client.post("/kitchen/", data)
        assert response.status_code == 400
        assert not Pizza.objects.exists()
