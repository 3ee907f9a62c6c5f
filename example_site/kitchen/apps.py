from __future__ import annotations

from django.apps import AppConfig


class KitchenConfig(AppConfig):
    name = "kitchen"
    verbose_name = "Kitchen"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kitchen import receivers  # noqa: F401  (connects them)
