from __future__ import annotations

from django.urls import path
from example_site.urls import urlpatterns as site_urlpatterns

from tests.browser import views

urlpatterns = [path("probe/", views.hostile_sender), *site_urlpatterns]
