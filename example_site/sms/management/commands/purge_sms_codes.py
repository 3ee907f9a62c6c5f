"""``manage.py purge_sms_codes``: delete the codes whose expiry time has passed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q
from django.utils import timezone

from sms.models import SmsCode


class Command(BaseCommand):
    help = "Delete expired SMS verification codes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the codes that would be deleted."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        # Rows without an expiry (bulk_create skips save()) count as expired, as in is_expired().
        expired = SmsCode.objects.filter(
            Q(expire_time__lte=timezone.now()) | Q(expire_time__isnull=True)
        )
        if dry_run:
            self.stdout.write(f"{expired.count()} expired SMS code(s) would be deleted.")
            return
        # QuerySet.delete() sends pre_delete/post_delete for each row because the sms app
        # has a post_delete receiver (see sms/receivers.py).
        deleted, _per_model = expired.delete()
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} expired SMS code(s)."))
