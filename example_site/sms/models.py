"""The seed's ``SmsCode``, made sound: times are set once, codes come from ``secrets``."""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.db import models
from django.utils import timezone

#: How long a code can be used after it was created (the seed's 300 seconds).
CODE_LIFETIME = datetime.timedelta(seconds=300)


def get_sms_code() -> str:
    """Return a random 6-digit code; ``secrets`` because a guessable code is a login bypass."""
    return f"{secrets.randbelow(1_000_000):06d}"


class SmsType(models.IntegerChoices):
    REGISTER = 1, "注册"
    FORGOT_PASSWORD = 2, "忘记密码"


class SendStatus(models.IntegerChoices):
    SUCCESS = 1, "发送成功"
    FAILURE = 2, "发送失败"


class SmsCode(models.Model):
    # The seed spelled these SMS_TYPE_CHOINCES / SEND_STATUS_CHOINCES; kept as aliases.
    SMS_TYPE_CHOICES = SmsType.choices
    SEND_STATUS_CHOICES = SendStatus.choices

    sms_type = models.IntegerField("验证码类型", choices=SmsType.choices)
    mobile = models.CharField("手机号", max_length=11)
    device_sn = models.CharField("设备序列号", max_length=64, blank=True, default="")
    sms_code = models.CharField("验证码", max_length=6, default=get_sms_code)
    send_status = models.IntegerField(
        "发送状态", choices=SendStatus.choices, default=SendStatus.SUCCESS
    )
    used = models.BooleanField("是否被使用", default=False)
    # The seed used auto_now_add, which cannot be read before the first save, and then reset
    # both times in save() on every save (so marking a code used renewed it). A default is
    # set once, when the object is built, and expire_time is derived from it only once.
    create_time = models.DateTimeField("创建时间", default=timezone.now, editable=False)
    expire_time = models.DateTimeField("过期时间", null=True)

    class Meta:
        verbose_name = "手机验证码"
        verbose_name_plural = verbose_name
        db_table = "wiseu_smscode"
        indexes = [models.Index(fields=["mobile", "sms_type"], name="smscode_mobile_type")]

    def __str__(self) -> str:
        return f"{self.masked_mobile} ({self.get_sms_type_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.expire_time is None:
            self.expire_time = self.create_time + CODE_LIFETIME
        super().save(*args, **kwargs)

    @property
    def masked_mobile(self) -> str:
        """The number as logs show it: phone numbers are personal data."""
        return f"{self.mobile[:3]}****{self.mobile[-4:]}"

    def is_expired(self, now: datetime.datetime | None = None) -> bool:
        # A row without an expiry (bulk_create skips save()) is not trusted.
        return self.expire_time is None or (now or timezone.now()) >= self.expire_time
