"""The in-memory backend behind a fixed delay, standing in for a provider's round trip.

The delay is ``SMS_SLOW_BACKEND_LATENCY_MS`` (default 50 ms) or the ``latency_ms`` option.
Benchmarks use it to see what tracing costs next to real receiver work.
"""

from __future__ import annotations

import time

from django.conf import settings

from sms.backends import locmem
from sms.backends.base import SmsMessage

DEFAULT_LATENCY_MS = 50.0


class SmsBackend(locmem.SmsBackend):
    def __init__(self, latency_ms: float | None = None) -> None:
        if latency_ms is None:
            latency_ms = getattr(settings, "SMS_SLOW_BACKEND_LATENCY_MS", DEFAULT_LATENCY_MS)
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, not {latency_ms!r}.")
        self.latency_ms = float(latency_ms)

    def send(self, message: SmsMessage) -> None:
        time.sleep(self.latency_ms / 1000)
        super().send(message)
