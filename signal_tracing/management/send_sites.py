"""Where signals are sent: a static scan of source files for ``<signal>.send(...)`` calls.

The scan parses files (it never imports them) and finds calls to ``send``, ``send_robust``,
``asend`` and ``asend_robust`` on a name or attribute chain, resolving the chain through the
file's own imports, so ``from .signals import pizza_done as done; done.send(...)`` is seen as
``kitchen.signals.pizza_done``. Calls on anything else (``get_signal().send()``) still give
the last name before ``.send``, which is what a name match compares.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SEND_METHODS: Final = frozenset({"send", "send_robust", "asend", "asend_robust"})

# Tests send signals by hand, and migrations never do: neither says the application sends one.
SKIPPED_DIRECTORIES: Final = frozenset({"__pycache__", "migrations", "node_modules", "tests"})


@dataclass(frozen=True)
class SendSite:
    """One ``.send(...)``-style call found in a source file."""

    file_path: str
    line_number: int
    method: str
    #: The dotted path the call's receiver object was reached by, or None if not a plain chain.
    target: str | None
    #: The last name before ``.send``: ``pizza_done`` in ``signals.pizza_done.send(...)``.
    name: str


def _is_test_file(name: str) -> bool:
    return name == "tests.py" or name.startswith("test_") or name == "conftest.py"


def python_files(root: Path) -> Iterator[Path]:
    """Yield the package's ``.py`` files, skipping tests, migrations and virtualenvs."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if name not in SKIPPED_DIRECTORIES
            and not name.startswith(".")
            and not (Path(directory, name, "pyvenv.cfg")).exists()
        )
        for name in sorted(files):
            if name.endswith(".py") and not _is_test_file(name):
                yield Path(directory, name)


def _module_name(root: Path, package: str, path: Path) -> tuple[str, str]:
    """Return (module name, package it belongs to) for a file under a package's root."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        module = ".".join([package, *parts[:-1]])
        return module, module
    module = ".".join([package, *parts])
    return module, module.rpartition(".")[0]


def _import_aliases(tree: ast.AST, current_package: str) -> dict[str, str]:
    # Imports anywhere in the file count: deferred imports inside functions are common in
    # signal code, to avoid import cycles between models and receivers.
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.partition(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = current_package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(part for part in (*anchor, base) if part)
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return aliases


def _chain(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _sites_in(path: Path, module: str, package: str) -> Iterator[SendSite]:
    try:
        source = path.read_bytes()
        # Every send method's name contains "send": most files can be skipped unparsed.
        if b"send" not in source:
            return
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return  # not ours to judge: an unparsable file simply has no visible sends
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SEND_METHODS
    ]
    if not calls:
        return
    aliases = _import_aliases(tree, package)
    for node in calls:
        assert isinstance(node.func, ast.Attribute)
        owner = node.func.value
        chain = _chain(owner)
        if chain is None:
            if isinstance(owner, ast.Attribute):
                yield SendSite(str(path), node.lineno, node.func.attr, None, owner.attr)
            continue
        head, *rest = chain
        origin = aliases.get(head, f"{module}.{head}")
        target = ".".join([origin, *rest])
        # The name after alias resolution: ``done`` in ``from .signals import x as done``
        # stands for ``x``.
        yield SendSite(str(path), node.lineno, node.func.attr, target, target.rpartition(".")[2])


def scan_package(root: Path, package: str) -> Iterator[SendSite]:
    """Yield every send site in the package rooted at ``root`` (importable as ``package``)."""
    for path in python_files(root):
        module, current_package = _module_name(root, package, path)
        yield from _sites_in(path, module, current_package)
