"""Views of the panel tests' shop; each returns a small HTML page the toolbar can attach to."""

from __future__ import annotations

import threading
import tracemalloc

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template import Context, Template

import tests.panels.receivers  # noqa: F401  (connects the receivers)
from signal_tracing.recording import active_recordings
from tests.panels import hostile
from tests.panels.signals import checkout, inventory_taken, paid, stock_checked
from tests.testapp.models import Author, ExplodingRepr


def page(body: str) -> HttpResponse:
    return HttpResponse(
        f"<!DOCTYPE html><html><head><title>shop</title></head><body>{body}</body></html>"
    )


def checkout_view(request: HttpRequest) -> HttpResponse:
    checkout.send(sender="shop", order="42")
    paid.send_robust(sender="shop", order="42")
    return page("<h1>Checked out</h1>")


async def async_checkout_view(request: HttpRequest) -> HttpResponse:
    await checkout.asend(sender="shop", order="43")
    await paid.asend_robust(sender="shop", order="43")
    return page("<h1>Checked out (async)</h1>")


def hostile_sender_view(request: HttpRequest) -> HttpResponse:
    # A literal-string sender is shown as it is: it must come out as text, never as markup.
    paid.send_robust(
        sender=request.GET.get("sender", "<script>alert('sender')</script>"), order="1"
    )
    return page("<h1>Paid</h1>")


def authors_view(request: HttpRequest) -> HttpResponse:
    count = int(request.GET.get("count", "3"))
    Author.objects.bulk_create(Author(name=f"author {index}") for index in range(count))
    names = [author.name for author in Author.objects.all()]
    return page(f"<p>{len(names)} authors</p>")


def parcel_view(request: HttpRequest) -> HttpResponse:
    # Fires the receiver whose every shown field is markup (see tests.panels.hostile).
    hostile.parcel_scanned.send(sender=hostile.SENDER)
    return page("<p>scanned</p>")


def exploding_view(request: HttpRequest) -> HttpResponse:
    # Author's str() returns its name, ExplodingRepr's str() and repr() raise: the tracer
    # must label both, never stringify them.
    Author.objects.create(name="<script>alert('model')</script>")
    ExplodingRepr.objects.create(name="<b>bold</b>")
    return page("<p>saved</p>")


def busy_page_view(request: HttpRequest) -> HttpResponse:
    # Work that makes the toolbar's own panels send signals of their own: static file URLs
    # (StaticFilesPanel), cache calls (CachePanel), SQL (SQLPanel), template rendering.
    cache.set("visits", 1)
    cache.get("visits")
    Author.objects.create(name="busy")
    html = Template(
        "{% load static %}<link rel='stylesheet' href=\"{% static 'shop.css' %}\">"
    ).render(Context())
    return page(html + "<p>busy</p>")


def quiet_view(request: HttpRequest) -> HttpResponse:
    return page("<p>nothing happens here</p>")


def recordings_view(request: HttpRequest) -> HttpResponse:
    # How many recordings are collecting this request's firings (the panel's, if showing).
    return page(f"<p id='recordings'>{len(active_recordings.get())}</p>")


#: Set by the concurrency test: both requests wait here, so that they overlap in time.
RENDEZVOUS: list[threading.Barrier] = []


def concurrent_view(request: HttpRequest) -> HttpResponse:
    who = request.GET["who"]
    checkout.send(sender=who, order=who)
    RENDEZVOUS[0].wait(timeout=10)
    paid.send_robust(sender=who, order=who)
    return page(f"<p>{who}</p>")


#: Memory the inventory view's firings left allocated (tracemalloc), while the panel still
#: records: appended by each visit made while tracemalloc traces.
HELD_BY_FIRINGS: list[int] = []


def inventory_view(request: HttpRequest) -> HttpResponse:
    items = int(request.GET["items"])
    before = tracemalloc.get_traced_memory()[0]
    if request.GET.get("nested"):
        inventory_taken.send(sender="warehouse", items=items)
    else:
        for _ in range(items):
            stock_checked.send(sender="warehouse")
    if tracemalloc.is_tracing():
        HELD_BY_FIRINGS.append(tracemalloc.get_traced_memory()[0] - before)
    return page(f"<p>{items} items checked</p>")
