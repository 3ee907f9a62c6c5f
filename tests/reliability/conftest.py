"""The reliability suite: load, fault and hostile-input probes (``nox -s reliability``).

It takes minutes, so a plain ``pytest`` run of the whole suite leaves it out; it runs when
named on the command line (``pytest tests/reliability``, or one of its files). Each probe
reports what it measured; the figures are printed at the end of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent

#: (probe, figures) as reported by the tests, printed in the terminal summary.
FIGURES: list[tuple[str, str]] = []


def _named_on_command_line(config: pytest.Config) -> bool:
    for argument in config.args:
        path = Path(config.invocation_params.dir, argument.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _named_on_command_line(config):
        return
    ours = [item for item in items if HERE in Path(item.path).parents]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if HERE not in Path(item.path).parents]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for probe, figures in FIGURES:
            terminalreporter.write_line(f"{probe}: {figures}")


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a line of measured figures for this probe (shown at the end of the run)."""

    def add(figures: str) -> None:
        FIGURES.append((request.node.name, figures))

    return add


@pytest.fixture
def spans_file(tmp_path: Path) -> Path:
    """Where a served site writes its spans (``RELIABILITY_SPANS_FILE``)."""
    return tmp_path / "spans.jsonl"


def _drop(record: logging.LogRecord) -> bool:
    return False


@pytest.fixture
def quiet_dispatch_log() -> Iterator[None]:
    """Drop ``django.dispatch`` records before any handler sees them.

    Django logs each ``send_robust`` failure with its exception: pytest's log capture would
    keep the records (and through their tracebacks, receivers and senders) and format them
    (calling ``str()`` on exceptions made to refuse it). Django does both with or without
    tracing; the probes are about the tracer.
    """
    dispatch_logger = logging.getLogger("django.dispatch")
    dispatch_logger.addFilter(_drop)
    yield
    dispatch_logger.removeFilter(_drop)
