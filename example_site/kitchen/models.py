from __future__ import annotations

from decimal import Decimal

from django.db import models


class Size(models.TextChoices):
    SMALL = "S", "Small"
    MEDIUM = "M", "Medium"
    LARGE = "L", "Large"


BASE_PRICES: dict[str, Decimal] = {
    Size.SMALL: Decimal("8.00"),
    Size.MEDIUM: Decimal("10.00"),
    Size.LARGE: Decimal("12.00"),
}


class Topping(models.Model):
    name = models.CharField(max_length=50, unique=True)
    price = models.DecimalField(max_digits=5, decimal_places=2)
    #: How many pizzas had it; kept by a pizza_done receiver.
    times_ordered = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Pizza(models.Model):
    size = models.CharField(max_length=1, choices=Size.choices)
    toppings = models.ManyToManyField(Topping, related_name="pizzas", blank=True)
    #: Base price plus toppings; kept up to date by an m2m_changed receiver.
    price = models.DecimalField(max_digits=6, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_size_display()} pizza #{self.pk}"
