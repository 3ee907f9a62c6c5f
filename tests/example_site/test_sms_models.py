from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from sms.models import CODE_LIFETIME, SendStatus, SmsCode, SmsType

pytestmark = pytest.mark.django_db


def test_a_new_code_is_six_random_digits_valid_for_300_seconds() -> None:
    code = SmsCode.objects.create(mobile="13800138000", sms_type=SmsType.REGISTER)

    assert len(code.sms_code) == 6
    assert code.sms_code.isdigit()
    assert code.expire_time == code.create_time + datetime.timedelta(seconds=300)
    assert code.send_status == SendStatus.SUCCESS
    assert not code.used


def test_saving_again_keeps_create_and_expire_times() -> None:
    # The seed reset both times on every save, so marking a code used renewed its lifetime.
    code = SmsCode.objects.create(mobile="13800138000", sms_type=SmsType.REGISTER)
    created, expires = code.create_time, code.expire_time

    code.used = True
    code._disable_post_save = True  # type: ignore[attr-defined]
    code.save()
    code.refresh_from_db()

    assert (code.create_time, code.expire_time) == (created, expires)


def test_codes_differ_between_instances() -> None:
    codes = {SmsCode(mobile="13800138000", sms_type=1).sms_code for _ in range(50)}
    assert len(codes) > 40


def test_expiry_is_judged_against_expire_time() -> None:
    code = SmsCode.objects.create(mobile="13800138000", sms_type=SmsType.REGISTER)
    assert code.expire_time is not None

    assert not code.is_expired(code.expire_time - datetime.timedelta(seconds=1))
    assert code.is_expired(code.expire_time)
    assert SmsCode(mobile="13800138000", sms_type=1, expire_time=None).is_expired()


def test_the_seeds_table_name_and_chinese_verbose_names_are_kept() -> None:
    meta = SmsCode._meta
    assert meta.db_table == "wiseu_smscode"
    assert meta.label == "sms.SmsCode"
    assert str(meta.verbose_name) == "手机验证码"
    assert {field.name: str(field.verbose_name) for field in meta.concrete_fields} == {
        "id": "ID",
        "sms_type": "验证码类型",
        "mobile": "手机号",
        "device_sn": "设备序列号",
        "sms_code": "验证码",
        "send_status": "发送状态",
        "used": "是否被使用",
        "create_time": "创建时间",
        "expire_time": "过期时间",
    }
    assert SmsCode.SMS_TYPE_CHOICES == [(1, "注册"), (2, "忘记密码")]
    assert SmsCode.SEND_STATUS_CHOICES == [(1, "发送成功"), (2, "发送失败")]


def test_logs_and_str_show_a_masked_number() -> None:
    code = SmsCode(mobile="13800138000", sms_type=SmsType.FORGOT_PASSWORD)
    assert code.masked_mobile == "138****8000"
    assert str(code) == "138****8000 (忘记密码)"


def test_create_time_can_be_given_for_old_codes() -> None:
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    code = SmsCode.objects.create(mobile="13800138000", sms_type=1, create_time=long_ago)
    assert code.expire_time == long_ago + CODE_LIFETIME
    assert code.is_expired()
