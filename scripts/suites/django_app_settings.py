"""Django's own test settings with ``"signal_tracing"`` in ``INSTALLED_APPS``.

``runtests.py`` replaces ``INSTALLED_APPS`` with its own module-level list
``ALWAYS_INSTALLED_APPS`` (plus the test apps), so the app is added to that list: the settings
module is imported while ``runtests.py`` runs as ``__main__``, before it reads the list.
The global tracer provider is the counting one (``SUITES_TRACE=global``); the app's
``ready()`` instruments with it, and test spans are on because it is a real SDK provider.
The run's own ``SIGNAL_TRACING`` keys come from ``SUITES_SIGNAL_TRACING`` (JSON).
"""

import json
import os
import sys

from test_sqlite import *  # noqa: F403

SIGNAL_TRACING = {"ENABLED": True, **json.loads(os.environ.get("SUITES_SIGNAL_TRACING", "{}"))}

_always = getattr(sys.modules["__main__"], "ALWAYS_INSTALLED_APPS", None)
if _always is None:
    raise RuntimeError("django_app_settings is meant for Django's tests/runtests.py")
if "signal_tracing" not in _always:
    _always.append("signal_tracing")
