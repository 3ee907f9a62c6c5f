from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from kitchen.baking import bake
from kitchen.forms import PizzaForm
from kitchen.models import Pizza
from kitchen.signals import pizza_done

logger = logging.getLogger("kitchen")


@require_http_methods(["GET", "POST"])
def order_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PizzaForm(request.POST)
        if form.is_valid():
            baked = bake(form.cleaned_data["size"], list(form.cleaned_data["toppings"]))
            messages.success(request, f"{baked.pizza} is ready: {baked.pizza.price}.")
            for receiver_name, error in baked.failures:
                # The exception's type only: its message could hold anything.
                messages.error(
                    request,
                    f"pizza_done receiver {receiver_name} failed ({type(error).__name__}).",
                )
            return redirect("kitchen:order")
        status = 400
    else:
        form = PizzaForm()
        status = 200
    recent = Pizza.objects.prefetch_related("toppings")[:5]
    return render(request, "kitchen/order.html", {"form": form, "recent": recent}, status=status)


@require_safe
def oven_page(request: HttpRequest) -> HttpResponse:
    """The classic receiver leak, on purpose: a receiver connected in a view.

    Connected with ``weak=False`` and never disconnected, the closure stays connected after
    the response, and every visit adds one more: each later pizza runs all of them. The
    Signal tracing panel flags it. The fix: connect once (module level or
    ``AppConfig.ready()``), or disconnect in a ``finally`` block before returning.
    """

    def note_pizza(sender: type[Pizza], size: str, **kwargs: Any) -> None:
        logger.info("A size %s pizza came out while the oven page was open", size)

    pizza_done.connect(note_pizza, weak=False)
    return render(request, "kitchen/oven.html", {"receivers": len(pizza_done.receivers)})
