"""Settings for benchmarks/request_overhead.py: the example site, as served, on in-memory SQLite.

The example site's own middleware, URLconf and templates; the SMS gateway keeps messages in
memory; no debug toolbar. ``BENCH_SIGNAL_TRACING`` (JSON) installs signal_tracing with that
``SIGNAL_TRACING`` setting; unset, signal_tracing is not installed at all.
"""

from __future__ import annotations

import json
import os

from example_site import settings as site

SECRET_KEY = "benchmarks-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = site.TIME_ZONE
ALLOWED_HOSTS = ["localhost"]
ROOT_URLCONF = site.ROOT_URLCONF
TEMPLATES = site.TEMPLATES
STATIC_URL = site.STATIC_URL
DEFAULT_AUTO_FIELD = site.DEFAULT_AUTO_FIELD
MIDDLEWARE = [name for name in site.MIDDLEWARE if not name.startswith("debug_toolbar")]
INSTALLED_APPS = [
    app for app in site.INSTALLED_APPS if app not in ("debug_toolbar", "signal_tracing")
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
SMS_BACKEND = "sms.backends.locmem.SmsBackend"
# The receivers log at INFO, as on the site; the records go nowhere.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {
        "sms": {"handlers": ["null"], "level": "INFO", "propagate": False},
        "kitchen": {"handlers": ["null"], "level": "INFO", "propagate": False},
    },
}

_SIGNAL_TRACING = os.environ.get("BENCH_SIGNAL_TRACING")
if _SIGNAL_TRACING is not None:
    INSTALLED_APPS.append("signal_tracing")
    SIGNAL_TRACING = json.loads(_SIGNAL_TRACING)
