"""Dependencies flow one way (docs/architecture.md): a module imports only from its own layer
or the layers below it, and no two modules import each other, directly or around a loop.

Read from the source with ``ast``, so a lazy import inside a function counts as much as one at
the top. Imports under ``if TYPE_CHECKING:`` never run: they may name a type from a higher
layer, and count only for the cycle check (except the package's own, which only let type
checkers see the names ``signal_tracing/__init__.py`` loads lazily).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "signal_tracing"

#: Lowest first. A module belongs to the first layer that names it or a package above it.
LAYERS: list[tuple[str, ...]] = [
    ("signal_tracing", "records", "naming", "conf", "caches", "paths", "call_counts"),
    ("attributes", "recording", "nesting", "origins", "transactions", "storms"),
    ("state",),
    ("spans",),
    ("routing",),
    ("firings",),
    ("_dispatch",),
    ("lifecycle",),
    ("instrumentation",),
    ("instrumentor",),
    # The surfaces: each reads the core and its records; none is read by the core.
    ("panels", "testing", "pytest_plugin", "exporting", "management", "checks", "leaks"),
    # The AppConfig Django loads: it wires the rest (checks, export, the settings) together.
    ("apps",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def layer_of(name: str) -> int:
    short = name.removeprefix("signal_tracing.") if name != "signal_tracing" else name
    for index, layer in enumerate(LAYERS):
        for entry in layer:
            if short == entry or short.startswith(entry + "."):
                return index
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in {__file__}")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, type_only: bool) -> Iterator[tuple[ast.ImportFrom | ast.Import, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield from _imports(ast.Module(body=[statement], type_ignores=[]), True)
            for statement in child.orelse:
                yield from _imports(ast.Module(body=[statement], type_ignores=[]), type_only)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, type_only
        yield from _imports(child, type_only)


def dependencies(name: str, source: str | None = None) -> Iterator[tuple[str, bool]]:
    """Yield (imported module of ours, imported for types only)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    for statement, type_only in _imports(tree, False):
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.name.split(".")[0] == "signal_tracing":
                    yield alias.name, type_only
            continue
        if statement.level:  # the package uses absolute imports only
            raise AssertionError(f"{name} uses a relative import")
        base = statement.module or ""
        if base.split(".")[0] != "signal_tracing":
            continue
        for alias in statement.names:
            candidate = f"{base}.{alias.name}"
            yield (candidate if candidate in MODULES else base), type_only


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def upward_imports(name: str, source: str | None = None) -> list[str]:
    return [
        f"{name} (layer {layer_of(name)}) imports {imported} (layer {layer_of(imported)})"
        for imported, type_only in dependencies(name, source)
        if not type_only and layer_of(imported) > layer_of(name)
    ]


def test_no_module_imports_from_a_higher_layer() -> None:
    assert [line for name in MODULES for line in upward_imports(name)] == []


def test_a_lazy_import_from_a_higher_layer_is_reported_and_a_type_only_one_is_not() -> None:
    source = """
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signal_tracing.firings import FiringNode

def later():
    from signal_tracing import instrumentation
"""
    assert upward_imports("signal_tracing.routing", source) == [
        "signal_tracing.routing (layer 4) imports signal_tracing.instrumentation (layer 8)"
    ]


def find_cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Return the modules on each cycle found by a depth-first walk (one per back edge)."""
    cycles: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            cycles.add(frozenset(stack[stack.index(name) :]))
            return
        if name in done:
            return
        for imported in sorted(graph.get(name, ())):
            visit(imported, [*stack, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    return cycles


def test_no_import_cycles() -> None:
    graph = {
        name: {
            imported
            for imported, type_only in dependencies(name)
            if not (type_only and name == "signal_tracing")
        }
        - {name}
        for name in MODULES
    }
    assert find_cycles(graph) == set()


def test_the_cycle_check_finds_a_loop() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {
        frozenset({"a", "b", "c"})
    }
