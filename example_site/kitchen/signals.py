"""The seed's custom signal, in its modern form.

The seed declared ``Signal(providing_args=["toppings", "size"])``; Django 4.0 removed that
argument, which never did anything but document. So the documentation lives here:

``pizza_done`` is sent with ``sender=Pizza`` when a pizza comes out of the oven, with
- ``toppings``: a list of topping names (``list[str]``), sorted;
- ``size``: the size code, ``"S"``, ``"M"`` or ``"L"`` (``str``).
It is sent with ``send_robust()``: a failing receiver must not lose the pizza.
"""

from __future__ import annotations

from django.dispatch import Signal

pizza_done = Signal()
