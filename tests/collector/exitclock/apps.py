from __future__ import annotations

import atexit

from django.apps import AppConfig

from tests.collector.exitclock import exit_begins


class ExitClockConfig(AppConfig):
    name = "tests.collector.exitclock"

    def ready(self) -> None:
        atexit.register(exit_begins)
