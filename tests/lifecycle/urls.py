from django.urls import path

from tests.lifecycle import views

urlpatterns = [
    path("plain/", views.plain),
    path("items/<int:pk>/", views.item),
    path("boom/", views.boom),
    path("odd/route/", views.unhashable_route),
    path("unavailable/", views.service_unavailable),
    path("authors/new/", views.create_author),
    path("stream/", views.stream),
    path("async/", views.async_plain),
    path("async-stream/", views.async_stream),
    path("slow/", views.slow),
    path("template/", views.named_template),
    path("ticks/", views.many_firings),
    path("authors/built/", views.authors_built),
]
