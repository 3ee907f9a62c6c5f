from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

from example_site import views

#: The site's own pages, without the debug toolbar (the test suite includes these).
site_urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("", include("sms.urls")),
    path("", include("kitchen.urls")),
]

urlpatterns = list(site_urlpatterns)

if "debug_toolbar" in settings.INSTALLED_APPS:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
