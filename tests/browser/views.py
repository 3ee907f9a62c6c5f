"""Test-only pages of the browser tests, beside the example site's own."""

from __future__ import annotations

from django.db.models.signals import post_init
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse
from kitchen.models import Topping

from tests.panels import hostile

#: Sent by :func:`hostile_sender` with whatever sender the query string names.
probe = Signal()


def _count_probe(sender: object, **kwargs: object) -> None:
    return None


probe.connect(_count_probe, dispatch_uid="tests.browser.views._count_probe")
probe.connect(lambda sender, **kwargs: None, weak=False, dispatch_uid="tests.browser.views.lambda")
# A receiver whose name, file, dispatch_uid and sender filter are all markup.
hostile.connect()


def _topping_built(sender: type[Topping], **kwargs: object) -> None:
    return None


post_init.connect(_topping_built, sender=Topping, dispatch_uid="tests.browser.views.topping")


def _page(body: str) -> HttpResponse:
    return HttpResponse(
        f"<!doctype html><html><head><title>probe</title></head><body>{body}</body></html>"
    )


def hostile_sender(request: HttpRequest) -> HttpResponse:
    # A literal-string sender is labelled as it is, so it reaches the panel verbatim.
    probe.send_robust(sender=request.GET.get("sender", ""))
    hostile.parcel_scanned.send(sender=hostile.SENDER)
    return _page("<p>probe</p>")


def many_toppings(request: HttpRequest) -> HttpResponse:
    # Builds (without saving) as many model instances as a page listing 717 rows would: only
    # post_init, a count-policy signal, fires, so the timeline has nothing to draw.
    built = [Topping(name=f"topping {index}") for index in range(717)]
    return _page(f"<p>{len(built)} toppings</p>")
