from django.dispatch import Signal

#: Sent with ``size`` and ``toppings``; a module-level custom signal for naming tests.
order_placed = Signal()
