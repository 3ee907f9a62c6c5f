from __future__ import annotations

import io
import time

import pytest
from django.test import override_settings
from sms.backends import SmsMessage, SmsSendError, console, failing, get_backend, locmem, slow


def test_the_setting_chooses_the_backend() -> None:
    assert type(get_backend()) is locmem.SmsBackend  # the test settings' choice
    with override_settings(SMS_BACKEND="sms.backends.failing.SmsBackend"):
        assert type(get_backend()) is failing.SmsBackend


def test_console_is_the_default_without_a_setting() -> None:
    with override_settings():
        from django.conf import settings as django_settings

        del django_settings.SMS_BACKEND
        assert type(get_backend()) is console.SmsBackend


def test_a_path_that_is_not_a_backend_is_refused() -> None:
    with pytest.raises(TypeError, match=r"is not a sms\.backends\.base\.BaseSmsBackend"):
        get_backend("builtins.object")


def test_console_prints_the_message_in_a_banner() -> None:
    stream = io.StringIO()
    console.SmsBackend(stream=stream).send_code("13800138000", "123456")
    assert stream.getvalue() == (
        "\n=== SMS to 13800138000 ===\n"
        "Your verification code is 123456. It expires in 5 minutes.\n"
        "========================\n"
    )


def test_locmem_keeps_messages_in_order(outbox: list[SmsMessage]) -> None:
    backend = locmem.SmsBackend()
    backend.send(SmsMessage("13800138000", "one"))
    backend.send(SmsMessage("13900139000", "two"))
    assert outbox == [SmsMessage("13800138000", "one"), SmsMessage("13900139000", "two")]


def test_failing_always_raises(outbox: list[SmsMessage]) -> None:
    with pytest.raises(SmsSendError, match="simulated failure"):
        failing.SmsBackend().send_code("13800138000", "123456")
    assert outbox == []


def test_slow_delivers_after_its_latency(outbox: list[SmsMessage]) -> None:
    backend = slow.SmsBackend(latency_ms=30)
    started = time.perf_counter()
    backend.send_code("13800138000", "123456")
    assert time.perf_counter() - started >= 0.030
    assert [message.mobile for message in outbox] == ["13800138000"]


def test_slow_reads_its_latency_from_settings() -> None:
    with override_settings(SMS_SLOW_BACKEND_LATENCY_MS=5):
        assert slow.SmsBackend().latency_ms == 5.0
    assert slow.SmsBackend().latency_ms == slow.DEFAULT_LATENCY_MS


def test_slow_refuses_a_negative_latency() -> None:
    with pytest.raises(ValueError, match="latency_ms must be >= 0"):
        slow.SmsBackend(latency_ms=-1)
