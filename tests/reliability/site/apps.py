from __future__ import annotations

from django.apps import AppConfig


class ReliabilitySiteConfig(AppConfig):
    name = "tests.reliability.site"
    label = "reliability_site"

    def ready(self) -> None:
        from tests.reliability.site import receivers  # noqa: F401  (connects them)
