from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from opentelemetry import trace

from tests.reliability.site import switches
from tests.reliability.site.signals import aprobe, probe

#: How many requests the async view waits to have in flight at once (RELIABILITY_RENDEZVOUS).
RENDEZVOUS_SIZE = int(os.environ.get("RELIABILITY_RENDEZVOUS", "1"))
#: How long one request waits for the others, at most.
RENDEZVOUS_TIMEOUT = 20.0


class Rendezvous:
    """Holds requests until ``size`` of them are inside the view at once, then lets them go.

    Runs on uvicorn's one event loop, so plain attributes need no lock. Each group of ``size``
    requests meets at its own event; a request that waits longer than the timeout is let go
    and says so in its response.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrived = 0
        self.event: asyncio.Event | None = None

    async def meet(self) -> bool:
        if self.event is None:
            self.event = asyncio.Event()
        event = self.event
        self.arrived += 1
        if self.arrived >= self.size:
            self.arrived = 0
            self.event = None
            event.set()
            return True
        try:
            await asyncio.wait_for(event.wait(), RENDEZVOUS_TIMEOUT)
        except asyncio.TimeoutError:
            return False
        return True


rendezvous = Rendezvous(RENDEZVOUS_SIZE)


def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"ready {os.getpid()}")


def sync_probe(request: HttpRequest, number: int) -> HttpResponse:
    probe.send(sender=None, request_number=number)
    return HttpResponse(f"{number} {os.getpid()}")


def slow_probe(request: HttpRequest, number: int) -> HttpResponse:
    # Says it started (RELIABILITY_STARTED_DIR), then runs long enough for a graceful stop to
    # find it still running.
    started_dir = os.environ.get("RELIABILITY_STARTED_DIR")
    if started_dir:
        Path(started_dir, str(number)).touch()
    time.sleep(0.5)
    probe.send(sender=None, request_number=number)
    return HttpResponse(f"{number} {os.getpid()}")


async def async_probe(request: HttpRequest, number: int) -> HttpResponse:
    await aprobe.asend(sender=None, request_number=number, phase="before")
    met = await rendezvous.meet()
    await aprobe.asend(sender=None, request_number=number, phase="after")
    return HttpResponse(f"{number} {os.getpid()} {'met' if met else 'alone'}")


# --------------------------------------------------------------------------------------------
# Tracing switched while a request is held in its view or its streamed body (test_toggle_served).

#: Two requests to ``work/`` with ``?pair=1`` wait for each other: on a server with two
#: threads, each of them runs on one, so the held request's thread serves one of them.
pair = threading.Barrier(2)


def _application_span(number: int) -> trace.Span:
    """The application's own span, on the global provider (signal_tracing's too)."""
    tracer = trace.get_tracer("reliability.application")
    return tracer.start_span("application work", attributes={"request_number": number})


def _current_trace() -> str:
    """The trace this thread or task is in as the view starts ("" if none)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def held(request: HttpRequest, number: int) -> HttpResponse:
    with trace.use_span(_application_span(number), end_on_exit=True):
        probe.send(sender=None, request_number=number)
        if not switches.hold():
            return HttpResponse("never let go", status=500)
        probe.send(sender=None, request_number=number)
    return JsonResponse({"thread": threading.get_ident()})


def held_streamed(request: HttpRequest, number: int) -> StreamingHttpResponse:
    with trace.use_span(_application_span(number), end_on_exit=True):
        probe.send(sender=None, request_number=number)

    def body() -> Iterator[bytes]:
        yield f'{{"thread": {threading.get_ident()}'.encode()
        if not switches.hold():
            yield b', "error": "never let go"'
        probe.send(sender=None, request_number=number)
        yield b"}"

    return StreamingHttpResponse(body(), content_type="application/json")


async def aheld(request: HttpRequest, number: int) -> HttpResponse:
    with trace.use_span(_application_span(number), end_on_exit=True):
        await aprobe.asend(sender=None, request_number=number, phase="before")
        if not await switches.ahold():
            return HttpResponse("never let go", status=500)
        await aprobe.asend(sender=None, request_number=number, phase="after")
    return JsonResponse({"thread": threading.get_ident()})


async def aheld_streamed(request: HttpRequest, number: int) -> StreamingHttpResponse:
    with trace.use_span(_application_span(number), end_on_exit=True):
        await aprobe.asend(sender=None, request_number=number, phase="before")

    async def body() -> AsyncIterator[bytes]:
        yield f'{{"thread": {threading.get_ident()}'.encode()
        if not await switches.ahold():
            yield b', "error": "never let go"'
        await aprobe.asend(sender=None, request_number=number, phase="after")
        yield b"}"

    return StreamingHttpResponse(body(), content_type="application/json")


def switch(request: HttpRequest, how: str) -> HttpResponse:
    held = bool(request.GET.get("held"))
    if held and not switches.wait_until_held():
        return HttpResponse("no request was held", status=500)
    switches.switch(how)
    if held:
        switches.let_go()
    return HttpResponse(how)


async def aswitch(request: HttpRequest, how: str) -> HttpResponse:
    held = bool(request.GET.get("held"))
    if held and not await switches.await_until_held():
        return HttpResponse("no request was held", status=500)
    switches.switch(how)
    if held:
        switches.let_go()
    return HttpResponse(how)


def work(request: HttpRequest, number: int) -> HttpResponse:
    current = _current_trace()
    if request.GET.get("pair"):
        try:
            pair.wait(switches.HOLD_TIMEOUT)
        except threading.BrokenBarrierError:
            return HttpResponse("no pair", status=500)
    with trace.use_span(_application_span(number), end_on_exit=True):
        probe.send(sender=None, request_number=number)
    return JsonResponse({"current": current, "thread": threading.get_ident()})


async def awork(request: HttpRequest, number: int) -> HttpResponse:
    current = _current_trace()
    with trace.use_span(_application_span(number), end_on_exit=True):
        await aprobe.asend(sender=None, request_number=number, phase="work")
    return JsonResponse({"current": current, "thread": threading.get_ident()})
