"""Receiver coverage for Django's test runner: ``manage.py test --signal-coverage``.

Set ``TEST_RUNNER = "signal_tracing.testing.runner.SignalCoverageRunner"``, or mix
:class:`SignalCoverageMixin` into a runner of your own (before ``DiscoverRunner``).
With ``--parallel``, each worker process writes its counts to a temporary directory after
each test case class it runs, and the main process adds them up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from django.test.runner import DiscoverRunner, ParallelTestSuite

from signal_tracing import call_counts, instrumentation
from signal_tracing.testing.coverage import CoverageData, ReceiverCoverage
from signal_tracing.testing.coverage_report import build_report

#: Where ``--parallel`` workers write their counts (inherited from the main process).
WORKERS_DIRECTORY_VARIABLE: Final = "SIGNAL_TRACING_COVERAGE_WORKERS"

#: Django's own, as its parallel suite names them (class attributes read on the class are the
#: plain module-level functions that multiprocessing can pickle).
_django_init_worker: Final = ParallelTestSuite.init_worker
_django_run_subsuite: Final = ParallelTestSuite.run_subsuite

_worker_coverage: ReceiverCoverage | None = None


def _init_counting_worker(*args: Any, **kwargs: Any) -> None:
    global _worker_coverage
    _django_init_worker(*args, **kwargs)
    if call_counts.active is not None:
        # A forked worker inherits the main process's counts: start from zero.
        call_counts.stop()
        instrumentation.release_capture()
    _worker_coverage = ReceiverCoverage()
    _worker_coverage.start()


def _run_counting_subsuite(args: Any) -> Any:
    try:
        return _django_run_subsuite(args)
    finally:
        # After every test case class rather than at exit: a pool's workers may be terminated.
        if _worker_coverage is not None:
            directory = Path(os.environ[WORKERS_DIRECTORY_VARIABLE])
            data = _worker_coverage.collect().to_json()
            (directory / f"worker-{os.getpid()}.json").write_text(
                json.dumps(data), encoding="utf-8"
            )


class CountingParallelTestSuite(ParallelTestSuite):
    """Django's parallel suite, counting receiver calls in each worker process."""

    init_worker = _init_counting_worker
    run_subsuite = _run_counting_subsuite


class SignalCoverageMixin:
    """Adds ``--signal-coverage`` (and ``-json``, ``-fail-under``, ``-source``) to a runner."""

    parallel_test_suite: type[ParallelTestSuite]

    def __init__(
        self,
        *args: Any,
        signal_coverage: bool = False,
        signal_coverage_json: str | None = None,
        signal_coverage_fail_under: float | None = None,
        signal_coverage_source: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.signal_coverage = bool(
            signal_coverage
            or signal_coverage_json is not None
            or signal_coverage_fail_under is not None
        )
        self.signal_coverage_json = signal_coverage_json
        self.signal_coverage_fail_under = signal_coverage_fail_under
        self.signal_coverage_sources = list(signal_coverage_source or [os.getcwd()])
        if self.signal_coverage and not issubclass(
            self.parallel_test_suite, CountingParallelTestSuite
        ):
            self.parallel_test_suite = type(
                f"Counting{self.parallel_test_suite.__name__}",
                (CountingParallelTestSuite, self.parallel_test_suite),
                {},
            )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)  # type: ignore[misc]
        parser.add_argument(
            "--signal-coverage",
            action="store_true",
            help="Report how many times each of the project's signal receivers was called, "
            "and which never were.",
        )
        parser.add_argument(
            "--signal-coverage-json",
            metavar="PATH",
            help="Also write the receiver coverage report to PATH as JSON.",
        )
        parser.add_argument(
            "--signal-coverage-fail-under",
            metavar="PERCENT",
            type=float,
            help="Fail if less than PERCENT of the project's receivers were called.",
        )
        parser.add_argument(
            "--signal-coverage-source",
            metavar="DIR",
            action="append",
            help="A directory of the project's own code (repeatable; default: the current "
            "directory).",
        )

    if TYPE_CHECKING:

        def log(self, msg: str, level: int | None = None) -> None: ...  # DiscoverRunner's

    def run_tests(self, test_labels: Sequence[str], **kwargs: Any) -> int:
        if not self.signal_coverage:
            return super().run_tests(test_labels, **kwargs)  # type: ignore[misc,no-any-return]
        workers = tempfile.mkdtemp(prefix="signal-coverage-")
        os.environ[WORKERS_DIRECTORY_VARIABLE] = workers
        coverage = ReceiverCoverage()
        coverage.start()
        try:
            failures: int = super().run_tests(test_labels, **kwargs)  # type: ignore[misc]
        finally:
            data = coverage.stop()
            del os.environ[WORKERS_DIRECTORY_VARIABLE]
            for path in sorted(Path(workers).glob("worker-*.json")):
                data.merge(CoverageData.from_json(json.loads(path.read_text(encoding="utf-8"))))
            shutil.rmtree(workers, ignore_errors=True)
        return failures + self._report(data)

    def _report(self, data: CoverageData) -> int:
        """Show the report; return 1 if it is under the threshold, else 0."""
        report = build_report(data, self.signal_coverage_sources, Path.cwd())
        self.log("\nSignal receiver coverage")
        for line in report.lines():
            self.log(line)
        if self.signal_coverage_json is not None:
            Path(self.signal_coverage_json).write_text(
                json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8"
            )
            self.log(f"JSON report written to {self.signal_coverage_json}")
        if self.signal_coverage_fail_under is None:
            return 0
        failure = report.failure(self.signal_coverage_fail_under)
        if failure is None:
            return 0
        self.log(failure)
        return 1


class SignalCoverageRunner(SignalCoverageMixin, DiscoverRunner):
    """Django's ``DiscoverRunner`` with ``--signal-coverage``."""
