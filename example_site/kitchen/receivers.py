"""The kitchen's receivers, connected both ways the seed shows: connect() and @receiver."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import F
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from kitchen.models import Pizza, Topping
from kitchen.pricing import reprice
from kitchen.signals import pizza_done

logger = logging.getLogger("kitchen")

_CHANGES_DONE = frozenset({"post_add", "post_remove", "post_clear"})


class CourierUnavailable(Exception):
    """No courier could be booked."""


@receiver(m2m_changed, sender=Pizza.toppings.through)
def update_price(
    sender: type[Any],
    instance: Pizza | Topping,
    action: str,
    reverse: bool,
    pk_set: set[int] | None,
    **kwargs: Any,
) -> None:
    """Keep ``Pizza.price`` equal to its base price plus its toppings.

    m2m_changed fires before and after each change, from either side of the relation.
    """
    if not reverse:  # pizza.toppings.add/remove/set/clear(): instance is the pizza
        if action in _CHANGES_DONE:
            assert isinstance(instance, Pizza)
            instance.price = reprice([instance.pk])[instance.pk]
        return
    # topping.pizzas...(): instance is a topping. On clear, Django gives no pk_set, so the
    # pizzas that had the topping are noted before it happens.
    if action == "pre_clear":
        instance._pizzas_before_clear = set(  # type: ignore[union-attr]
            instance.pizzas.values_list("pk", flat=True)  # type: ignore[union-attr]
        )
    elif action == "post_clear":
        reprice(instance.__dict__.pop("_pizzas_before_clear", set()))
    elif action in _CHANGES_DONE and pk_set:
        reprice(pk_set)


# --8<-- [start:pizza_done_receivers]
def announce_pizza(sender: type[Pizza], toppings: list[str], size: str, **kwargs: Any) -> None:
    logger.info("Pizza ready: size %s with %s", size, ", ".join(toppings) or "no toppings")


# The seed's first way: an explicit connect().
pizza_done.connect(announce_pizza)


# The seed's second way: the @receiver decorator.
@receiver(pizza_done)
def count_toppings(sender: type[Pizza], toppings: list[str], **kwargs: Any) -> None:
    # F() + update(): no read-modify-write race, and no save signals.
    Topping.objects.filter(name__in=toppings).update(times_ordered=F("times_ordered") + 1)


@receiver(pizza_done)
async def notify_courier(sender: type[Pizza], size: str, **kwargs: Any) -> None:
    """Book a courier. The example has none on shift, so this always fails.

    That is on purpose: ``send_robust()`` catches the error, the other receivers still run,
    and the trace shows this span failed while the firing itself did not.
    """
    raise CourierUnavailable(f"no courier is on shift for a size {size} pizza")


# --8<-- [end:pizza_done_receivers]
