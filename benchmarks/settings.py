"""Django settings for the benchmarks: the example site's apps on in-memory SQLite."""

import os

SECRET_KEY = "benchmarks-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "sms",
    "kitchen",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SMS_BACKEND = os.environ.get("SMS_BACKEND", "sms.backends.locmem.SmsBackend")
# signal_tracing is driven by instrument()/uninstrument() per variant, not by the app.
LOGGING_CONFIG = None
