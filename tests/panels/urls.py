from django.urls import include, path

from tests.panels import views

urlpatterns = [
    path("checkout/", views.checkout_view),
    path("checkout/async/", views.async_checkout_view),
    path("hostile/", views.hostile_sender_view),
    path("parcel/", views.parcel_view),
    path("authors/", views.authors_view),
    path("busy/", views.busy_page_view),
    path("exploding/", views.exploding_view),
    path("quiet/", views.quiet_view),
    path("recordings/", views.recordings_view),
    path("concurrent/", views.concurrent_view),
    path("inventory/", views.inventory_view),
    path("__debug__/", include("debug_toolbar.urls")),
]
