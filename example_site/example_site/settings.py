"""Settings for the example site: a local development run, configured by environment variables.

DJANGO_DEBUG              "1" (default) or "0"
DJANGO_SECRET_KEY         required when DJANGO_DEBUG=0
DJANGO_ALLOWED_HOSTS      comma-separated, when DJANGO_DEBUG=0
DATABASE_URL              default sqlite:///db.sqlite3 (next to manage.py);
                          postgres://user:password@host:5432/name needs the `postgres` extra
SIGNAL_TRACING_ENABLED    "1" (default) or "0": the tracing toggle
SIGNAL_TRACING_EXPORTER   unset, "console" or "otlp" (OTEL_EXPORTER_OTLP_* variables apply)
SMS_BACKEND               dotted path of the SMS gateway (default: the console one)
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from example_site.database import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use 1 or 0.")


DEBUG = _env_flag("DJANGO_DEBUG", True)

# The fallback key is for local development only: it is public, so DEBUG off requires a real one.
DEV_SECRET_KEY = "django-insecure-example-site-dev-only-do-not-deploy"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY when DJANGO_DEBUG=0.")

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]
INTERNAL_IPS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "signal_tracing",
    "sms",
    "kitchen",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_site.urls"
WSGI_APPLICATION = "example_site.wsgi.application"
ASGI_APPLICATION = "example_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL") or "sqlite:///db.sqlite3", BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# The SMS gateway, chosen like EMAIL_BACKEND. See sms/backends/.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "sms.backends.console.SmsBackend")
SMS_SLOW_BACKEND_LATENCY_MS = float(os.environ.get("SMS_SLOW_BACKEND_LATENCY_MS", "50"))

SIGNAL_TRACING: dict[str, Any] = {
    # The toggle: False leaves django.dispatch.Signal untouched.
    "ENABLED": _env_flag("SIGNAL_TRACING_ENABLED", True),
    # Per-signal policy, by the signal's dotted path: "span" (default), "count" or "off".
    "POLICIES": {
        # Every model instance built fires pre_init and post_init: count them on the
        # enclosing span instead of one span each (this is also the default).
        "django.db.models.signals.post_init": "count",
        # A custom signal is named the same way, by where it is defined.
        "kitchen.signals.pizza_done": "span",
    },
    # None: spans go to whatever tracer provider the process has (none: nowhere).
    "EXPORTER": os.environ.get("SIGNAL_TRACING_EXPORTER") or None,
    # A signal fired more than this many times from one line in one request is a storm
    # (default 20). Low here, so that /sms/resend/ shows one after a few codes.
    "STORM_THRESHOLD": 3,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "sms": {"handlers": ["console"], "level": "INFO"},
        "kitchen": {"handlers": ["console"], "level": "INFO"},
    },
}

# The debug toolbar, with our panel, in DEBUG when it is installed (the `toolbar` extra).
if DEBUG and importlib.util.find_spec("debug_toolbar") is not None:
    INSTALLED_APPS.append("debug_toolbar")
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
    from debug_toolbar.settings import PANELS_DEFAULTS

    DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "signal_tracing.panels.SignalTracingPanel"]
