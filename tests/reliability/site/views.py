from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from django.http import HttpRequest, HttpResponse

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
