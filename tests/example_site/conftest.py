from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.core.cache import cache
from sms.backends import SmsMessage
from sms.backends.locmem import outbox as locmem_outbox

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings


@pytest.fixture(autouse=True)
def _clean_slate() -> Iterator[None]:
    """The in-memory outbox and the cache outlive a test; empty them around each one."""
    locmem_outbox.clear()
    cache.clear()
    yield
    locmem_outbox.clear()
    cache.clear()


@pytest.fixture
def outbox() -> list[SmsMessage]:
    """Messages sent through ``sms.backends.locmem.SmsBackend`` (the test settings' gateway)."""
    return locmem_outbox


@pytest.fixture
def failing_gateway(settings: Settings) -> None:
    """Every SMS fails. Request it before ``exporter`` so its setting_changed isn't traced."""
    settings.SMS_BACKEND = "sms.backends.failing.SmsBackend"
