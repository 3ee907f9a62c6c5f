"""Views for the lifecycle tests: plain, routed, failing, streaming, async and database ones."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from tests.testapp.models import Author

#: Sent ten times by :func:`many_firings`, to overflow a span budget.
tick = Signal()

#: Set by the slow views once they run, so a test can disconnect at the right moment.
slow_view_started = threading.Event()


class ViewFailed(Exception):
    pass


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("plain")


def item(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"item {pk}")


def boom(request: HttpRequest) -> HttpResponse:
    # The message carries request data: it must not reach the telemetry by default.
    raise ViewFailed(f"could not serve {request.GET.get('email')}")


class UnhashableRoute(str):
    """A route string of the app's own type, which must be read but never hashed."""

    def __hash__(self) -> int:
        raise TypeError("not hashable")


def unhashable_route(request: HttpRequest) -> HttpResponse:
    assert request.resolver_match is not None
    request.resolver_match.route = UnhashableRoute(request.resolver_match.route)
    return HttpResponse("odd route")


def service_unavailable(request: HttpRequest) -> HttpResponse:
    return HttpResponse("later", status=503)


def create_author(request: HttpRequest) -> HttpResponse:
    Author.objects.create(name="from a view")
    return HttpResponse("created")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first "
        # Fires post_init (counted) and connection queries while the body streams.
        Author(name="while streaming")
        yield b"second"

    return StreamingHttpResponse(chunks())


async def async_plain(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return HttpResponse("async")


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"
        await asyncio.sleep(0)
        yield b"b"

    return StreamingHttpResponse(chunks())


async def slow(request: HttpRequest) -> HttpResponse:
    slow_view_started.set()
    await asyncio.sleep(30)
    return HttpResponse("too late")


def named_template(request: HttpRequest) -> HttpResponse:
    # A template shipped by django.contrib.auth; the context value must never be exported.
    return render(
        request, "registration/password_reset_subject.txt", {"site_name": "secret-site-name"}
    )


def many_firings(request: HttpRequest) -> HttpResponse:
    for number in range(10):
        tick.send(sender=None, number=number)
    return HttpResponse("ticked")


def authors_built(request: HttpRequest) -> HttpResponse:
    authors = [Author(name=f"author {number}") for number in range(3)]
    return HttpResponse(str(len(authors)))
