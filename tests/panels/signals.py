"""Signals of the panel tests' small shop: sent only by tests/panels views."""

from django.dispatch import Signal

#: Sent with ``order`` (a str) when a basket is checked out.
checkout = Signal()
#: Sent with ``order`` after payment; one receiver of it fails.
paid = Signal()
#: Sent once per item while a stock list is checked (the flood tests send thousands).
stock_checked = Signal()
#: Sent with ``items`` once per inventory; its receiver checks every item.
inventory_taken = Signal()
