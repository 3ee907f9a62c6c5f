"""SMS gateways, chosen by ``settings.SMS_BACKEND`` the way Django chooses e-mail backends."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from sms.backends.base import BaseSmsBackend, SmsMessage, SmsSendError

__all__ = ["DEFAULT_BACKEND", "BaseSmsBackend", "SmsMessage", "SmsSendError", "get_backend"]

DEFAULT_BACKEND = "sms.backends.console.SmsBackend"


def get_backend(backend: str | None = None, **options: Any) -> BaseSmsBackend:
    """Return an instance of ``backend`` (a dotted path), or of ``settings.SMS_BACKEND``."""
    path = backend or getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND)
    backend_class = import_string(path)
    instance = backend_class(**options)
    if not isinstance(instance, BaseSmsBackend):
        raise TypeError(f"SMS_BACKEND {path!r} is not a sms.backends.base.BaseSmsBackend.")
    return instance
