"""Code blocks read out of the Markdown pages, so tests run what a reader copies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<language>[\w+-]*)")
#: The first line of every snippet meant to be pasted into a project's settings module.
SETTINGS_MARKER = "# settings.py"


@dataclass(frozen=True)
class CodeBlock:
    language: str
    code: str
    #: The text of the nearest heading above the block.
    section: str


def code_blocks(markdown: str) -> list[CodeBlock]:
    """Every top-level fenced block, in order, with the section it sits in.

    A ``#`` line inside a fence is code (a Python or shell comment), not a heading.
    """
    blocks: list[CodeBlock] = []
    section = ""
    fence = language = ""
    lines: list[str] = []
    for line in markdown.splitlines():
        if not fence:
            opening = FENCE.match(line)
            if opening:
                fence, language, lines = opening["fence"], opening["language"], []
            elif line.startswith("#"):
                section = line.lstrip("#").strip()
        elif line.strip() == fence:
            blocks.append(CodeBlock(language, "\n".join(lines) + "\n", section))
            fence = ""
        else:
            lines.append(line)
    assert not fence, "a code block is never closed"
    return blocks


def page(relative_path: str) -> str:
    return (ROOT / relative_path).read_text(encoding="utf-8")


def blocks_in(relative_path: str, *sections: str, language: str) -> list[str]:
    """The code of the ``language`` blocks in these sections of a page, in page order."""
    blocks = [block for block in code_blocks(page(relative_path)) if block.language == language]
    for section in sections:
        assert any(block.section == section for block in blocks), (
            f"{relative_path} has no {language} block under a heading {section!r}"
        )
    return [block.code for block in blocks if block.section in sections]


def settings_snippets(relative_path: str, *sections: str) -> list[str]:
    """The settings snippets of these sections: Python blocks starting with ``# settings.py``."""
    snippets = [
        code
        for code in blocks_in(relative_path, *sections, language="python")
        if code.startswith(SETTINGS_MARKER)
    ]
    assert snippets, f"{relative_path} {sections}: no block starts with {SETTINGS_MARKER!r}"
    return snippets
