"""Two ways to write the seed's ``send_sms_code`` without its nested save (not connected).

docs/tutorial.md compares their traces with the seed's receiver; the tests swap them in.
Both look at ``created``, so saves that only update a code (marking it used) do nothing here,
and neither needs the ``_disable_post_save`` guard.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import transaction

from sms.backends import SmsSendError, get_backend
from sms.models import SendStatus, SmsCode
from sms.signals import sms_code_sent

logger = logging.getLogger("sms")


# --8<-- [start:alternatives]
def send_sms_code_with_update(
    sender: type[SmsCode], instance: SmsCode, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Send at once; record a failure with ``QuerySet.update()``, which sends no signals."""
    if not created or raw:
        return
    deliver(instance)


def send_sms_code_on_commit(
    sender: type[SmsCode], instance: SmsCode, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Send once the new row is committed: no SMS for a rolled-back code, and no network
    call while the transaction holds its locks."""
    if not created or raw:
        return
    transaction.on_commit(functools.partial(deliver, instance), using=kwargs.get("using"))


def deliver(code: SmsCode) -> None:
    try:
        get_backend().send_code(code.mobile, code.sms_code)
    except SmsSendError as error:
        logger.error("SMS to %s failed: %s", code.masked_mobile, error)
        SmsCode.objects.filter(pk=code.pk).update(send_status=SendStatus.FAILURE)
        code.send_status = SendStatus.FAILURE  # keep the caller's object in step with the row
        return
    sms_code_sent.send(sender=SmsCode, sms_code=code)


# --8<-- [end:alternatives]
