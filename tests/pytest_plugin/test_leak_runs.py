"""signal_no_leaks (marker, --signal-no-leaks, ini), run the way users run it: pytest in a
subprocess, on a project that uses the example site's apps."""

from __future__ import annotations

import textwrap

import pytest

from tests.pytest_plugin.test_runs import DJANGO_PROJECT_INI, django_project

pytest_plugins = ["pytester"]

TESTS = """
    import pytest
    from django.core.files.storage import FileSystemStorage
    from django.db.models.signals import post_save
    from django.test import override_settings

    from kitchen.signals import pizza_done
    from sms.models import SmsCode


    @pytest.fixture(scope="session")
    def session_listener():
        def on_pizza_for_the_session(sender, **kwargs):
            pass

        pizza_done.connect(on_pizza_for_the_session, weak=False)
        return on_pizza_for_the_session


    @pytest.fixture
    def tidy_listener():
        def on_save_in_a_fixture(sender, **kwargs):
            pass

        post_save.connect(on_save_in_a_fixture, weak=False)
        yield
        post_save.disconnect(on_save_in_a_fixture)


    @pytest.mark.signal_no_leaks
    def test_leaky():
        def on_code_saved(sender, **kwargs):
            pass

        post_save.connect(on_code_saved, sender=SmsCode, weak=False)


    @pytest.mark.signal_no_leaks
    def test_tidy(tidy_listener, request):
        request.getfixturevalue("session_listener")

        def on_save(sender, **kwargs):
            pass

        post_save.connect(on_save, weak=False)
        request.addfinalizer(lambda: post_save.disconnect(on_save))


    @pytest.mark.signal_no_leaks
    def test_weak_receiver_that_dies():
        def on_save(sender, **kwargs):
            pass

        post_save.connect(on_save)


    @pytest.mark.signal_no_leaks
    @pytest.mark.django_db
    def test_django_connects_and_disconnects_its_own(client, settings):
        settings.DEBUG = True
        with override_settings(MEDIA_ROOT="/tmp/elsewhere"):
            storage = FileSystemStorage()
            assert client.get("/").status_code == 200
        assert storage


    @pytest.mark.signal_no_leaks
    def test_imports_a_module_that_connects_at_import_time():
        import late_receivers  # noqa: F401


    @pytest.mark.signal_no_leaks(ignore=["*.on_pizza_ignored"])
    def test_ignored_by_the_marker():
        def on_pizza_ignored(sender, **kwargs):
            pass

        pizza_done.connect(on_pizza_ignored, weak=False)


    def test_unmarked_leaks_freely():
        def on_pizza_unchecked(sender, **kwargs):
            pass

        pizza_done.connect(on_pizza_unchecked, weak=False)


    @pytest.mark.signal_no_leaks(check=False)
    def test_opted_out():
        def on_pizza_opted_out(sender, **kwargs):
            pass

        pizza_done.connect(on_pizza_opted_out, weak=False)
"""

LATE_RECEIVERS = """
    from django.db.models.signals import post_delete
    from django.dispatch import receiver


    @receiver(post_delete, weak=False)
    def on_delete_from_a_late_import(sender, **kwargs):
        pass
"""


def test_the_marker_fails_only_the_test_that_leaves_a_receiver(pytester: pytest.Pytester) -> None:
    django_project(pytester, test_leaks=TESTS, late_receivers=LATE_RECEIVERS)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=8, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_leaky _*",
            "test_leaks.py::test_leaky left 1 receiver connected:",
            "  post_save <- test_leaks.test_leaky.<locals>.on_code_saved (test_leaks.py:31): "
            "strong (weak=False), sender=sms.SmsCode",
            "A receiver left connected runs in every later test and keeps alive whatever it "
            "references.",
            "*signal.disconnect(receiver, ...) from a fixture that connects, yields, then*",
            "To leave one connected on purpose, add its name to",
            "@pytest.mark.signal_no_leaks(ignore=[...]) or to the signal_leaks_ignore ini option.",
            "*= short test summary info =*",
            "ERROR test_leaks.py::test_leaky - Failed: test_leaks.py::test_leaky left 1 *",
        ]
    )


GLOBAL = """
    from kitchen.signals import pizza_done


    def test_leaks_one():
        def on_pizza_everywhere(sender, **kwargs):
            pass

        pizza_done.connect(on_pizza_everywhere, weak=False)


    def test_leaks_an_ignored_one():
        def on_pizza_ignored_by_ini(sender, **kwargs):
            pass

        pizza_done.connect(on_pizza_ignored_by_ini, weak=False)
"""


def test_the_command_line_flag_checks_every_test(pytester: pytest.Pytester) -> None:
    django_project(pytester, test_global=GLOBAL)
    pytester.makeini(
        textwrap.dedent(DJANGO_PROJECT_INI)
        + "signal_leaks_ignore =\n    *.on_pizza_ignored_by_ini\n"
    )
    result = pytester.runpytest_subprocess("--signal-no-leaks")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*pizza_done <- test_global.test_leaks_one.<locals>.on_pizza*"])


def test_the_ini_option_checks_every_test(pytester: pytest.Pytester) -> None:
    django_project(pytester, test_global=GLOBAL)
    pytester.makeini(textwrap.dedent(DJANGO_PROJECT_INI) + "signal_no_leaks = true\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2, errors=2)


OFF = """
    import sys


    def test_nothing_is_loaded_for_leaks_when_no_test_asks():
        assert "signal_tracing.leaks" not in sys.modules
        assert "signal_tracing.testing.leak_check" not in sys.modules
"""


def test_nothing_runs_when_no_test_asks(pytester: pytest.Pytester) -> None:
    django_project(pytester, test_off=OFF)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_a_misspelt_marker_argument_is_a_usage_error(pytester: pytest.Pytester) -> None:
    django_project(
        pytester,
        test_typo="""
            import pytest


            @pytest.mark.signal_no_leaks(ignored=["x"])
            def test_typo():
                pass
        """,
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_typo _*",
            "signal_no_leaks takes the keyword arguments check= and ignore= only, not ignored.",
        ]
    )
