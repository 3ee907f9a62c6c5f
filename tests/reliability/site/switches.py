"""Switching tracing at run time inside the served site, the documented ways.

A request is held in its view (or streamed body) until a second request has switched tracing;
one process, so the two meet on a :class:`threading.Event` (polled from async views, which
must not block uvicorn's loop). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Final

from django.conf import settings
from django.test import override_settings

import signal_tracing

HOLD_TIMEOUT: Final = 10.0
_POLL: Final = 0.01

#: Set while a request is held; ``resume`` lets it go on.
inside: Final = threading.Event()
resume: Final = threading.Event()
#: The override_settings in force from "settings-off" until "on".
_override: list[override_settings] = []


def hold() -> bool:
    inside.set()
    resumed = resume.wait(HOLD_TIMEOUT)
    resume.clear()  # for the next request held (one at a time)
    return resumed


async def ahold() -> bool:
    inside.set()
    resumed = await _poll(resume)
    resume.clear()
    return resumed


def wait_until_held() -> bool:
    return inside.wait(HOLD_TIMEOUT)


async def await_until_held() -> bool:
    return await _poll(inside)


async def _poll(event: threading.Event) -> bool:
    deadline = time.monotonic() + HOLD_TIMEOUT
    while not event.is_set():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


def switch(how: str) -> None:
    """Switch tracing: ``how`` is uninstrument, settings-off, off-and-on-again or on."""
    if how == "uninstrument":
        signal_tracing.uninstrument()
    elif how == "settings-off":
        switched = override_settings(SIGNAL_TRACING={**settings.SIGNAL_TRACING, "ENABLED": False})
        switched.enable()
        _override.append(switched)
    elif how == "off-and-on-again":
        signal_tracing.uninstrument()
        signal_tracing.instrument()
    elif how == "on":
        if _override:
            _override.pop().disable()
        else:
            signal_tracing.instrument()
    else:
        raise ValueError(f"no such switch: {how}")


def let_go() -> None:
    """Let the held request go on."""
    inside.clear()
    resume.set()
