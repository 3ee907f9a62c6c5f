"""Golden traces: each example flow, driven through the test client, as its whole span tree.

Each tree is the spans one flow produced, rendered by
``signal_tracing.testing.render_spans``: one line per span, children indented, then the
attributes named in ``keys``. docs/tutorial.md shows these trees.

``root=`` is the flow's own root span (the request or management command scope that
``signal_tracing.lifecycle`` opens); the tree body is what happened beneath it.
"""

from __future__ import annotations

import datetime
import json
import textwrap
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models.signals import post_save
from django.test import Client
from django.utils import timezone
from kitchen.models import Topping
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sms import alternatives, receivers
from sms.backends import SmsSendError, get_backend
from sms.models import SendStatus, SmsCode

from signal_tracing import attributes as attrs
from signal_tracing.testing import render_spans

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

    # One receiver each: post_save and sms_code_sent get a single merged span. Django's own
    # receivers (request_started's and request_finished's) have no span of their own: their
    # firing's span names them.
    assert_trace(
        exporter,
        """
        request_started send django.signal.receivers.django=('django.db.reset_queries',)
        post_save sms.receivers.send_sms_code
          sms_code_sent sms.receivers.log_code_sent
        request_finished send django.signal.receivers.django=('django.core.cache.close_caches', \
'django.core.handlers.base.reset_urlconf')
        """,
        root="POST api/sms/code/",
        keys=(*KEYS, attrs.SIGNAL_RECEIVERS_DJANGO),
    )


def test_django_receivers_get_spans_of_their_own_when_asked(
    client: Client, settings: Any, exporter: InMemorySpanExporter
) -> None:
    settings.SIGNAL_TRACING = {"DJANGO_RECEIVERS": "span"}
    exporter.clear()

    assert post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1}) == 201

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
        root="POST api/sms/code/",
    )


