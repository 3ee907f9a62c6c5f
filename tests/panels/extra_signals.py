"""A signal module nothing imports: only the toolbar's EXTRA_SIGNALS setting names it."""

from django.dispatch import Signal

shipment_lost = Signal()
