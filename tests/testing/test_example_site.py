"""The plugin's fixtures on the example site's flows, in our own suite."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models.signals import m2m_changed, post_save, pre_save
from kitchen.baking import bake
from kitchen.models import Pizza, Topping
from kitchen.receivers import count_toppings, notify_courier, update_price
from kitchen.signals import pizza_done
from sms.models import SmsCode
from sms.receivers import send_sms_code
from sms.signals import sms_code_sent, sms_code_verified
from sms.verification import request_code, verify_code

from signal_tracing.pytest_plugin import SignalAssertNumSent
from signal_tracing.testing import Outcome, Sent, SignalCapture

pytestmark = pytest.mark.django_db


def test_baking_sends_m2m_changed_around_the_toppings_then_pizza_done(
    signal_capture: SignalCapture,
) -> None:
    ham, olives = Topping.objects.filter(name__in=["ham", "olives"]).order_by("name")

    baked = bake("L", [ham, olives])

    through = Pizza.toppings.through
    signal_capture.assert_order(
        Sent(post_save, sender=Pizza, created=True),
        Sent(m2m_changed, sender=through, action="pre_add", pk_set={ham.pk, olives.pk}),
        Sent(m2m_changed, sender=through, action="post_add", receiver=update_price),
        Sent(pizza_done, sender=Pizza, toppings=["ham", "olives"], size="L"),
    )
    [done] = signal_capture.filter(pizza_done)
    assert [(call.receiver_name, call.outcome, call.is_async) for call in done.calls] == [
        ("kitchen.receivers.announce_pizza", Outcome.OK, False),
        ("kitchen.receivers.count_toppings", Outcome.OK, False),
        ("kitchen.receivers.notify_courier", Outcome.HANDLED, True),
    ]
    assert baked.failures[0][0] == "kitchen.receivers.notify_courier"
    # count_toppings uses QuerySet.update(): no save signals for the toppings.
    signal_capture.assert_not_sent(pre_save, sender=Topping)
    signal_capture.assert_sent(pizza_done, receiver=count_toppings, times=1)
    signal_capture.assert_sent(pizza_done, receiver=notify_courier, times=1)


def test_a_full_sms_round_trip_sends_each_custom_signal_once(
    signal_assert_num_sent: SignalAssertNumSent,
) -> None:
    with signal_assert_num_sent(1, sms_code_sent, sender=SmsCode):
        code = request_code("13900139000", sms_type=2)
    with signal_assert_num_sent(1, sms_code_verified, sms_code=code) as captured:
        verify_code("13900139000", code.sms_code, sms_type=2)
    captured.assert_sent(post_save, receiver=send_sms_code, update_fields=frozenset({"used"}))


def test_the_tree_flags_reentrant_saves_and_async_receivers(
    signal_capture: SignalCapture, settings: Any
) -> None:
    settings.SMS_BACKEND = "sms.backends.failing.SmsBackend"
    signal_capture.clear()  # the setting_changed above

    request_code("13900139000", sms_type=1)
    bake("S", [])

    tree = signal_capture.render().splitlines()
    assert "  sms.receivers.send_sms_code: ok" in tree
    assert any(
        line.startswith("    post_save send sender=sms.SmsCode") and line.endswith("[reentrant]")
        for line in tree
    )
    assert (
        "  kitchen.receivers.notify_courier: handled kitchen.receivers.CourierUnavailable (async)"
        in tree
    )
