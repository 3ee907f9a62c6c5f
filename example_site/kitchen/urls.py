from __future__ import annotations

from django.urls import path

from kitchen import views

app_name = "kitchen"

urlpatterns = [
    path("kitchen/", views.order_page, name="order"),
    path("kitchen/oven/", views.oven_page, name="oven"),
]
