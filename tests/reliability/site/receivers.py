"""Receivers of the site's signals: cheap, and yielding the GIL so that threads interleave."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.dispatch import receiver

from tests.reliability.site.signals import aprobe, preloaded, probe, probe_detail


@receiver(probe)
def count_probe(sender: Any, request_number: int, **kwargs: Any) -> int:
    time.sleep(0)  # let another request's thread run in the middle of this firing
    return request_number


@receiver(probe)
def send_probe_detail(sender: Any, request_number: int, **kwargs: Any) -> None:
    probe_detail.send(sender=None, request_number=request_number)


@receiver(probe_detail)
def note_probe_detail(sender: Any, **kwargs: Any) -> None:
    time.sleep(0)


@receiver(aprobe)
def count_aprobe(sender: Any, request_number: int, **kwargs: Any) -> int:
    return request_number


@receiver(aprobe)
async def await_aprobe(sender: Any, request_number: int, **kwargs: Any) -> int:
    await asyncio.sleep(0)  # let other requests' tasks run in the middle of this firing
    return request_number


@receiver(preloaded)
def note_preloaded(sender: Any, **kwargs: Any) -> None:
    pass
