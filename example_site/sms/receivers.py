"""Receivers of the sms app, connected the two ways the seed shows: connect() and @receiver."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from sms.backends import SmsSendError, get_backend
from sms.models import SendStatus, SmsCode
from sms.signals import sms_code_sent, sms_code_verified

logger = logging.getLogger("sms")

#: How long :func:`sms.verification.recently_verified` remembers a verified number.
VERIFIED_MEMORY_SECONDS = 600


def verified_cache_key(mobile: str, sms_type: int) -> str:
    return f"sms:verified:{sms_type}:{mobile}"


# --8<-- [start:send_sms_code]
def send_sms_code(sender: type[SmsCode], instance: SmsCode, **kwargs: Any) -> None:
    """The seed's receiver: send the code through the gateway after every save.

    It runs on *every* save, not only on creation, which is why the ``_disable_post_save``
    guard exists: a save that must not send an SMS sets it first (see docs/tutorial.md for
    ``created``, ``QuerySet.update()`` and ``transaction.on_commit``, which avoid it).
    """
    # If the instance's _disable_post_save is True, do nothing: the instance.save() below
    # would otherwise call this receiver again, and again.
    if getattr(instance, "_disable_post_save", False) is True:
        return
    if kwargs.get("raw"):  # loaddata: fixtures describe codes, they don't send them
        return
    try:
        get_backend().send_code(instance.mobile, instance.sms_code)
    except SmsSendError as error:
        logger.error("SMS to %s failed: %s", instance.masked_mobile, error)
        instance.send_status = SendStatus.FAILURE
        # Mark the instance before saving again, so the nested post_save returns at once.
        instance._disable_post_save = True  # type: ignore[attr-defined]
        instance.save()
        return
    sms_code_sent.send(sender=sender, sms_code=instance)


post_save.connect(send_sms_code, sender=SmsCode)
# --8<-- [end:send_sms_code]


@receiver(sms_code_sent)
def log_code_sent(sender: type[SmsCode], sms_code: SmsCode, **kwargs: Any) -> None:
    logger.info("SMS code sent to %s", sms_code.masked_mobile)


@receiver(sms_code_verified)
def log_code_verified(sender: type[SmsCode], sms_code: SmsCode, **kwargs: Any) -> None:
    logger.info("SMS code verified for %s", sms_code.masked_mobile)


@receiver(sms_code_verified)
async def remember_verified_mobile(sender: type[SmsCode], sms_code: SmsCode, **kwargs: Any) -> None:
    """Remember the number for a while, so the next step (sign-up, reset) can trust it."""
    await cache.aset(
        verified_cache_key(sms_code.mobile, sms_code.sms_type), True, VERIFIED_MEMORY_SECONDS
    )


@receiver(post_delete, sender=SmsCode)
def log_deleted_code(sender: type[SmsCode], instance: SmsCode, **kwargs: Any) -> None:
    # An audit trail of deletions. Note the cost: any delete receiver turns a bulk DELETE into
    # "load every row, send pre_delete/post_delete for each" (Django's fast delete is off).
    logger.info(
        "Deleted SMS code %s for %s (used=%s)", instance.pk, instance.masked_mobile, instance.used
    )
