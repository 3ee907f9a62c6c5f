"""docs/testing.md stays true: its examples run as written, its sample output is real."""

from __future__ import annotations

import re
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


def example_tests() -> list[str]:
    return [body for body in blocks("python") if "def test_" in body]


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
