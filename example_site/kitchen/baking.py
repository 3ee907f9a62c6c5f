from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kitchen.models import BASE_PRICES, Pizza, Topping
from kitchen.signals import pizza_done


@dataclasses.dataclass(frozen=True)
class Baked:
    pizza: Pizza
    #: (receiver's qualified name, the exception it raised) for each failed receiver.
    failures: list[tuple[str, Exception]]


def _name(receiver: object) -> str:
    module = getattr(receiver, "__module__", None)
    qualname = getattr(receiver, "__qualname__", None) or type(receiver).__qualname__
    return f"{module}.{qualname}" if module else qualname


def bake(size: str, toppings: Sequence[Topping]) -> Baked:
    """Make a pizza and announce it with ``pizza_done`` (robustly: failures are returned)."""
    pizza = Pizza.objects.create(size=size, price=BASE_PRICES[size])
    pizza.toppings.set(toppings)  # m2m_changed pre_add/post_add
    responses = pizza_done.send_robust(
        sender=Pizza, toppings=sorted(topping.name for topping in toppings), size=size
    )
    failures = [
        (_name(receiver), response)
        for receiver, response in responses
        if isinstance(response, Exception)
    ]
    return Baked(pizza, failures)
