from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kitchen.baking import bake
from kitchen.forms import PizzaForm
from kitchen.models import Pizza


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
