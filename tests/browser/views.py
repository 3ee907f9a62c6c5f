from __future__ import annotations

from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse

#: Sent by :func:`hostile_sender` with whatever sender the query string names.
probe = Signal()


def _count_probe(sender: object, **kwargs: object) -> None:
    return None


probe.connect(_count_probe, dispatch_uid="tests.browser.views._count_probe")
probe.connect(lambda sender, **kwargs: None, weak=False, dispatch_uid="tests.browser.views.lambda")


def hostile_sender(request: HttpRequest) -> HttpResponse:
    # A literal-string sender is labelled as it is, so it reaches the panel verbatim.
    probe.send_robust(sender=request.GET.get("sender", ""))
    return HttpResponse(
        "<!doctype html><html><head><title>probe</title></head><body><p>probe</p></body></html>"
    )
