"""The JSON endpoints ``POST /api/sms/code/`` and ``POST /api/sms/verify/``."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from sms.backends import SmsMessage
from sms.models import SendStatus, SmsCode
from sms.verification import recently_verified

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"
# str.isdigit() and \d accept these; an SMS gateway would not.
FULLWIDTH_MOBILE = "".join(chr(0xFF10 + int(digit)) for digit in MOBILE)


def post_json(client: Client, url: str, payload: Any) -> HttpResponse:
    return client.post(url, json.dumps(payload), content_type="application/json")


def errors(response: HttpResponse) -> dict[str, list[str]]:
    """Field name -> error codes."""
    body = json.loads(response.content)
    return {field: [error["code"] for error in items] for field, items in body["errors"].items()}


def request_code(client: Client, **payload: Any) -> HttpResponse:
    return post_json(client, "/api/sms/code/", {"mobile": MOBILE, "sms_type": 1, **payload})


def verify(client: Client, sms_code: str, **payload: Any) -> HttpResponse:
    data = {"mobile": MOBILE, "sms_code": sms_code, "sms_type": 1, **payload}
    return post_json(client, "/api/sms/verify/", data)


class TestRequestCode:
    def test_creates_a_code_and_sends_it(
        self, client: Client, outbox: list[SmsMessage], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="sms")

        response = request_code(client, device_sn="SN-1")

        assert response.status_code == 201
        code = SmsCode.objects.get()
        assert (code.mobile, code.sms_type, code.device_sn) == (MOBILE, 1, "SN-1")
        assert code.send_status == SendStatus.SUCCESS
        assert response.json() == {
            "mobile": MOBILE,
            "sms_type": 1,
            "expire_time": code.expire_time.isoformat(timespec="milliseconds").replace(  # type: ignore[union-attr]
                "+00:00", "Z"
            ),
        }
        assert outbox == [
            SmsMessage(
                MOBILE, f"Your verification code is {code.sms_code}. It expires in 5 minutes."
            )
        ]
        assert "SMS code sent to 138****8000" in caplog.messages

    def test_the_code_is_never_in_the_response(self, client: Client) -> None:
        response = request_code(client)
        assert SmsCode.objects.get().sms_code not in response.content.decode()

    def test_accepts_numbers_as_json_numbers(self, client: Client) -> None:
        response = post_json(client, "/api/sms/code/", {"mobile": 13800138000, "sms_type": 2})
        assert response.status_code == 201
        assert SmsCode.objects.get().sms_type == 2

    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            ({"mobile": "1380013800", "sms_type": 1}, {"mobile": ["invalid_mobile"]}),
            ({"mobile": "138001380001", "sms_type": 1}, {"mobile": ["invalid_mobile"]}),
            ({"mobile": "1380013800a", "sms_type": 1}, {"mobile": ["invalid_mobile"]}),
            ({"mobile": FULLWIDTH_MOBILE, "sms_type": 1}, {"mobile": ["invalid_mobile"]}),
            ({"mobile": MOBILE, "sms_type": 3}, {"sms_type": ["invalid_choice"]}),
            ({"mobile": MOBILE}, {"sms_type": ["required"]}),
            ({}, {"mobile": ["required"], "sms_type": ["required"]}),
            ({"mobile": None, "sms_type": 1}, {"mobile": ["required"]}),
            ({"mobile": [MOBILE], "sms_type": 1}, {"mobile": ["invalid_type"]}),
            ({"mobile": MOBILE, "sms_type": True}, {"sms_type": ["invalid_type"]}),
            ({"mobile": MOBILE, "sms_type": {"x": 1}}, {"sms_type": ["invalid_type"]}),
            (
                {"mobile": MOBILE, "sms_type": 1, "device_sn": "x" * 65},
                {"device_sn": ["max_length"]},
            ),
        ],
    )
    def test_bad_fields_get_400_with_field_errors(
        self, client: Client, payload: dict[str, Any], expected: dict[str, list[str]]
    ) -> None:
        response = post_json(client, "/api/sms/code/", payload)

        assert response.status_code == 400
        assert errors(response) == expected
        assert not SmsCode.objects.exists()

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            (b"{not json", "invalid_json"),
            (b"\xff\xfe", "invalid_json"),
            (b"[" * 100_000, "invalid_json"),
            (b'["13800138000", 1]', "not_object"),
            (b'"13800138000"', "not_object"),
            (b"  ", "invalid_json"),
        ],
    )
    def test_a_body_that_is_not_a_json_object_gets_400(
        self, client: Client, body: bytes, code: str
    ) -> None:
        response = client.post("/api/sms/code/", body, content_type="application/json")
        assert response.status_code == 400
        assert errors(response) == {"__all__": [code]}

    def test_other_content_types_get_415(self, client: Client) -> None:
        response = client.post("/api/sms/code/", {"mobile": MOBILE, "sms_type": 1})
        assert response.status_code == 415
        assert errors(response) == {"__all__": ["unsupported_media_type"]}
        assert not SmsCode.objects.exists()

    def test_json_with_a_charset_is_json(self, client: Client) -> None:
        response = client.post(
            "/api/sms/code/",
            json.dumps({"mobile": MOBILE, "sms_type": 1}),
            content_type="application/json; charset=utf-8",
        )
        assert response.status_code == 201

    def test_only_post_is_allowed(self, client: Client) -> None:
        assert client.get("/api/sms/code/").status_code == 405
        assert client.get("/api/sms/verify/").status_code == 405

    def test_needs_no_csrf_token(self) -> None:
        response = request_code(Client(enforce_csrf_checks=True))
        assert response.status_code == 201

    @pytest.mark.usefixtures("failing_gateway")
    def test_a_gateway_failure_is_recorded_and_reported_as_502(
        self, client: Client, outbox: list[SmsMessage], caplog: pytest.LogCaptureFixture
    ) -> None:
        response = request_code(client)

        assert response.status_code == 502
        assert errors(response) == {"__all__": ["sms_send_failed"]}
        # One row, saved twice: created, then marked failed by the receiver (no recursion).
        code = SmsCode.objects.get()
        assert code.send_status == SendStatus.FAILURE
        assert outbox == []
        assert caplog.messages == [
            "SMS to 138****8000 failed: the SMS provider rejected the message (simulated failure)",
            "Bad Gateway: /api/sms/code/",
        ]


class TestVerifyCode:
    @pytest.fixture
    def code(self, client: Client) -> SmsCode:
        assert request_code(client).status_code == 201
        return SmsCode.objects.get()

    def test_a_good_code_is_accepted_once(self, client: Client, code: SmsCode) -> None:
        response = verify(client, code.sms_code)

        assert response.status_code == 200
        assert response.json() == {"mobile": MOBILE, "sms_type": 1, "verified": True}
        code.refresh_from_db()
        assert code.used
        # sms_code_verified's async receiver remembered the number.
        assert recently_verified(MOBILE, 1)
        assert not recently_verified(MOBILE, 2)

        again = verify(client, code.sms_code)
        assert again.status_code == 400
        assert again.json()["errors"]["sms_code"] == [
            {"message": "This code has already been used. Request a new one.", "code": "used"}
        ]

    def test_marking_used_sends_no_second_sms(
        self, client: Client, code: SmsCode, outbox: list[SmsMessage]
    ) -> None:
        assert len(outbox) == 1
        verify(client, code.sms_code)
        assert len(outbox) == 1

    def test_a_wrong_code_is_refused(self, client: Client, code: SmsCode) -> None:
        wrong = f"{(int(code.sms_code) + 1) % 1_000_000:06d}"
        response = verify(client, wrong)

        assert response.status_code == 400
        assert response.json()["errors"]["sms_code"] == [
            {"message": "The mobile number or the code is wrong.", "code": "wrong"}
        ]
        code.refresh_from_db()
        assert not code.used
        assert not recently_verified(MOBILE, 1)

    def test_the_code_only_works_for_its_number_and_purpose(
        self, client: Client, code: SmsCode
    ) -> None:
        assert errors(verify(client, code.sms_code, mobile="13900139000")) == {
            "sms_code": ["wrong"]
        }
        assert errors(verify(client, code.sms_code, sms_type=2)) == {"sms_code": ["wrong"]}

    def test_an_expired_code_is_refused(self, client: Client, code: SmsCode) -> None:
        SmsCode.objects.filter(pk=code.pk).update(
            expire_time=timezone.now() - datetime.timedelta(seconds=1)
        )
        response = verify(client, code.sms_code)

        assert response.status_code == 400
        assert response.json()["errors"]["sms_code"] == [
            {"message": "This code has expired. Request a new one.", "code": "expired"}
        ]
        code.refresh_from_db()
        assert not code.used

    @pytest.mark.usefixtures("failing_gateway")
    def test_a_code_that_was_never_delivered_is_refused(self, client: Client) -> None:
        assert request_code(client).status_code == 502
        undelivered = SmsCode.objects.get()
        assert errors(verify(client, undelivered.sms_code)) == {"sms_code": ["wrong"]}

    def test_the_newest_matching_code_decides(self, client: Client) -> None:
        old = timezone.now() - datetime.timedelta(hours=1)
        SmsCode.objects.create(mobile=MOBILE, sms_type=1, sms_code="123456", create_time=old)
        SmsCode.objects.create(mobile=MOBILE, sms_type=1, sms_code="123456")
        assert verify(client, "123456").status_code == 200
        assert list(SmsCode.objects.order_by("create_time").values_list("used", flat=True)) == [
            False,
            True,
        ]

    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            ({"sms_code": "12345"}, {"sms_code": ["invalid_sms_code"]}),
            ({"sms_code": "abcdef"}, {"sms_code": ["invalid_sms_code"]}),
            ({"sms_code": ""}, {"sms_code": ["required"]}),
            ({"mobile": "123"}, {"mobile": ["invalid_mobile"]}),
            ({"sms_type": "register"}, {"sms_type": ["invalid_choice"]}),
            ({"sms_code": ["123456"]}, {"sms_code": ["invalid_type"]}),
        ],
    )
    def test_bad_fields_get_400_with_field_errors(
        self, client: Client, payload: dict[str, Any], expected: dict[str, list[str]]
    ) -> None:
        data = {"mobile": MOBILE, "sms_code": "123456", "sms_type": 1, **payload}
        response = post_json(client, "/api/sms/verify/", data)
        assert response.status_code == 400
        assert errors(response) == expected
