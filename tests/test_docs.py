"""The documentation covers the code: every setting, span attribute and system check.

These read the Markdown sources in docs/; ``nox -s docs`` builds the site itself with
``mkdocs build --strict``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from signal_tracing import attributes
from signal_tracing.conf import KEYS, Config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "signal_tracing"
CHECK_ID = re.compile(r"signal_tracing\.[EW]\d{3}")


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def headings(markdown: str) -> list[str]:
    return [line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("#")]


def string_constants(path: Path) -> Iterator[tuple[str, int]]:
    """Yield every string literal in a module with its line, docstrings and comments aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.value, node.lineno


def check_id_definitions() -> dict[str, list[str]]:
    """Map each check id to the places in the package where a string literal *is* that id."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for value, line in string_constants(path):
            if CHECK_ID.fullmatch(value):
                found.setdefault(value, []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def test_every_setting_key_has_its_own_section_in_the_settings_reference() -> None:
    documented = headings(page("settings.md"))

    missing = [key for key in KEYS if f"`{key}`" not in documented]
    assert missing == [], f"Add a '### `KEY`' section to docs/settings.md for: {missing}"


def test_the_settings_reference_lists_no_key_that_does_not_exist() -> None:
    documented = {
        heading.strip("`") for heading in headings(page("settings.md")) if heading.startswith("`")
    }

    assert documented - set(KEYS) == set()


def test_every_setting_default_in_the_summary_table_is_the_real_default() -> None:
    # The summary table gives each default as Python; for the simple ones it must be exact.
    defaults = Config()
    rows = {
        match["key"]: match["default"]
        for match in re.finditer(
            r"^\| \[`(?P<key>[A-Z_]+)`\]\(#[a-z_]+\) \| [^|]+ \| `(?P<default>[^`]+)`",
            page("settings.md"),
            re.MULTILINE,
        )
    }
    simple = {
        key: getattr(defaults, key.lower())
        for key in KEYS
        if isinstance(getattr(defaults, key.lower()), (bool, int, float, str, type(None), tuple))
    }

    assert set(rows) == set(KEYS), "the summary table lists every key once"
    for key, value in simple.items():
        shown = ast.literal_eval(rows[key])
        expected = list(value) if isinstance(value, tuple) else value
        assert shown == expected, f"docs/settings.md shows {key} default {rows[key]}"


def test_every_attribute_and_span_name_constant_is_in_the_telemetry_reference() -> None:
    telemetry = page("telemetry.md")
    constants = {
        name: value
        for name, value in vars(attributes).items()
        if name.isupper() and isinstance(value, str)
    }

    missing = {name: value for name, value in constants.items() if f"`{value}" not in telemetry}
    assert constants, "attributes.py defines no constants?"
    assert missing == {}, f"Document these in docs/telemetry.md: {missing}"


def test_every_check_id_in_the_code_is_documented_with_its_own_heading() -> None:
    documented = [heading for heading in headings(page("checks.md")) if CHECK_ID.fullmatch(heading)]
    used = set(check_id_definitions())

    assert used, "no check ids found in signal_tracing/"
    assert sorted(used - set(documented)) == [], "Add a section to docs/checks.md"
    assert sorted(set(documented) - used) == [], "docs/checks.md documents ids the code lacks"
    assert len(documented) == len(set(documented)), "an id has two sections in docs/checks.md"


def test_each_check_id_is_defined_in_exactly_one_place() -> None:
    duplicated = {
        check_id: places for check_id, places in check_id_definitions().items() if len(places) > 1
    }

    assert duplicated == {}, "One id, one check: give the new check the next free id"


def test_ids_mentioned_anywhere_in_the_package_are_documented() -> None:
    # Comments and docstrings too: a comment naming an id that has no section is a stale one.
    mentioned = {
        match
        for path in PACKAGE.rglob("*.py")
        for match in CHECK_ID.findall(path.read_text(encoding="utf-8"))
    }

    assert mentioned - set(headings(page("checks.md"))) == set()


def test_every_page_is_in_the_navigation_and_every_nav_entry_exists() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:") :]

    in_nav = set(re.findall(r"^\s+- (?:[^:\n]+: )?([\w/.-]+\.md)$", nav, re.MULTILINE))
    on_disk = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert "index.md" in in_nav
    assert on_disk - in_nav == set()
    assert in_nav - on_disk == set()


def test_changelog_and_benchmark_results_are_included_not_copied() -> None:
    assert page("changelog.md").strip() == '--8<-- "CHANGELOG.md"'
    assert '--8<-- "benchmarks/RESULTS.md"' in page("performance.md")
