"""Golden traces: each example flow, driven through the test client, as its whole span tree.

Each tree is the spans one flow produced, rendered by ``tests/spantree.py``: one line per span,
children indented, then the attributes named in ``keys``. docs/tutorial.md shows these trees.

When a flow gets a root span of its own (a request or command scope), set ``root=`` on its
``assert_trace`` call to that root's name: the body stays as written, one level deeper.
"""

from __future__ import annotations

import datetime
import json
import textwrap
from collections.abc import Sequence
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from kitchen.models import Topping
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sms.models import SmsCode

from signal_tracing import attributes as attrs
from tests.spantree import render_spans

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"
KEYS = (attrs.SIGNAL_REENTRANT, attrs.SIGNAL_RECEIVERS_FAILED, attrs.ERROR_TYPE)


def assert_trace(
    exporter: InMemorySpanExporter,
    expected: str,
    *,
    root: str | None = None,
    keys: Sequence[str] = KEYS,
) -> None:
    tree = textwrap.dedent(expected).strip("\n")
    if root is not None:
        tree = root + "\n" + textwrap.indent(tree, "  ")
    assert render_spans(exporter.get_finished_spans(), keys) == tree


def post_json(client: Client, url: str, payload: dict[str, Any]) -> int:
    response = client.post(url, json.dumps(payload), content_type="application/json")
    return response.status_code


def new_code(**fields: Any) -> SmsCode:
    """A delivered code, created before tracing starts (so its own spans aren't in the tree)."""
    return SmsCode.objects.create(mobile=MOBILE, sms_type=1, **fields)


def test_request_code_with_the_console_gateway(
    client: Client, settings: Any, exporter: InMemorySpanExporter
) -> None:
    settings.SMS_BACKEND = "sms.backends.console.SmsBackend"
    exporter.clear()  # the setting change above is not part of the flow

    assert post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1}) == 201

    # One receiver each: post_save and sms_code_sent get a single merged span.
    assert_trace(
        exporter,
        """
        request_started django.db.reset_queries
        post_save sms.receivers.send_sms_code
          sms_code_sent sms.receivers.log_code_sent
        request_finished send
          django.core.cache.close_caches
          django.core.handlers.base.reset_urlconf
        """,
    )


@pytest.mark.usefixtures("failing_gateway")
def test_request_code_with_the_failing_gateway(
    client: Client, exporter: InMemorySpanExporter
) -> None:
    assert post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1}) == 502

    # send_sms_code saves the instance again, inside its own post_save: the nested firing is
    # flagged re-entrant, and returns at once thanks to the _disable_post_save guard.
    assert_trace(
        exporter,
        """
        request_started django.db.reset_queries
        post_save sms.receivers.send_sms_code
          post_save sms.receivers.send_sms_code django.signal.reentrant=True
        request_finished send
          django.core.cache.close_caches
          django.core.handlers.base.reset_urlconf
        """,
    )


def test_verify_a_good_code(client: Client, exporter: InMemorySpanExporter) -> None:
    code = new_code()
    exporter.clear()

    payload = {"mobile": MOBILE, "sms_code": code.sms_code, "sms_type": 1}
    assert post_json(client, "/api/sms/verify/", payload) == 200

    # Marking the code used still fires post_save (the guard makes it a no-op); then
    # sms_code_verified reaches a sync and an async receiver.
    assert_trace(
        exporter,
        """
        request_started django.db.reset_queries
        post_save sms.receivers.send_sms_code
        sms_code_verified send
          sms.receivers.log_code_verified
          sms.receivers.remember_verified_mobile django.signal.receiver.async=True
        request_finished send
          django.core.cache.close_caches
          django.core.handlers.base.reset_urlconf
        """,
        keys=(*KEYS, attrs.RECEIVER_ASYNC),
    )


def test_verify_a_wrong_code(client: Client, exporter: InMemorySpanExporter) -> None:
    code = new_code(sms_code="123456")
    exporter.clear()

    payload = {"mobile": MOBILE, "sms_code": "654321", "sms_type": 1}
    assert post_json(client, "/api/sms/verify/", payload) == 400

    # Nothing saved, nothing sent: only the request's own signals.
    assert_trace(
        exporter,
        """
        request_started django.db.reset_queries
        request_finished send
          django.core.cache.close_caches
          django.core.handlers.base.reset_urlconf
        """,
    )
    code.refresh_from_db()
    assert not code.used


def test_verify_an_expired_code(client: Client, exporter: InMemorySpanExporter) -> None:
    code = new_code(create_time=timezone.now() - datetime.timedelta(minutes=10))
    exporter.clear()

    payload = {"mobile": MOBILE, "sms_code": code.sms_code, "sms_type": 1}
    assert post_json(client, "/api/sms/verify/", payload) == 400

    assert_trace(
        exporter,
        """
        request_started django.db.reset_queries
        request_finished send
          django.core.cache.close_caches
          django.core.handlers.base.reset_urlconf
        """,
    )


def test_bake_a_pizza_with_toppings(client: Client, exporter: InMemorySpanExporter) -> None:
    toppings = list(Topping.objects.filter(name__in=["ham", "olives"]).values_list("pk", flat=True))
    exporter.clear()

    response = client.post("/kitchen/", {"size": "L", "toppings": toppings})
    assert response.status_code == 302

    # m2m_changed fires before and after the add; pizza_done goes to three receivers through
    # send_robust(): the async courier one fails, the firing itself does not.
    assert_trace(
        exporter,
        """
        request_started django.db.reset_queries
        m2m_changed kitchen.receivers.update_price django.signal.m2m.action=pre_add
        m2m_changed kitchen.receivers.update_price django.signal.m2m.action=post_add
        pizza_done send_robust django.signal.receivers.failed=1
          kitchen.receivers.announce_pizza
          kitchen.receivers.count_toppings
          kitchen.receivers.notify_courier error.type=kitchen.receivers.CourierUnavailable !ERROR
        request_finished send
          django.core.cache.close_caches
          django.core.handlers.base.reset_urlconf
        """,
        keys=(*KEYS, attrs.KWARG_M2M_ACTION),
    )


def test_purge_expired_codes(exporter: InMemorySpanExporter) -> None:
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    new_code(create_time=an_hour_ago)
    new_code(create_time=an_hour_ago)
    new_code()  # not expired: kept, so no signals
    exporter.clear()

    call_command("purge_sms_codes", stdout=None)

    # A post_delete receiver exists, so QuerySet.delete() sends post_delete for each row
    # (pre_delete too, but nothing listens to it, so it costs nothing and shows nothing).
    assert_trace(
        exporter,
        """
        post_delete sms.receivers.log_deleted_code
        post_delete sms.receivers.log_deleted_code
        """,
    )
    assert SmsCode.objects.count() == 1
