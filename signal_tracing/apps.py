from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

from signal_tracing.conf import SETTING_NAME, read_setting, validated_config


def _setting_changed(*, setting: str, enter: bool = True, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        from signal_tracing.instrumentation import apply_settings

        if enter:
            # A bad value raises ImproperlyConfigured here; override_settings then puts the
            # old value back (and tells us, enter=False), so tracing is left as it was.
            validated_config(read_setting())
        apply_settings()


class SignalTracingConfig(AppConfig):
    name = "signal_tracing"
    verbose_name = "Signal tracing"

    def ready(self) -> None:
        from signal_tracing import checks  # noqa: F401  (registers the system checks)
        from signal_tracing.exporting import set_up_export
        from signal_tracing.instrumentation import apply_settings, effective_config

        # Strong reference and a dispatch_uid: the toggle must survive garbage collection
        # and repeated ready() calls in test runners.
        setting_changed.connect(
            _setting_changed, weak=False, dispatch_uid="signal_tracing.setting_changed"
        )
        # Before tracing starts, so start-up spans already go to the exporter it installs.
        set_up_export(effective_config())
        apply_settings()