def test_the_lean_configuration_counts_firings_of_djangos_receivers_alone(
    client: Client, settings: Any, exporter: InMemorySpanExporter
) -> None:
    settings.SIGNAL_TRACING = {"DJANGO_RECEIVERS": "count"}
    exporter.clear()

    assert post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1}) == 201

    # request_started and request_finished are counted on the request span; every app
    # receiver keeps its span.
    assert_trace(
        exporter,
        """
        post_save sms.receivers.send_sms_code
          sms_code_sent sms.receivers.log_code_sent
        """,
        root="POST api/sms/code/",
    )
    [request] = [span for span in exporter.get_finished_spans() if span.parent is None]
    counts = request.attributes[attrs.SIGNAL_COUNTS]
    assert [line.split(" (")[0] for line in counts] == [
        "request_finished None x1",
        "request_started django.test.client.ClientHandler x1",
    ]


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
        request_started send
        post_save sms.receivers.send_sms_code
          post_save sms.receivers.send_sms_code django.signal.reentrant=True
        request_finished send
        """,
        root="POST api/sms/code/ error.type=502 !ERROR",
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
        request_started send
        post_save sms.receivers.send_sms_code
        sms_code_verified send
          sms.receivers.log_code_verified
          sms.receivers.remember_verified_mobile django.signal.receiver.async=True
        request_finished send
        """,
        root="POST api/sms/verify/",
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
        request_started send
        request_finished send
        """,
        root="POST api/sms/verify/",
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
        request_started send
        request_finished send
        """,
        root="POST api/sms/verify/",
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
        request_started send
        m2m_changed kitchen.receivers.update_price django.signal.m2m.action=pre_add
        m2m_changed kitchen.receivers.update_price django.signal.m2m.action=post_add
        pizza_done send_robust django.signal.receivers.failed=1
          kitchen.receivers.announce_pizza
          kitchen.receivers.count_toppings
          kitchen.receivers.notify_courier error.type=kitchen.receivers.CourierUnavailable !ERROR
        request_finished send
        """,
        root="POST kitchen/",
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
        root="manage.py purge_sms_codes",
    )
    assert SmsCode.objects.count() == 1


# The tutorial's alternatives to the seed's receiver (sms/alternatives.py), swapped in.


@pytest.fixture
def swap_receiver() -> Iterator[Callable[[Callable[..., None]], None]]:
    swapped: list[Callable[..., None]] = []

    def swap(replacement: Callable[..., None]) -> None:
        post_save.disconnect(receivers.send_sms_code, sender=SmsCode)
        post_save.connect(replacement, sender=SmsCode)
        swapped.append(replacement)

    yield swap
    for replacement in swapped:
        post_save.disconnect(replacement, sender=SmsCode)
    post_save.connect(receivers.send_sms_code, sender=SmsCode)


def send_sms_code_without_the_guard(
    sender: type[SmsCode], instance: SmsCode, **kwargs: Any
) -> None:
    try:
        get_backend().send_code(instance.mobile, instance.sms_code)
    except SmsSendError:
        instance.send_status = SendStatus.FAILURE
        instance.save()


@pytest.mark.usefixtures("failing_gateway")
def test_without_the_guard_the_nested_save_recurses_until_python_gives_up(
    swap_receiver: Callable[[Callable[..., None]], None],
    exporter: InMemorySpanExporter,
) -> None:
    swap_receiver(send_sms_code_without_the_guard)

    with pytest.raises(RecursionError):
        SmsCode.objects.create(mobile=MOBILE, sms_type=1)

    # A tower of post_save firings, each inside the previous one, all failed.
    spans = sorted(exporter.get_finished_spans(), key=lambda span: span.start_time or 0)
    assert len(spans) > 20
    assert {span.name for span in spans} == {
        "post_save tests.example_site.test_golden_traces.send_sms_code_without_the_guard"
    }
    assert [span.attributes[attrs.SIGNAL_DEPTH] for span in spans] == list(range(len(spans)))
    assert [span.attributes.get(attrs.SIGNAL_REENTRANT, False) for span in spans] == [
        False,
        *[True] * (len(spans) - 1),
    ]
    assert {span.attributes[attrs.ERROR_TYPE] for span in spans} == {"builtins.RecursionError"}


@pytest.mark.usefixtures("failing_gateway")
def test_a_failure_recorded_with_queryset_update_saves_once(
    client: Client,
    swap_receiver: Callable[[Callable[..., None]], None],
    exporter: InMemorySpanExporter,
) -> None:
    swap_receiver(alternatives.send_sms_code_with_update)

    assert post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1}) == 502

    # update() sends no signals: no nested post_save, so no guard is needed.
    assert_trace(
        exporter,
        """
        request_started send
        post_save sms.alternatives.send_sms_code_with_update
        request_finished send
        """,
        root="POST api/sms/code/ error.type=502 !ERROR",
    )
    assert SmsCode.objects.get().send_status == SendStatus.FAILURE


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_seeds_receiver_runs_inside_request_codes_transaction(
    client: Client, settings: Any, exporter: InMemorySpanExporter
) -> None:
    settings.SMS_BACKEND = "sms.backends.console.SmsBackend"
    exporter.clear()

    assert post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1}) == 201

    # request_code() saves inside transaction.atomic(): the seed's receiver calls the gateway
    # there. Model signals carry django.signal.in_atomic_block; others have none.
    assert_trace(
        exporter,
        """
        request_started send
        post_save sms.receivers.send_sms_code django.signal.in_atomic_block=True
          sms_code_sent sms.receivers.log_code_sent
        request_finished send
        """,
        root="POST api/sms/code/",
        keys=(attrs.IN_ATOMIC_BLOCK,),
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sending_on_commit_moves_the_delivery_out_of_post_save(
    client: Client,
    swap_receiver: Callable[[Callable[..., None]], None],
    exporter: InMemorySpanExporter,
) -> None:
    swap_receiver(alternatives.send_sms_code_on_commit)

    assert post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1}) == 201

    # post_save only schedules the delivery; it runs when request_code's transaction
    # commits, so sms_code_sent is no longer nested in post_save.
    assert_trace(
        exporter,
        """
        request_started send
        post_save sms.alternatives.send_sms_code_on_commit
        sms_code_sent sms.receivers.log_code_sent
        request_finished send
        """,
        root="POST api/sms/code/",
    )
