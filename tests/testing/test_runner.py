"""SignalCoverageRunner: ``manage.py test --signal-coverage``, in one process or with --parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CASES = """
    from django.test import TestCase

    from kitchen.baking import bake
    from kitchen.models import Topping
    from sms.verification import request_code


    class CodeTests(TestCase):
        def test_request_one(self):
            request_code("13800138000", sms_type=1)


    class MoreCodeTests(TestCase):
        def test_request_two(self):
            request_code("13800138001", sms_type=1)
            request_code("13800138002", sms_type=1)


    class PizzaTests(TestCase):
        def test_bake(self):
            bake("M", [Topping.objects.get(name="ham")])
"""


def run_tests(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "runner_cases.py").write_text(textwrap.dedent(CASES))
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO), str(REPO / "example_site")]),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "test",
            "runner_cases",
            "--testrunner=signal_tracing.testing.runner.SignalCoverageRunner",
            *options,
        ],
        cwd=REPO / "example_site",  # the default source: the directory manage.py runs in
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


EXPECTED_TABLE = [
    "Signal receiver coverage",
    "Receiver                                Signal             Calls  Where",
    "kitchen.receivers.update_price          m2m_changed            2  kitchen/receivers.py:25",
    "kitchen.receivers.announce_pizza        pizza_done             1  kitchen/receivers.py:56",
    "kitchen.receivers.count_toppings        pizza_done             1  kitchen/receivers.py:65",
    "kitchen.receivers.notify_courier        pizza_done             1  kitchen/receivers.py:71",
    "sms.receivers.send_sms_code             post_save              3  sms/receivers.py:27",
    "sms.receivers.log_code_sent             sms_code_sent          3  sms/receivers.py:56",
    "sms.receivers.log_code_verified         sms_code_verified      0  sms/receivers.py:61",
    "sms.receivers.remember_verified_mobile  sms_code_verified      0  sms/receivers.py:66",
    "sms.receivers.log_deleted_code          post_delete            0  sms/receivers.py:74",
    "TOTAL: 6 of 9 receivers called (66.7%)",
    "Never called (3):",
    "  sms.receivers.log_code_verified (sms_code_verified) sms/receivers.py:61",
    "  sms.receivers.remember_verified_mobile (sms_code_verified) sms/receivers.py:66",
    "  sms.receivers.log_deleted_code (post_delete) sms/receivers.py:74",
]


def report_in(output: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index("Signal receiver coverage")
    return lines[start : start + len(EXPECTED_TABLE)]


@pytest.mark.parametrize("parallel", ["1", "3"])
def test_the_runner_reports_the_receivers_calls(tmp_path: Path, parallel: str) -> None:
    result = run_tests(tmp_path, "--signal-coverage", f"--parallel={parallel}")

    assert result.returncode == 0, result.stderr
    assert "Ran 3 tests" in result.stderr
    assert report_in(result.stdout) == EXPECTED_TABLE
    if parallel != "1":
        assert "Cloning test database" in result.stderr  # the workers ran the tests


def test_json_and_a_threshold_that_fails_the_run(tmp_path: Path) -> None:
    report = tmp_path / "receivers.json"
    result = run_tests(
        tmp_path, f"--signal-coverage-json={report}", "--signal-coverage-fail-under=75"
    )

    assert result.returncode == 1, result.stderr
    assert "OK" in result.stderr  # every test passed: the threshold failed the run
    assert report_in(result.stdout) == EXPECTED_TABLE
    assert result.stdout.rstrip().splitlines()[-2:] == [
        f"JSON report written to {report}",
        "FAIL Required receiver coverage of 75% not reached. Total receiver coverage: "
        "66.7% (6 of 9 receivers called)",
    ]
    assert json.loads(report.read_text())["summary"]["called"] == 6


def test_without_the_option_the_runner_is_djangos(tmp_path: Path) -> None:
    result = run_tests(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "receiver coverage" not in result.stdout
