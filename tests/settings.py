"""Settings for the test suite: the core test app plus the example site's apps."""

import os
from pathlib import Path

EXAMPLE_SITE_DIR = Path(__file__).resolve().parent.parent / "example_site"

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*", "testserver", "127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "signal_tracing",
    "tests.testapp",
    # The example site's apps (example_site/ is on pytest's pythonpath).
    "sms",
    "kitchen",
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
if os.environ.get("DATABASE_URL"):
    # The PostgreSQL leg (nox -s postgres) runs the whole suite on a real server.
    from example_site.database import parse_database_url

    DATABASES = {"default": parse_database_url(os.environ["DATABASE_URL"], EXAMPLE_SITE_DIR)}
    # Some tests run pytest or Django's test runner in a subprocess against this server: each
    # process gets its own test database, or they would drop each other's.
    DATABASES["default"]["TEST"] = {
        "NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [EXAMPLE_SITE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

SIGNAL_TRACING = {"ENABLED": True}

# The example site's SMS gateway: an in-memory outbox (sms.backends.locmem.outbox).
SMS_BACKEND = "sms.backends.locmem.SmsBackend"

# django-debug-toolbar with the signal tracing panel. The toolbar only shows where a test
# turns DEBUG on (tests/panels, tests/browser); everywhere else its middleware isn't installed.
INSTALLED_APPS += ["debug_toolbar"]
INTERNAL_IPS = ["127.0.0.1"]
DEBUG_TOOLBAR_PANELS = [
    "debug_toolbar.panels.history.HistoryPanel",
    "debug_toolbar.panels.versions.VersionsPanel",
    "debug_toolbar.panels.timer.TimerPanel",
    "debug_toolbar.panels.settings.SettingsPanel",
    "debug_toolbar.panels.headers.HeadersPanel",
    "debug_toolbar.panels.request.RequestPanel",
    "debug_toolbar.panels.sql.SQLPanel",
    "debug_toolbar.panels.staticfiles.StaticFilesPanel",
    "debug_toolbar.panels.templates.TemplatesPanel",
    "debug_toolbar.panels.alerts.AlertsPanel",
    "debug_toolbar.panels.cache.CachePanel",
    "debug_toolbar.panels.signals.SignalsPanel",
    "debug_toolbar.panels.tasks.TasksPanel",
    "signal_tracing.panels.SignalTracingPanel",
]
