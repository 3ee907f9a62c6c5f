"""Settings for the lifecycle scenarios run in a fresh process (``scenario.py``).

The database comes from ``SCENARIO_DATABASE_URL``: ``sqlite:////abs/path.sqlite3`` or
``postgres://user@host:port/name``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit


def database_from_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path}
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"),
            "USER": parts.username or "",
            "PASSWORD": parts.password or "",
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise ValueError(f"unsupported SCENARIO_DATABASE_URL scheme {parts.scheme!r}")


SECRET_KEY = "scenario-secret-key-never-exported"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "signal_tracing",
    "tests.testapp",
    "tests.lifecycle.commandapp",
]
DATABASES = {"default": database_from_url(os.environ["SCENARIO_DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "tests.lifecycle.urls"
MIDDLEWARE: list[str] = []
SIGNAL_TRACING = {"ENABLED": True}
