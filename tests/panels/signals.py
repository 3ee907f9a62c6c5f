"""Signals of the panel tests' small shop: sent only by tests/panels views."""

from django.dispatch import Signal

#: Sent with ``order`` (a str) when a basket is checked out.
checkout = Signal()
#: Sent with ``order`` after payment; one receiver of it fails.
paid = Signal()
