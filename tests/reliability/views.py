"""Views for the in-process probes (``tests.reliability.urls``)."""

from __future__ import annotations

import threading
import tracemalloc
from typing import Any

from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, JsonResponse
from opentelemetry import trace

#: Sent FLOOD times (or ``?count=``) by :func:`flood`; one receiver.
flooded = Signal()
FLOOD = 100_000
#: The flood stops early once it holds this much more than at its start: twice what any
#: probe allows, so the probe has failed by then and need not wait for the end.
FLOOD_ABORT = 16 * 1024 * 1024
_CHECK_EVERY = 1_000


def on_flooded(sender: Any, **kwargs: Any) -> None:
    pass


def flood(request: HttpRequest) -> JsonResponse:
    """Send ``flooded`` FLOOD times; say how much more memory the request holds at the end.

    The caller traces allocations (tracemalloc); the figure is taken while the request, its
    span and whatever records it has are all still alive.
    """
    count = min(int(request.GET.get("count", FLOOD)), FLOOD)
    before = tracemalloc.get_traced_memory()[0]
    held = 0
    sent = 0
    for sent in range(1, count + 1):
        flooded.send(sender=None, number=sent)
        if sent % _CHECK_EVERY == 0:
            held = tracemalloc.get_traced_memory()[0] - before
            if held > FLOOD_ABORT:
                break
    held = tracemalloc.get_traced_memory()[0] - before
    return JsonResponse({"sent": sent, "held": held})


class MidRequest:
    """Lets a test act while a request is inside :func:`paused` (each wait bounded)."""

    inside = threading.Event()
    resume = threading.Event()
    timeout = 10.0


def paused(request: HttpRequest) -> HttpResponse:
    """Starts an application span, then waits until the test has done its part."""
    with _tracer(request).start_as_current_span("application work"):
        MidRequest.inside.set()
        if not MidRequest.resume.wait(MidRequest.timeout):
            return HttpResponse("the test never resumed the request", status=500)
    return HttpResponse("resumed")


def user_work(request: HttpRequest) -> HttpResponse:
    with _tracer(request).start_as_current_span("application work"):
        return HttpResponse("worked")


def _tracer(request: HttpRequest) -> trace.Tracer:
    """The application's tracer: the test's provider when it passes one in the environ."""
    tracer = request.META.get("reliability.tracer")
    return tracer if tracer is not None else trace.get_tracer("reliability.application")
