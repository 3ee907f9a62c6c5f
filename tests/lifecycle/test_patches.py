"""``patches.ClassPatch``: a class in a module imported later is patched right after its import."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signal_tracing.lifecycle.patches import ClassPatch, ImportWatcher

MODULE = "later_imported_for_patches"


@pytest.fixture
def later_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / f"{MODULE}.py").write_text(
        "class Greeter:\n    def greet(self):\n        return 'hello'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield MODULE
    sys.modules.pop(MODULE, None)


def shouting(original: Any) -> Any:
    def greet(self: Any) -> str:
        return str(original(self)).upper()

    return greet


def watchers() -> list[ImportWatcher]:
    return [finder for finder in sys.meta_path if isinstance(finder, ImportWatcher)]


def test_a_class_imported_after_install_is_patched_once_its_module_ran(later_module: str) -> None:
    patch = ClassPatch(later_module, "Greeter", "greet", only_if_imported=True)

    assert patch.install(shouting) is False
    assert later_module not in sys.modules  # installing imported nothing
    module = importlib.import_module(later_module)

    assert module.Greeter().greet() == "HELLO"
    assert patch.active
    assert watchers() == []  # one-shot
    # The module keeps its own loader.
    assert type(module.__loader__).__name__ == "SourceFileLoader"
    assert type(module.__spec__.loader).__name__ == "SourceFileLoader"
    patch.uninstall()
    assert module.Greeter().greet() == "hello"


def test_uninstall_before_the_import_stops_watching(later_module: str) -> None:
    patch = ClassPatch(later_module, "Greeter", "greet", only_if_imported=True)
    patch.install(shouting)
    assert len(watchers()) == 1

    patch.uninstall()
    module = importlib.import_module(later_module)

    assert watchers() == []
    assert module.Greeter().greet() == "hello"
    assert not patch.active


def test_installing_twice_watches_once(later_module: str) -> None:
    patch = ClassPatch(later_module, "Greeter", "greet", only_if_imported=True)
    patch.install(shouting)
    patch.install(shouting)
    try:
        assert len(watchers()) == 1
    finally:
        patch.uninstall()
