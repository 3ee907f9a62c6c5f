"""ASGI entry point (uvicorn)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from tests.reliability.site.spans_file import install_from_environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reliability.site.settings")
install_from_environment()
application = get_asgi_application()
