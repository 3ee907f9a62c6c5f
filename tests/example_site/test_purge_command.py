from __future__ import annotations

import datetime
import io
import logging

import pytest
from django.core.management import call_command
from django.utils import timezone
from sms.models import SmsCode

pytestmark = pytest.mark.django_db


@pytest.fixture
def codes() -> dict[str, SmsCode]:
    now = timezone.now()
    return {
        "fresh": SmsCode.objects.create(mobile="13800138000", sms_type=1),
        "expired": SmsCode.objects.create(
            mobile="13900139000", sms_type=1, create_time=now - datetime.timedelta(minutes=6)
        ),
        "expired_used": SmsCode.objects.create(
            mobile="13700137000",
            sms_type=2,
            create_time=now - datetime.timedelta(days=2),
            used=True,
        ),
    }


def purge(*args: str) -> str:
    stdout = io.StringIO()
    call_command("purge_sms_codes", *args, stdout=stdout)
    return stdout.getvalue()


def test_deletes_only_expired_codes(
    codes: dict[str, SmsCode], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sms")

    assert purge() == "Deleted 2 expired SMS code(s).\n"

    assert list(SmsCode.objects.all()) == [codes["fresh"]]
    # The post_delete receiver saw each row.
    assert {m for m in caplog.messages if m.startswith("Deleted SMS code")} == {
        f"Deleted SMS code {codes['expired'].pk} for 139****9000 (used=False)",
        f"Deleted SMS code {codes['expired_used'].pk} for 137****7000 (used=True)",
    }


def test_rows_without_an_expiry_are_purged(codes: dict[str, SmsCode]) -> None:
    SmsCode.objects.bulk_create([SmsCode(mobile="13600136000", sms_type=1)])  # skips save()
    assert purge() == "Deleted 3 expired SMS code(s).\n"
    assert list(SmsCode.objects.all()) == [codes["fresh"]]


def test_dry_run_only_counts(codes: dict[str, SmsCode]) -> None:
    assert purge("--dry-run") == "2 expired SMS code(s) would be deleted.\n"
    assert SmsCode.objects.count() == 3


def test_nothing_to_purge() -> None:
    assert purge() == "Deleted 0 expired SMS code(s).\n"
