"""pytest plugin (``-p outcomes_plugin``): the same outcome file ``sitecustomize`` writes.

One line per test, ``outcome<TAB>node id``: pass, fail, error (set-up or tear-down failed),
skip, xfail, xpass. Written by the controller only (``xdist`` workers report to it).
"""

from __future__ import annotations

import os

import pytest

_seen: dict[str, str] = {}
_RANK = {"pass": 0, "skip": 1, "xfail": 1, "xpass": 2, "fail": 3, "error": 4}


def _outcome(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        return "xfail" if report.skipped else "xpass"
    if report.when == "call":
        return {"passed": "pass", "failed": "fail", "skipped": "skip"}[report.outcome]
    if report.failed:
        return "error"
    if report.skipped:
        return "skip"
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    outcome = _outcome(report)
    if outcome is None:
        return
    previous = _seen.get(report.nodeid)
    if previous is None or _RANK[outcome] > _RANK[previous]:
        _seen[report.nodeid] = outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("SUITES_OUTCOMES")
    if not path or hasattr(session.config, "workerinput"):
        return
    with open(path, "a", encoding="utf-8") as file:
        for nodeid, outcome in _seen.items():
            file.write(f"{outcome}\t{nodeid}\n")
