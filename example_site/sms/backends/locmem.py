"""Keeps messages in memory, like Django's locmem e-mail backend: for tests."""

from __future__ import annotations

from sms.backends.base import BaseSmsBackend, SmsMessage

#: Every message sent through this backend, oldest first. Tests clear it between runs.
outbox: list[SmsMessage] = []


class SmsBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> None:
        outbox.append(message)
