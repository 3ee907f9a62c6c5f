"""``manage.py signal_map``: every signal, its receivers, and receivers that never run."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import get_resolver

from signal_tracing.management.formats import RENDERERS
from signal_tracing.management.mapping import build_signal_map


class Command(BaseCommand):
    help = (
        "List every signal known to this project with its receivers (file:line, sync/async, "
        "weak/strong, dispatch_uid, sender filter), and point out receivers connected to "
        "signals that no installed app sends."
    )
    # A map of the wiring is most wanted when something is broken: don't refuse to run
    # because a system check fails.
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=sorted(RENDERERS),
            default="text",
            help="Output format (default: text). mermaid draws signals that have receivers.",
        )
        parser.add_argument(
            "--no-urlconf",
            action="store_false",
            dest="load_urlconf",
            help="Don't import the URLconf first (by default it is imported, as a server does "
            "on its first request, so receivers connected by view modules are seen).",
        )
        parser.add_argument(
            "--fail-on-never-sent",
            action="store_true",
            help="Exit with an error if a receiver is connected to a signal nobody sends.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["load_urlconf"]:
            try:
                get_resolver().url_patterns  # noqa: B018  (imports the URLconf and includes)
            except Exception as error:
                self.stderr.write(f"The URLconf could not be imported ({error!r}); continuing.")
        signal_map = build_signal_map()
        self.stdout.write(RENDERERS[options["format"]](signal_map))
        never_sent = signal_map.never_sent
        if options["fail_on_never_sent"] and never_sent:
            raise CommandError(
                "Receivers are connected to signals that no installed app sends: "
                + ", ".join(entry.path for entry in never_sent)
                + "."
            )
