"""docs/testing.md stays true: its examples run as written, its sample output is real."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db.models.signals import post_save
from sms.models import SmsCode
from sms.verification import request_code, verify_code

from signal_tracing.testing import capture_signals
from signal_tracing.testing.capture import SignalCapture

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "testing.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PYTEST_HINT = "(add -v option to show the full tree of signals and receivers)"


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(PAGE) if lang == language]


STARTPROJECT_TITLE = "### pytest in a `startproject` project"


def section(title: str) -> str:
    """The page from heading ``title`` to the next heading of the same level or higher."""
    level = len(title.split(" ", 1)[0])
    lines = PAGE[PAGE.index(title + "\n") :].splitlines(keepends=True)
    in_code = False
    for number, line in enumerate(lines[1:], 1):
        in_code ^= line.startswith("```")
        heading = re.match(r"(#+) ", line)
        if not in_code and heading and len(heading.group(1)) <= level:
            return "".join(lines[:number])
    return "".join(lines)


def example_tests() -> list[str]:
    """The examples that run in the example site (the startproject files run in a project)."""
    startproject = section(STARTPROJECT_TITLE)
    return [body for body in blocks("python") if "def test_" in body and body not in startproject]


def text_block_after(marker: str) -> str:
    """The first ```text block after ``marker`` on the page."""
    following = PAGE[PAGE.index(marker) :]
    return next(body for lang, body in FENCE.findall(following) if lang == "text").rstrip("\n")


def test_every_example_on_the_page_passes(pytester: pytest.Pytester) -> None:
    examples = example_tests()
    assert len(examples) >= 6
    pytester.makeini(
        textwrap.dedent(
            f"""
            [pytest]
            DJANGO_SETTINGS_MODULE = tests.settings
            pythonpath = {REPO} {REPO / "example_site"}
            addopts = -p no:cacheprovider -p no:cov
            filterwarnings = error
            """
        )
    )
    pytester.makepyfile(
        **{f"test_docs_example_{number}": body for number, body in enumerate(examples)}
    )
    result = pytester.runpytest_subprocess()
    expected = sum(len(re.findall(r"^\s*def test_", body, re.MULTILINE)) for body in examples)
    result.assert_outcomes(passed=expected)


# The page shows pk=1: sequences are reset (the PostgreSQL leg keeps them between tests).
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_rendered_tree_on_the_page_is_real() -> None:
    with capture_signals() as captured:
        request_code("13800138000", sms_type=1)
    assert captured.render() == text_block_after("`print(captured.render())` shows")


@pytest.mark.django_db
def test_the_failure_message_on_the_page_is_real() -> None:
    with SignalCapture(hint=PYTEST_HINT) as captured:  # as the signal_capture fixture makes it
        code = request_code("13800138000", sms_type=1)
        verify_code("13800138000", code.sms_code, sms_type=1)
    with pytest.raises(AssertionError) as failure:
        captured.assert_sent(post_save, sender=SmsCode, created=False, times=2)
    assert str(failure.value) == text_block_after("For example, expecting verification")


def startproject_files() -> dict[str, str]:
    """The section's files, each a block whose first line is ``# <path>``."""
    files = {}
    for _language, body in FENCE.findall(section(STARTPROJECT_TITLE)):
        first_line = body.partition("\n")[0]
        if first_line.startswith("# "):
            files[first_line.removeprefix("# ")] = body
    return files


def failures_section(output: str) -> list[str]:
    lines = [line.rstrip() for line in output.splitlines()]
    start = next(n for n, line in enumerate(lines) if re.fullmatch(r"=+ FAILURES =+", line))
    end = next(n for n, line in enumerate(lines[start + 1 :], start + 1) if line.startswith("="))
    return lines[start:end]


def test_the_startproject_example_fails_as_the_page_shows_and_the_fix_passes(
    tmp_path: Path,
) -> None:
    # A fresh process sees only the project's own pytest.ini, as a user's run does.
    hidden = {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTEST_ADDOPTS"}
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env["COLUMNS"] = "80"  # the width of the output on the page

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    assert run("-m", "django", "startproject", "mysite", ".").returncode == 0
    assert run("manage.py", "startapp", "orders").returncode == 0
    files = startproject_files()
    assert sorted(files) == [
        "orders/models.py",
        "orders/signals.py",
        "orders/tests.py",
        "pytest.ini",
    ]
    for path, body in files.items():
        (tmp_path / path).write_text(body, encoding="utf-8")
    with (tmp_path / "mysite" / "settings.py").open("a", encoding="utf-8") as settings:
        settings.write('\nINSTALLED_APPS += ["orders"]\n')
    made = run("manage.py", "makemigrations", "orders")
    assert made.returncode == 0, made.stderr

    failed = run("-m", "pytest")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    shown = text_block_after("`pytest` runs it, and it fails:")
    assert failures_section(failed.stdout) == [line.rstrip() for line in shown.splitlines()]

    test_file = tmp_path / "orders" / "tests.py"
    fixed = test_file.read_text().replace('amount="99.00"', 'amount=Decimal("99.00")')
    test_file.write_text(fixed)
    passed = run("-m", "pytest")
    assert passed.returncode == 0, passed.stdout + passed.stderr


LEAK_ERROR_MARKER = "passes,\nand then errors at tear-down:"


def test_the_leak_example_errors_as_the_page_shows_and_the_fix_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    [fixed] = [
        body
        for body in blocks("python")
        if "def test_requesting_a_code_texts_the_mobile(texted_mobiles)" in body
    ]
    [leaky_fixture] = blocks("py")
    fixed_fixture = fixed[fixed.index("@pytest.fixture") : fixed.index("@pytest.mark")]
    leaky = fixed.replace(fixed_fixture, leaky_fixture + "\n\n")
    pytester.makeini(
        textwrap.dedent(
            f"""
            [pytest]
            DJANGO_SETTINGS_MODULE = tests.settings
            pythonpath = {REPO} {REPO / "example_site"}
            addopts = -p no:cacheprovider -p no:cov
            """
        )
    )
    monkeypatch.setenv("COLUMNS", "80")  # the width of the output on the page

    pytester.makepyfile(test_sms_signals=leaky)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, errors=1)
    shown = text_block_after(LEAK_ERROR_MARKER).splitlines()
    lines = [line.rstrip() for line in result.stdout.lines]
    start = lines.index(shown[0])
    assert lines[start : start + len(shown)] == shown

    pytester.makepyfile(test_sms_signals=fixed)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


COVERAGE_COMMAND = (
    "tests/example_site/test_kitchen.py",
    "tests/example_site/test_sms_models.py",
    "--signal-coverage",
    "--signal-coverage-source=example_site",
)


def test_the_coverage_report_on_the_page_is_real(tmp_path: Path) -> None:
    assert " ".join(("pytest", *COVERAGE_COMMAND)) in " ".join(PAGE.split())
    report_file = tmp_path / "receivers.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *COVERAGE_COMMAND,
            f"--signal-coverage-json={report_file}",
            "--signal-coverage-fail-under=80",
            "-p",
            "no:cov",
        ],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # under the threshold
    shown = text_block_after("--signal-coverage-source=example_site`):").splitlines()
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    start = lines.index(shown[0])
    assert lines[start : start + len(shown)] == shown
    failure = next(line for line in lines if line.startswith("FAIL Required receiver coverage"))
    assert f"`{failure}`" in PAGE

    [shown_json] = [body for lang, body in FENCE.findall(PAGE) if lang == "json"]
    page_json = json.loads(shown_json)
    written = json.loads(report_file.read_text())
    assert written["summary"] == page_json["summary"]
    assert written["receivers"][0] == page_json["receivers"][0]
    assert set(written) == set(page_json)
