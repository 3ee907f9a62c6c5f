from django.urls import path

from tests.reliability.site import views

urlpatterns = [
    path("ready/", views.ready),
    path("probe/<int:number>/", views.sync_probe),
    path("slow/<int:number>/", views.slow_probe),
    path("aprobe/<int:number>/", views.async_probe),
]
