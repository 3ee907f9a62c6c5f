from django.http import HttpResponse
from django.urls import path
from example_site.urls import site_urlpatterns

from tests.testapp.models import Author


def create_author(request):
    Author.objects.create(name="view")
    return HttpResponse("ok")


urlpatterns = [path("author/", create_author), *site_urlpatterns]
