"""A suite's own settings (``$SUITES_BASE_SETTINGS``) with ``"signal_tracing"`` installed.

The app is appended to ``INSTALLED_APPS``, as the quick start does; ``SIGNAL_TRACING`` is left to
its defaults, but for the keys the run sets in ``SUITES_SIGNAL_TRACING`` (JSON). The counting
provider is the global one (``SUITES_TRACE=global``).
"""

import importlib
import json
import os

_base = importlib.import_module(os.environ["SUITES_BASE_SETTINGS"])
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})
INSTALLED_APPS = [
    *[app for app in _base.INSTALLED_APPS if app != "signal_tracing"],
    "signal_tracing",
]
SIGNAL_TRACING = {
    **getattr(_base, "SIGNAL_TRACING", {}),
    **json.loads(os.environ.get("SUITES_SIGNAL_TRACING", "{}")),
}
