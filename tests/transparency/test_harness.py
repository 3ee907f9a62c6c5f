"""The probe harness (scripts/thirdparty-suites) records what it claims to record.

Its verdicts are only as good as its bookkeeping: every test's outcome, recorded identically
traced and untraced, and every span counted, including those of forked ``--parallel`` workers
(which leave through multiprocessing's finalizers, never ``atexit``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "scripts" / "suites"


def harness() -> ModuleType:
    path = REPO / "scripts" / "thirdparty-suites"
    loader = importlib.machinery.SourceFileLoader("thirdparty_suites", str(path))
    spec = importlib.util.spec_from_loader("thirdparty_suites", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("thirdparty_suites", module)  # dataclasses look the module up
    loader.exec_module(sys.modules["thirdparty_suites"])
    return sys.modules["thirdparty_suites"]


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), str(REPO)]),
        "SUITES_OUTCOMES": str(tmp_path / "outcomes.tsv"),
        "SUITES_SPANS_DIR": str(tmp_path),
        **env,
    }
    environment.pop("SUITES_MAIN_PID", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unittest_outcomes_are_recorded_once_each_with_the_worst_subtest(tmp_path: Path) -> None:
    result = run_python(
        """
        import unittest

        class T(unittest.TestCase):
            def test_pass(self): pass
            def test_fail(self): self.fail("no")
            def test_error(self): raise KeyError
            @unittest.skip("why")
            def test_skip(self): pass
            def test_subtests(self):
                for i in range(3):
                    with self.subTest(i=i):
                        self.assertNotEqual(i, 1)

        unittest.main(argv=["x"], exit=False, verbosity=0)
        """,
        tmp_path,
    )
    # Not "Ran 5 tests": Python 3.12.1 left skipped tests out of that count.
    assert "FAILED (failures=2, errors=1, skipped=1)" in result.stderr, result.stderr
    outcomes = harness().read_outcomes(tmp_path / "outcomes.tsv")
    assert {name.rsplit(".", 1)[-1]: outcome for name, outcome in outcomes.items()} == {
        "test_pass": "pass",
        "test_fail": "fail",
        "test_error": "error",
        "test_skip": "skip",
        "test_subtests": "fail",
    }


def test_spans_of_forked_pool_workers_are_counted(tmp_path: Path) -> None:
    result = run_python(
        """
        import multiprocessing
        from opentelemetry import trace
        import counting_provider

        tracer = counting_provider.provider().get_tracer("probe")

        def work(n):
            for _ in range(n):
                with tracer.start_as_current_span("worker span"):
                    pass
            return n

        if __name__ == "__main__":
            with tracer.start_as_current_span("parent span"):
                pass
            counting_provider.provider().force_flush()  # exported before the fork
            with multiprocessing.get_context("fork").Pool(2) as pool:
                assert sum(pool.map(work, [3, 4])) == 7
                pool.close()
                pool.join()
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    files = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    assert sum(data["total"] for data in files) == 8
    assert sum((Counter(data["names"]) for data in files), Counter()) == {
        "parent span": 1,
        "worker span": 7,
    }


def test_a_differing_outcome_is_reported_against_the_baseline(tmp_path: Path) -> None:
    for mode, lines in {
        "untraced": ["pass\ta.test_x", "pass\ta.test_y", "skip\ta.test_z"],
        "instrument": ["pass\ta.test_x", "error\ta.test_y", "skip\ta.test_z"],
    }.items():
        (tmp_path / mode).mkdir()
        (tmp_path / mode / "outcomes.tsv").write_text("\n".join(lines) + "\n")
    assert harness().diff(tmp_path, ["untraced", "instrument"]) == [
        "instrument\tuntraced=pass\tinstrument=error\ta.test_y"
    ]


@pytest.mark.parametrize(
    ("mode", "django_receivers"),
    [("instrument", "attributes"), ("django-receiver-spans", "span")],
)
def test_a_mode_traces_with_its_own_signal_tracing_keys(
    mode: str, django_receivers: str, tmp_path: Path
) -> None:
    module = harness()
    env = module.mode_environment(module.SUITES["allauth"], module.MODES[mode], tmp_path)
    result = run_python(
        """
        from signal_tracing.instrumentation import effective_config, is_instrumented

        print(is_instrumented(), effective_config().django_receivers)
        """,
        tmp_path,
        **{name: value for name, value in env.items() if name.startswith("SUITES_")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", django_receivers]


def test_the_app_mode_merges_its_keys_into_the_suites_own_setting(tmp_path: Path) -> None:
    result = run_python(
        """
        import app_settings

        print(sorted(app_settings.SIGNAL_TRACING.items()), app_settings.INSTALLED_APPS[-1])
        """,
        tmp_path,
        SUITES_BASE_SETTINGS="tests.settings",
        SUITES_SIGNAL_TRACING='{"DJANGO_RECEIVERS": "span"}',
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "[('DJANGO_RECEIVERS', 'span'), ('ENABLED', True)] signal_tracing"
    )


def test_spans_are_compared_with_the_first_run_that_exported_any() -> None:
    summaries = [
        {"mode": "untraced", "seconds": 100, "cpu_seconds": 90, "spans": 0},
        {"mode": "instrument", "seconds": 120, "cpu_seconds": 110, "spans": 1_000},
        {"mode": "django-receiver-spans", "seconds": 150, "cpu_seconds": 130, "spans": 3_500},
    ]
    harness().add_ratios(summaries)
    assert [
        (summary.get("spans_reference"), summary.get("spans_ratio"), summary["time_ratio"])
        for summary in summaries
    ] == [(None, None, 1.0), ("instrument", 1.0, 1.2), ("instrument", 3.5, 1.5)]
