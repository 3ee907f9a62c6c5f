"""The toppings the kitchen starts with: the example's seed data, loaded once by migrate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import migrations

TOPPINGS = {
    "ham": Decimal("1.50"),
    "mozzarella": Decimal("1.00"),
    "mushrooms": Decimal("1.00"),
    "olives": Decimal("0.80"),
    "pineapple": Decimal("1.20"),
}


def add_toppings(apps: Any, schema_editor: Any) -> None:
    Topping = apps.get_model("kitchen", "Topping")
    for name, price in TOPPINGS.items():
        Topping.objects.using(schema_editor.connection.alias).get_or_create(
            name=name, defaults={"price": price}
        )


def remove_toppings(apps: Any, schema_editor: Any) -> None:
    Topping = apps.get_model("kitchen", "Topping")
    Topping.objects.using(schema_editor.connection.alias).filter(
        name__in=TOPPINGS, pizzas=None
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("kitchen", "0001_initial")]

    operations = [migrations.RunPython(add_toppings, remove_toppings)]
