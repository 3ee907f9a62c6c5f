"""How a source file is shown to people: ``sms/receivers.py``, ``django/db/models/base.py``.

Paths are shortened to what the file would be imported as: relative to the longest
``sys.path`` entry that contains it (the project's directory, ``site-packages``...). A file
outside every import root keeps its full path.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence


def short_path(file_path: str | None, roots: Sequence[str] | None = None) -> str:
    """Return ``file_path`` relative to the longest import root (``sys.path`` entry) holding it."""
    if not file_path:
        return ""
    return _short_path(file_path, tuple(sys.path if roots is None else roots))


# A page or a map shows the same few files many times: shorten each once.
@functools.lru_cache(maxsize=1024)
def _short_path(file_path: str, roots: tuple[str, ...]) -> str:
    best = ""
    for root in roots:
        if not root:
            continue
        prefix = root.rstrip(os.sep) + os.sep
        if file_path.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return file_path[len(best) :]
