"""Prints each message, like Django's console e-mail backend: for local runs."""

from __future__ import annotations

import sys
import threading
from typing import IO

from sms.backends.base import BaseSmsBackend, SmsMessage


class SmsBackend(BaseSmsBackend):
    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> None:
        # A banner, so the code stands out among the server's other output.
        with self._lock:
            self.stream.write(f"\n=== SMS to {message.mobile} ===\n{message.text}\n{'=' * 24}\n")
            self.stream.flush()
