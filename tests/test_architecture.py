"""docs/architecture.md stays true: every layer's modules and every patched Django attribute."""

from __future__ import annotations

from pathlib import Path

from signal_tracing import _dispatch
from signal_tracing.lifecycle import patches
from tests.test_layering import LAYERS

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "architecture.md").read_text()


def test_the_page_names_every_module_of_every_layer() -> None:
    missing = [
        entry
        for layer in LAYERS
        for entry in layer[1 if layer[0] == "signal_tracing" else 0 :]
        if entry not in PAGE
    ]
    assert missing == []


def test_the_page_lists_every_django_attribute_we_replace() -> None:
    replaced = [f"Signal.{name}" for name in _dispatch.METHODS] + [
        f"{patch.class_name}.{patch.attribute}" for patch in patches.ALL
    ]
    assert [name for name in replaced if f"`{name}`" not in PAGE] == []
