"""Receivers for tests/panels signals, connected at import (the signals are ours alone)."""

from __future__ import annotations

import time
from typing import Any

from django.dispatch import receiver

from tests.panels.signals import checkout, inventory_taken, paid, stock_checked

#: How long ``reserve_stock`` sleeps, in seconds; tests raise it to make a slow receiver.
SLOW_SECONDS = {"reserve_stock": 0.0}


@receiver(checkout)
def reserve_stock(sender: Any, order: str, **kwargs: Any) -> None:
    time.sleep(SLOW_SECONDS["reserve_stock"])


@receiver(checkout)
def email_receipt(sender: Any, order: str, retry: bool = False, **kwargs: Any) -> None:
    # Like the SMS seed's receiver: it sends the signal it is handling once more.
    if not retry:
        checkout.send(sender=sender, order=order, retry=True)


@receiver(paid)
def notify_warehouse(sender: Any, order: str, **kwargs: Any) -> None:
    raise ConnectionError("warehouse unreachable")


@receiver(paid)
def thank_customer(sender: Any, order: str, **kwargs: Any) -> None:
    return None


@receiver(paid)
async def audit_payment(sender: Any, order: str, **kwargs: Any) -> None:
    return None


@receiver(stock_checked)
def count_item(sender: Any, **kwargs: Any) -> None:
    return None


@receiver(inventory_taken)
def check_every_item(sender: Any, items: int, **kwargs: Any) -> None:
    for _ in range(items):
        stock_checked.send(sender=sender)
