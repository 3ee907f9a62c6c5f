"""The package's metadata says what the test matrix runs, in words PyPI accepts.

The matrix (``DJANGO`` in noxfile.py) is the source of truth: each Django and Python version it
runs has its trove classifier (when PyPI's list has one), docs/install.md's table lists the
same pairs, and every classifier is on PyPI's list (PyPI rejects an upload with an unknown one).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

from trove_classifiers import classifiers as known_classifiers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def project() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def matrix() -> dict[str, tuple[str, ...]]:
    """noxfile.py's ``DJANGO``: each Django version and the Pythons it runs on."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    [value] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(target, "id", "") for target in node.targets] == ["DJANGO"]
    ]
    return {django: pythons for django, (_pin, pythons) in ast.literal_eval(value).items()}


def test_every_classifier_is_on_pypi_s_list() -> None:
    assert sorted(set(project()["classifiers"]) - known_classifiers) == []


def test_each_django_of_the_matrix_has_its_classifier_and_no_other() -> None:
    declared = {
        classifier.rsplit(" :: ", 1)[1]
        for classifier in project()["classifiers"]
        if re.fullmatch(r"Framework :: Django :: \d+\.\d+", classifier)
    }
    classifiable = {
        django for django in matrix() if f"Framework :: Django :: {django}" in known_classifiers
    }

    assert classifiable, "PyPI's list has none of the matrix's Django versions?"
    assert declared == classifiable


def test_each_python_of_the_matrix_has_its_classifier_and_requires_python_starts_there() -> None:
    pythons = {python for pythons in matrix().values() for python in pythons}
    declared = {
        classifier.rsplit(" :: ", 1)[1]
        for classifier in project()["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)
    }

    assert declared == pythons
    oldest = min(pythons, key=lambda python: tuple(map(int, python.split("."))))
    assert project()["requires-python"] == f">={oldest}"


def install_table() -> dict[tuple[str, str], str]:
    """docs/install.md's table: (django, python) -> its cell, for the pairs it marks."""
    install = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    lines = [
        line
        for line in install[install.index("## Supported versions") :].splitlines()
        if line.startswith("|") and not line.startswith("| ---")
    ]
    header, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines)
    pythons = [column.removeprefix("Python ") for column in header[1:]]
    cells = {}
    for django, *marks in rows:
        for python, mark in zip(pythons, marks):
            if mark != "—":
                cells[(django.removesuffix(" LTS"), python)] = mark
    return cells


def ci_pairs() -> set[tuple[str, str]]:
    """The test legs ``./scripts/test`` (what CI runs) asks nox for."""
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    return {
        (django, python)
        for python, django in re.findall(r"tests\(python='([\d.]+)', django='([\d.]+)'\)", script)
    }


def test_the_install_page_lists_the_matrix_and_what_ci_runs() -> None:
    table = install_table()

    assert set(table) == {(django, py) for django, pys in matrix().items() for py in pys}
    assert {pair for pair, mark in table.items() if mark.startswith("CI")} == ci_pairs()
    # CI covers every supported Django, and the oldest and newest Python between them.
    assert {django for django, _python in ci_pairs()} == set(matrix())
    pythons = sorted(
        {py for pys in matrix().values() for py in pys}, key=lambda v: tuple(map(int, v.split(".")))
    )
    assert {pythons[0], pythons[-1]} <= {python for _django, python in ci_pairs()}
