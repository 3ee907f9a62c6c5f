"""Refuses every message: the provider-error path, on demand."""

from __future__ import annotations

from sms.backends.base import BaseSmsBackend, SmsMessage, SmsSendError


class SmsBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> None:
        raise SmsSendError("the SMS provider rejected the message (simulated failure)")
