"""Requesting and checking codes: what the HTML views and the JSON API both call."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from sms.models import SendStatus, SmsCode
from sms.receivers import verified_cache_key
from sms.signals import sms_code_verified

SEND_FAILED = "The SMS could not be sent. Please try again later."
WRONG_CODE = "The mobile number or the code is wrong."
USED_CODE = "This code has already been used. Request a new one."
EXPIRED_CODE = "This code has expired. Request a new one."


def request_code(mobile: str, sms_type: int, device_sn: str = "") -> SmsCode:
    """Create a code; its post_save receiver sends it (see ``send_status`` for the outcome).

    The row and its send status are committed together; receivers that defer work with
    ``transaction.on_commit`` run it when this block commits.
    """
    with transaction.atomic():
        return SmsCode.objects.create(mobile=mobile, sms_type=sms_type, device_sn=device_sn)


def verify_code(mobile: str, sms_code: str, sms_type: int) -> SmsCode:
    """Mark the matching code used and return it, or raise ``ValidationError``.

    The error's ``code`` is ``"wrong"``, ``"used"`` or ``"expired"``. Unlike the seed, used and
    expired codes are refused, and codes the gateway failed to send never match.
    """
    with transaction.atomic():
        # select_for_update: two requests racing with the same code can't both succeed
        # (on databases that lock rows; SQLite serialises writers anyway).
        code = (
            SmsCode.objects.select_for_update()
            .filter(
                mobile=mobile,
                sms_code=sms_code,
                sms_type=sms_type,
                send_status=SendStatus.SUCCESS,
            )
            .order_by("-create_time", "-pk")
            .first()
        )
        if code is None:
            raise ValidationError(WRONG_CODE, code="wrong")
        if code.used:
            raise ValidationError(USED_CODE, code="used")
        if code.is_expired(timezone.now()):
            raise ValidationError(EXPIRED_CODE, code="expired")
        code.used = True
        # The seed's guard: this save must not send another SMS from the post_save receiver.
        code._disable_post_save = True  # type: ignore[attr-defined]
        code.save(update_fields=["used"])
    sms_code_verified.send(sender=SmsCode, sms_code=code)
    return code


def recently_verified(mobile: str, sms_type: int) -> bool:
    """Whether ``mobile`` passed verification for ``sms_type`` in the last few minutes."""
    return bool(cache.get(verified_cache_key(mobile, sms_type), False))
