"""WSGI entry point (waitress, gunicorn)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from tests.reliability.site.spans_file import install_from_environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reliability.site.settings")
install_from_environment()
application = get_wsgi_application()

from tests.reliability.site.signals import preloaded  # noqa: E402  (after django.setup())

# In gunicorn's master with --preload this span is queued before the workers fork: it must
# reach the collector once, from the master, never again from a worker.
preloaded.send(sender=None)
