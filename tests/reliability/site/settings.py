"""Settings of the served site; the environment chooses how spans leave the process.

RELIABILITY_EXPORTER    unset: the in-process JSON-lines file of ``spans_file.py`` (if
                        RELIABILITY_SPANS_FILE is set); "otlp": ``SIGNAL_TRACING["EXPORTER"]``,
                        configured by the ``OTEL_*`` variables, as in production
RELIABILITY_SPANS_FILE  where ``wsgi.py``/``asgi.py`` have every ended span written
RELIABILITY_RENDEZVOUS  how many concurrent requests the async view waits for (default 1)
RELIABILITY_STARTED_DIR where the slow view says it started (a file per request)
"""

from __future__ import annotations

import os

SECRET_KEY = "reliability-site-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "signal_tracing",
    "tests.reliability.site",
]
# Nothing between the server and the views: the load is on the request cycle and signals.
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.reliability.site.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SIGNAL_TRACING = {
    "ENABLED": True,
    "EXPORTER": os.environ.get("RELIABILITY_EXPORTER") or None,
    "SERVICE_NAME": "reliability_site",
    # The request number ties each firing to its request; the phase tells the async view's
    # two firings apart. Both are plain ints and short strings, sent by our own views.
    "RECORD_KWARGS": ["request_number", "phase"],
    # Every span of a request, however many run at once: the load must not hit the cap.
    "MAX_SPANS_PER_TRACE": 0,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"levelled": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "levelled"}},
    # Everything the tracer and its exporter say reaches the server log the tests read.
    "loggers": {"signal_tracing": {"handlers": ["stderr"], "level": "DEBUG"}},
}
