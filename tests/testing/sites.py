"""Expected send sites for exact-text tests, found by their line's text, not its number."""

from __future__ import annotations

import importlib
from pathlib import Path


def line_in(module_name: str, function: str, text: str) -> int:
    """The number of the one line of top-level ``function`` in ``module_name`` that starts with
    ``text`` (after its indentation)."""
    source = Path(str(importlib.import_module(module_name).__file__)).read_text(encoding="utf-8")
    lines = source.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"def {function}("))
    end = next(
        (n for n, line in enumerate(lines[start + 1 :], start + 1) if line[:1] not in " )\t"),
        len(lines),
    )
    numbers = [number for number in range(start, end) if lines[number].lstrip().startswith(text)]
    assert len(numbers) == 1, f"{text!r} is not on exactly one line of {function}"
    return numbers[0] + 1


def sent_from(module_name: str, function: str, text: str) -> str:
    """`` (from tests/testing/test_report.py:57 in captured)``, as messages and trees show it:
    the line of top-level ``function`` that starts with ``text``."""
    path = module_name.replace(".", "/") + ".py"
    return f" (from {path}:{line_in(module_name, function, text)} in {function})"
