"""``pytest --signal-coverage``: the plugin object registered when a coverage option is given.

Counting runs from the start of the session to the end of the test loop, in the process that
runs the tests. Under pytest-xdist each worker counts its own tests and sends its data to the
controller (through ``workeroutput``, as pytest-cov does), which adds them up and reports.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any, Final

import pytest

from signal_tracing.testing.coverage import CoverageData, ReceiverCoverage
from signal_tracing.testing.coverage_report import CoverageReport, build_report

#: The key of a worker's coverage data in pytest-xdist's ``workeroutput``.
WORKER_OUTPUT_KEY: Final = "signal_tracing_receiver_coverage"


class ReceiverCoveragePlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.json_path: str | None = config.getoption("signal_coverage_json")
        self.fail_under: float | None = config.getoption("signal_coverage_fail_under")
        sources = config.getoption("signal_coverage_source") or [config.rootpath]
        self.sources: list[str | Path] = list(sources)
        self.is_worker = hasattr(config, "workerinput")
        self.coverage: ReceiverCoverage | None = None
        self.data: CoverageData | None = None
        self.report: CoverageReport | None = None
        self.failure: str | None = None

    def _is_xdist_controller(self) -> bool:
        return self.config.pluginmanager.hasplugin("dsession")

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self._is_xdist_controller():
            self.data = CoverageData()  # filled by the workers
            return
        self.coverage = ReceiverCoverage()
        self.coverage.start()

    def _stop(self) -> None:
        if self.coverage is not None and self.coverage.active:
            self.data = self.coverage.stop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None]:
        yield
        self._stop()
        if self.data is None:
            return
        if self.is_worker:
            self.config.workeroutput[WORKER_OUTPUT_KEY] = self.data.to_json()  # type: ignore[attr-defined]
            return
        self.report = build_report(self.data, self.sources, self.config.rootpath)
        if self.json_path is not None:
            path = Path(self.json_path)
            path.write_text(json.dumps(self.report.to_json(), indent=2) + "\n", encoding="utf-8")
        if self.fail_under is not None:
            self.failure = self.report.failure(self.fail_under)
            if self.failure is not None:
                session.testsfailed += 1  # the run's exit status becomes "tests failed"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        if self.data is not None and WORKER_OUTPUT_KEY in output:
            self.data.merge(CoverageData.from_json(output[WORKER_OUTPUT_KEY]))

    def pytest_sessionfinish(self) -> None:
        self._stop()  # the test loop never ran (an interrupted collection)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None:
            return
        terminalreporter.write_sep("-", "signal receiver coverage")
        for line in self.report.lines():
            terminalreporter.write_line(line)
        if self.json_path is not None:
            terminalreporter.write_line(f"JSON report written to {self.json_path}")
        if self.failure is not None:
            terminalreporter.write_line(self.failure, red=True, bold=True)
