"""``DATABASE_URL`` → a ``DATABASES["default"]`` dict, for the two databases the site runs on.

A dozen lines instead of a dependency: ``sqlite:///relative/path.sqlite3``,
``sqlite:////absolute/path.sqlite3``, ``sqlite://:memory:`` and
``postgres://user:password@host:port/name?option=value`` (also ``postgresql://``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})


def parse_database_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Return Django's settings for ``url``; relative SQLite paths are under ``base_dir``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if parts.netloc == ":memory:" or parts.path in ("", "/:memory:"):
            return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        # urlsplit("sqlite:///db.sqlite3").path == "/db.sqlite3": one slash is the separator.
        name = Path(unquote(parts.path[1:]))
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": base_dir / name}
    if parts.scheme in POSTGRES_SCHEMES:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"DATABASE_URL {_redacted(url)!r} names no database.")
        try:
            port = parts.port
        except ValueError as error:
            raise ImproperlyConfigured(f"DATABASE_URL {_redacted(url)!r}: {error}.") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL {_redacted(url)!r} is not supported: use sqlite:///path or "
        "postgres://user:password@host:port/name."
    )


def _redacted(url: str) -> str:
    # Error messages end up in logs: never repeat the password.
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return parts._replace(netloc=netloc).geturl()
