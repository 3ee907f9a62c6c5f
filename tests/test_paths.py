"""short_path(): a source file as it would be imported."""

from __future__ import annotations

import sys

import django

from signal_tracing.paths import short_path


def test_paths_are_relative_to_the_longest_import_root() -> None:
    roots = ["/srv/app", "/srv/app/src", ""]
    assert short_path("/srv/app/src/shop/receivers.py", roots) == "shop/receivers.py"
    assert short_path("/srv/app/manage.py", roots) == "manage.py"
    assert short_path("/srv/app/", roots) == ""
    assert short_path("/opt/elsewhere/x.py", roots) == "/opt/elsewhere/x.py"
    assert short_path(None, roots) == ""
    assert short_path("", roots) == ""


def test_by_default_the_roots_are_sys_path() -> None:
    assert any(django.__file__.startswith(root) for root in sys.path if root)
    assert short_path(django.__file__) == "django/__init__.py"
