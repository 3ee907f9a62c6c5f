"""A brand-new ``django-admin startproject`` project in a temporary directory, run in subprocesses.

It is what a newcomer has before reading our docs: Django's template, plus django-debug-toolbar
set up the way the toolbar's installation guide says. Tests append our documented snippets to
its settings and run its ``manage.py`` and scripts with a clean environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NAME = "mysite"

#: django-debug-toolbar's installation guide, steps 3 to 6: the app, the URLs, the middleware
#: (as early as possible) and INTERNAL_IPS.
TOOLBAR_SETTINGS = """
INSTALLED_APPS += ["debug_toolbar"]
MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware", *MIDDLEWARE]
INTERNAL_IPS = ["127.0.0.1"]
"""
TOOLBAR_URLS = """
from debug_toolbar.toolbar import debug_toolbar_urls

urlpatterns += debug_toolbar_urls()
"""


class FreshProject:
    def __init__(self, root: Path, **environment: str) -> None:
        self.root = root
        self.settings = root / NAME / "settings.py"
        self.environment = environment

    @classmethod
    def create(cls, directory: Path, **environment: str) -> FreshProject:
        directory.mkdir(parents=True, exist_ok=True)
        project = cls(directory, **environment)
        created = project.run("-m", "django", "startproject", NAME, str(directory))
        assert created.returncode == 0, created.stderr
        return project

    def set_up_debug_toolbar(self) -> None:
        self.append(self.settings, TOOLBAR_SETTINGS)
        self.append(self.root / NAME / "urls.py", TOOLBAR_URLS)

    def append_settings(self, *snippets: str) -> None:
        for snippet in snippets:
            self.append(self.settings, snippet)

    @staticmethod
    def append(path: Path, code: str) -> None:
        with path.open("a", encoding="utf-8") as module:
            module.write("\n" + code)

    def env(self) -> dict[str, str]:
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "SIGNAL_TRACING_", "OTEL_", "DATABASE_URL"))
            # The toolbar turns itself off under a test runner; this project is not one.
            and key != "PYTEST_VERSION"
        }
        return {
            **inherited,
            "DJANGO_SETTINGS_MODULE": f"{NAME}.settings",
            "PYTHONPATH": str(self.root),
            "PYTHONWARNINGS": "error",
            **self.environment,
        }

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run this environment's Python in the project directory."""
        return subprocess.run(
            [sys.executable, *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("manage.py", *args)
