from django.urls import path

from tests.reliability.site import views

urlpatterns = [
    path("ready/", views.ready),
    path("probe/<int:number>/", views.sync_probe),
    path("slow/<int:number>/", views.slow_probe),
    path("aprobe/<int:number>/", views.async_probe),
    path("held/<int:number>/", views.held),
    path("held-streamed/<int:number>/", views.held_streamed),
    path("aheld/<int:number>/", views.aheld),
    path("aheld-streamed/<int:number>/", views.aheld_streamed),
    path("switch/<str:how>/", views.switch),
    path("aswitch/<str:how>/", views.aswitch),
    path("work/<int:number>/", views.work),
    path("awork/<int:number>/", views.awork),
]
