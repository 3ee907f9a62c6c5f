from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce

from kitchen.models import BASE_PRICES, Pizza

CENT = Decimal("0.01")


def reprice(pizza_ids: Iterable[int]) -> dict[int, Decimal]:
    """Store base price + toppings for each pizza; return the new prices by id.

    ``QuerySet.update()`` sends no signals, so repricing from an m2m_changed receiver can't
    set off further receivers.
    """
    totals = Pizza.objects.filter(pk__in=list(pizza_ids)).annotate(
        toppings_total=Coalesce(
            Sum("toppings__price"),
            Value(Decimal(0)),
            output_field=DecimalField(max_digits=8, decimal_places=2),
        )
    )
    prices = {}
    for pizza_id, size, toppings_total in totals.values_list("pk", "size", "toppings_total"):
        # quantize: SQLite sums decimals as floats.
        prices[pizza_id] = (BASE_PRICES[size] + toppings_total).quantize(CENT)
        Pizza.objects.filter(pk=pizza_id).update(price=prices[pizza_id])
    return prices
