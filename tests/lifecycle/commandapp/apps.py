from django.apps import AppConfig


class CommandAppConfig(AppConfig):
    """Holds the custom management command of the lifecycle tests (no models)."""

    name = "tests.lifecycle.commandapp"
    label = "lifecycle_commandapp"
