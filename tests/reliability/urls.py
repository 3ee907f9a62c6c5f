from django.urls import include, path

from tests.reliability import views

urlpatterns = [
    path("flood/", views.flood),
    path("paused/", views.paused),
    path("work/", views.user_work),
    path("__debug__/", include("debug_toolbar.urls")),
]
