"""The testing package's modules import one another one way: no cycles, type-only ones included."""

from __future__ import annotations

import ast
from pathlib import Path

import signal_tracing.testing

PACKAGE = Path(signal_tracing.testing.__file__).parent
PREFIX = "signal_tracing.testing."


def imports_within_the_package(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.add(node.module.removeprefix(PREFIX))
        elif isinstance(node, ast.ImportFrom) and node.module == "signal_tracing.testing":
            found.update(alias.name for alias in node.names)
    return found


def test_the_modules_import_each_other_without_cycles() -> None:
    graph = {
        path.stem: imports_within_the_package(path)
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    }
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, f"import cycle: {' -> '.join([*visiting, module])}"
        if module in done or module not in graph:
            return
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
