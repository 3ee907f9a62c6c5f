from __future__ import annotations

from django.urls import path
from example_site.urls import urlpatterns as site_urlpatterns

from tests.browser import views

urlpatterns = [
    path("probe/", views.hostile_sender),
    path("probe/toppings/", views.many_toppings),
    *site_urlpatterns,
]
