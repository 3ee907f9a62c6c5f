"""Signals and receivers that the stats tests connect per test (see the ``connect`` fixture).

Unlike the shop in ``signals.py``/``receivers.py``, nothing here is connected at import: each
test wires up exactly the receivers it reads about.
"""

from __future__ import annotations

import time
from typing import Any

from django.dispatch import Signal

order_paid = Signal()
stock_low = Signal()


def restock(sender: Any, **kwargs: Any) -> None:
    stock_low.send(sender=sender, sku="A1")


def count_stock(sender: Any, **kwargs: Any) -> None:
    return None


def resend_once(sender: Any, again: bool = False, **kwargs: Any) -> None:
    if not again:
        order_paid.send(sender=sender, again=True)


def fail(sender: Any, **kwargs: Any) -> None:
    raise LookupError("no such order")


#: How long ``nap`` sleeps: far above a quick receiver's time, which a loaded machine can
#: stretch to tens of milliseconds.
NAP_SECONDS = 0.1


def nap(sender: Any, **kwargs: Any) -> None:
    time.sleep(NAP_SECONDS)


async def audit(sender: Any, **kwargs: Any) -> None:
    return None


async def restock_async(sender: Any, **kwargs: Any) -> None:
    await stock_low.asend(sender=sender, sku="B2")


def quiet(sender: Any, **kwargs: Any) -> None:
    return None
