from django.urls import include, path

from tests.reliability import views

urlpatterns = [
    path("flood/", views.flood),
    path("__debug__/", include("debug_toolbar.urls")),
]
