"""The HTML pages ``/sms/code/`` and ``/sms/verify/``, and the home page."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from sms.backends import SmsMessage
from sms.models import SendStatus, SmsCode

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"


def test_home_page_links_every_flow(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    for url in ("/sms/code/", "/sms/verify/", "/kitchen/", "/api/sms/code/", "/api/sms/verify/"):
        assert url in response.content.decode()


def test_request_page_has_a_form_with_the_api_field_names(client: Client) -> None:
    response = client.get("/sms/code/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="mobile"' in html
    assert 'name="sms_type"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_requesting_a_code_leads_to_the_prefilled_verify_page(
    client: Client, outbox: list[SmsMessage]
) -> None:
    response = client.post("/sms/code/", {"mobile": MOBILE, "sms_type": "2"}, follow=True)

    assert response.redirect_chain == [(f"/sms/verify/?mobile={MOBILE}&sms_type=2", 302)]
    html = response.content.decode()
    assert "A code was sent to 138****8000. It expires in 5 minutes." in html
    assert f'value="{MOBILE}"' in html
    assert '<option value="2" selected>' in html
    assert [message.mobile for message in outbox] == [MOBILE]
    assert SmsCode.objects.get().sms_type == 2


def test_a_bad_number_redisplays_the_form_with_400(client: Client) -> None:
    response = client.post("/sms/code/", {"mobile": "12345", "sms_type": "1"})
    assert response.status_code == 400
    assert "Enter an 11-digit mobile number, digits only." in response.content.decode()
    assert not SmsCode.objects.exists()


@pytest.mark.usefixtures("failing_gateway")
def test_a_gateway_failure_is_shown_with_502(client: Client) -> None:
    response = client.post("/sms/code/", {"mobile": MOBILE, "sms_type": "1"})
    assert response.status_code == 502
    assert "The SMS could not be sent. Please try again later." in response.content.decode()
    assert SmsCode.objects.get().send_status == SendStatus.FAILURE


def test_verifying_a_good_code(client: Client) -> None:
    code = SmsCode.objects.create(mobile=MOBILE, sms_type=1)
    data = {"mobile": MOBILE, "sms_code": code.sms_code, "sms_type": "1"}

    response = client.post("/sms/verify/", data, follow=True)

    assert response.redirect_chain == [("/sms/verify/", 302)]
    assert "Verified: 138****8000 is yours." in response.content.decode()
    code.refresh_from_db()
    assert code.used


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sms_code": "000000"}, "The mobile number or the code is wrong."),
        ({"used": True}, "This code has already been used. Request a new one."),
        (
            {"expire_time": timezone.now() - datetime.timedelta(minutes=1)},
            "This code has expired. Request a new one.",
        ),
    ],
)
def test_refused_codes_say_why(client: Client, change: dict[str, object], message: str) -> None:
    code = SmsCode.objects.create(mobile=MOBILE, sms_type=1, sms_code="123456")
    SmsCode.objects.filter(pk=code.pk).update(**change)

    response = client.post(
        "/sms/verify/", {"mobile": MOBILE, "sms_code": "123456", "sms_type": "1"}
    )

    assert response.status_code == 400
    assert message in response.content.decode()


def test_forms_are_csrf_protected() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/sms/code/", {"mobile": MOBILE, "sms_type": "1"}).status_code == 403
    assert client.post("/sms/verify/", {"mobile": MOBILE}).status_code == 403
    assert client.post("/kitchen/", {"size": "M"}).status_code == 403
    assert not SmsCode.objects.exists()


def test_forms_work_with_their_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/sms/code/")
    token = page.context["csrf_token"]
    response = client.post(
        "/sms/code/", {"mobile": MOBILE, "sms_type": "1", "csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 302
