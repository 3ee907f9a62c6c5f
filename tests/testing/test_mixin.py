"""SignalAssertionsMixin, under Django's TestCase, and under Django's own test runner."""

# These tests show the mixin the way unittest users write: assertEqual, assertRaises.
# ruff: noqa: PT009, PT027

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from django.test import TestCase

from signal_tracing.testing import Sent, SignalAssertionsMixin
from signal_tracing.testing.mixin import MIXIN_HINT
from tests.testapp.models import Author

REPO = Path(__file__).resolve().parents[2]

review_posted = Signal()


def notify_editor(sender: Any, **kwargs: Any) -> None:
    pass


class SignalAssertionsMixinTests(SignalAssertionsMixin, TestCase):
    def test_assert_signal_sent_passes_and_yields_the_capture(self) -> None:
        with self.assertSignalSent(post_save, sender=Author, created=True, times=1) as captured:
            Author.objects.create(name="Mao Dun")
        self.assertEqual(captured.count(pre_save), 1)

    def test_assert_signal_sent_fails_with_the_message(self) -> None:
        with (
            self.assertRaises(self.failureException) as failure,
            self.assertSignalSent(post_save, sender=Author, created=False),
        ):
            Author.objects.create(name="Mao Dun")
        lines = str(failure.exception).splitlines()
        self.assertEqual(
            lines[0],
            "Expected post_save with sender=testapp.Author, created=False to be sent, "
            "but it was not.",
        )
        self.assertEqual(lines[-1], MIXIN_HINT)

    def test_assert_signal_not_sent(self) -> None:
        with self.assertSignalNotSent(review_posted):
            Author.objects.create(name="Ding Ling")
        with self.assertRaises(self.failureException) as failure:  # noqa: SIM117
            with self.assertSignalNotSent(review_posted, receiver=notify_editor):
                review_posted.connect(notify_editor)
                try:
                    review_posted.send(sender=Author)
                finally:
                    review_posted.disconnect(notify_editor)
        self.assertEqual(
            str(failure.exception).splitlines()[0],
            "Expected review_posted received by tests.testing.test_mixin.notify_editor "
            "not to be sent, but it was sent 1 time.",
        )

    def test_assert_signals_sent_in_order(self) -> None:
        with self.assertSignalsSentInOrder(pre_save, Sent(post_save, created=True)):
            Author.objects.create(name="Shen Congwen")
        with (
            self.assertRaises(self.failureException),
            self.assertSignalsSentInOrder(post_save, pre_save),
        ):
            Author.objects.create(name="Shen Congwen")

    def test_short_names_work_and_typos_are_caught_before_the_block_runs(self) -> None:
        with self.assertSignalSent("review_posted", times=1):
            review_posted.send(sender=Author)
        with (
            self.assertRaisesMessage(ValueError, "Did you mean 'review_posted'?"),
            self.assertSignalNotSent("review_poster"),
        ):
            self.fail("the block must not run")

    def test_the_block_raising_is_not_hidden_by_a_failed_check(self) -> None:
        with self.assertRaises(ZeroDivisionError), self.assertSignalSent(review_posted):
            1 / 0  # noqa: B018

    def test_verbose_class_attribute_puts_the_tree_in_messages(self) -> None:
        self.signal_capture_verbose = True
        with (
            self.assertRaises(self.failureException) as failure,
            self.assertSignalSent(review_posted),
        ):
            Author.objects.create(name="Xiao Hong")
        self.assertIn(
            "\n\nSignals sent:\npre_init send sender=testapp.Author", str(failure.exception)
        )


DJANGO_RUNNER_MODULE = """
    from django.db.models.signals import post_save
    from django.test import TestCase

    from signal_tracing.testing import SignalAssertionsMixin
    from tests.testapp.models import Author


    class AuthorSignalsTests(SignalAssertionsMixin, TestCase):
        def test_creating_sends_post_save(self):
            with self.assertSignalSent(post_save, sender=Author, created=True, times=1):
                Author.objects.create(name="Lu Xun")

        def test_expecting_two_saves(self):
            with self.assertSignalSent(post_save, sender=Author, times=2):
                Author.objects.create(name="Ba Jin")
"""


def test_mixin_under_djangos_own_test_runner(tmp_path: Path) -> None:
    (tmp_path / "runner_cases.py").write_text(textwrap.dedent(DJANGO_RUNNER_MODULE))
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO), str(REPO / "example_site")]),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "test", "runner_cases", "-v", "1"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stderr
    assert result.returncode == 1, output
    [line] = [
        number
        for number, text in enumerate(textwrap.dedent(DJANGO_RUNNER_MODULE).splitlines(), 1)
        if 'Author.objects.create(name="Ba Jin")' in text
    ]
    sent = f"(from runner_cases.py:{line} in AuthorSignalsTests.test_expecting_two_saves)"
    assert "Ran 2 tests" in output
    assert "FAIL: test_expecting_two_saves (runner_cases.AuthorSignalsTests" in output
    assert (
        "AssertionError: Expected post_save with sender=testapp.Author to be sent exactly "
        "2 times, but it was sent 1 time.\n"
        "post_save was sent 1 time:\n"
        f"  * post_save send sender=testapp.Author {sent} -> no receivers\n"
        "  (* = matches)\n"
        "All firings (4): pre_init sender=testapp.Author, post_init sender=testapp.Author, "
        "pre_save sender=testapp.Author, post_save sender=testapp.Author\n" + MIXIN_HINT
    ) in output
    assert "FAILED (failures=1)" in output
