"""A custom command whose arguments must never reach the telemetry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tests.testapp.models import Author


class Command(BaseCommand):
    help = "Create an author named after --name; --password is only accepted, never used."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default="greeted")
        parser.add_argument("--password", default="")
        parser.add_argument("--fail", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["fail"]:
            raise CommandError(f"could not greet {options['name']}")
        Author.objects.create(name=options["name"])
