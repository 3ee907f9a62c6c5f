"""The pytest plugin, run the way users run it: a separate pytest process (pytester)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.testing.sites import sent_from

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]

#: A project that uses the example site's apps (sms, kitchen) with our test settings.
DJANGO_PROJECT_INI = f"""
    [pytest]
    DJANGO_SETTINGS_MODULE = tests.settings
    pythonpath = {REPO} {REPO / "example_site"}
    addopts = -p no:cacheprovider -p no:cov
    filterwarnings = error
"""

PASSING = """
    import pytest
    from django.db.models.signals import post_save, pre_save

    from kitchen.baking import bake
    from kitchen.models import Topping
    from kitchen.signals import pizza_done
    from sms.models import SmsCode
    from sms.receivers import send_sms_code
    from sms.signals import sms_code_sent, sms_code_verified
    from sms.verification import request_code

    pytestmark = pytest.mark.django_db


    def test_requesting_a_code_sends_it_once(signal_capture):
        request_code("13800138000", sms_type=1)

        signal_capture.assert_sent(
            post_save, sender=SmsCode, created=True, receiver=send_sms_code, times=1
        )
        signal_capture.assert_sent("sms_code_sent", times=1)
        signal_capture.assert_not_sent(sms_code_verified)
        signal_capture.assert_order(pre_save, post_save, sms_code_sent)


    def test_the_count_context_manager(signal_assert_num_sent):
        with signal_assert_num_sent(1, post_save, sender=SmsCode):
            request_code("13800138000", sms_type=1)
        with signal_assert_num_sent(0, sms_code_verified):
            request_code("13800138001", sms_type=2)


    def test_the_max_count_context_manager(signal_assert_max_num_sent):
        with signal_assert_max_num_sent(2, post_save) as captured:
            request_code("13800138000", sms_type=1)
        assert captured.count(post_save) == 1


    def test_finished_spans(signal_spans):
        bake("M", [Topping.objects.get(name="ham")])
        assert signal_spans.render() == "\\n".join([
            "m2m_changed kitchen.receivers.update_price",
            "m2m_changed kitchen.receivers.update_price",
            "pizza_done send_robust",
            "  kitchen.receivers.announce_pizza",
            "  kitchen.receivers.count_toppings",
            "  kitchen.receivers.notify_courier"
            " error.type=kitchen.receivers.CourierUnavailable !ERROR",
        ])


    def test_clear_forgets_fixture_setup(signal_capture):
        request_code("13800138000", sms_type=1)
        signal_capture.clear()
        assert signal_capture.firings == []
"""

FAILING = """
    import pytest
    from django.db.models.signals import post_save

    from sms.models import SmsCode
    from sms.signals import sms_code_verified
    from sms.verification import request_code

    pytestmark = pytest.mark.django_db


    def test_count(signal_assert_num_sent):
        with signal_assert_num_sent(2, post_save, sender=SmsCode):
            request_code("13800138000", sms_type=1)


    def test_max_count(signal_assert_max_num_sent):
        with signal_assert_max_num_sent(0, "sms_code_sent"):
            request_code("13800138000", sms_type=1)


    def test_not_sent(signal_capture):
        request_code("13800138000", sms_type=1)
        signal_capture.assert_sent(sms_code_verified)


    def test_misspelt_signal(signal_assert_num_sent):
        with signal_assert_num_sent(0, "sms_code_verifed"):
            pass
"""

#: Where the example site's firings are sent from.
FROM_REQUEST = sent_from("sms.verification", "request_code", "return SmsCode.objects.create(")
FROM_RECEIVER = sent_from("sms.receivers", "send_sms_code", "sms_code_sent.send(")

SUMMARY = (
    "All firings (5): pre_init sender=sms.SmsCode, post_init sender=sms.SmsCode, "
    "pre_save sender=sms.SmsCode, post_save sender=sms.SmsCode, "
    "sms_code_sent sender=sms.SmsCode"
)


def django_project(pytester: pytest.Pytester, **files: str) -> None:
    pytester.makeini(textwrap.dedent(DJANGO_PROJECT_INI))
    pytester.makepyfile(**{name: textwrap.dedent(source) for name, source in files.items()})


def test_fixtures_pass_on_the_example_site(pytester: pytest.Pytester) -> None:
    django_project(pytester, test_sms_signals=PASSING)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=5)


def test_failures_say_what_was_expected_what_fired_and_how_to_see_more(
    pytester: pytest.Pytester,
) -> None:
    django_project(pytester, test_sms_signals=FAILING)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*_ test_count _*",
            ">       with signal_assert_num_sent(2, post_save, sender=SmsCode):",
            "E       Failed: Expected post_save with sender=sms.SmsCode to be sent exactly "
            "2 times, but it was sent 1 time.",
            "E       post_save was sent 1 time:",
            f"E         * post_save send sender=sms.SmsCode{FROM_REQUEST} "
            "-> sms.receivers.send_sms_code",
            "E         (* = matches)",
            f"E       {SUMMARY}",
            "E       (add -v option to show the full tree of signals and receivers)",
            "test_sms_signals.py:12: Failed",
            "*_ test_max_count _*",
            "E       Failed: Expected sms_code_sent not to be sent, but it was sent 1 time.",
            "E       sms_code_sent was sent 1 time:",
            f"E         * sms_code_sent send sender=sms.SmsCode{FROM_RECEIVER} "
            "-> sms.receivers.log_code_sent",
            "*_ test_not_sent _*",
            "E       AssertionError: Expected sms_code_verified to be sent, but it was not.",
            f"E       {SUMMARY}",
            "E       (add -v option to show the full tree of signals and receivers)",
            "*_ test_misspelt_signal _*",
            '>       with signal_assert_num_sent(0, "sms_code_verifed"):',
            "E       ValueError: No loaded signal is called 'sms_code_verifed'. "
            "Did you mean 'sms_code_verified'?",
        ]
    )


def test_verbose_runs_show_the_tree_instead_of_the_hint(pytester: pytest.Pytester) -> None:
    django_project(pytester, test_sms_signals=FAILING)
    result = pytester.runpytest_subprocess("-v", "-k", "test_count")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(
        [
            f"E       {SUMMARY}",
            "E       ",
            "E       Signals sent:",
            "E       pre_init send sender=sms.SmsCode *",
            "E       post_init send sender=sms.SmsCode instance=<sms.SmsCode pk=1>"
            f"{FROM_REQUEST} (no receivers)",
            "E       pre_save send sender=sms.SmsCode instance=<sms.SmsCode pk=1>, *",
            "E       post_save send sender=sms.SmsCode instance=<sms.SmsCode pk=1>, "
            "created=True, *",
            "E         sms.receivers.send_sms_code: ok",
            "E           sms_code_sent send sender=sms.SmsCode sms_code=<sms.SmsCode pk=1>"
            f"{FROM_RECEIVER}",
            "E             sms.receivers.log_code_sent: ok",
        ]
    )
    result.stdout.no_fnmatch_line("*add -v option*")


WITHOUT_DJANGO_SETTINGS = """
    import sys

    from django.dispatch import Signal  # a library using signals without a Django project

    baked = Signal()


    def test_runs_first_and_nothing_imported_the_testing_api_yet():
        assert "signal_tracing.testing" not in sys.modules


    def test_capture_without_settings(signal_capture):
        baked.send(sender="oven", size=30)
        signal_capture.assert_sent(baked, sender="oven", size=30, times=1)
"""


def test_plugin_loads_and_works_without_a_django_project(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:django -p no:cacheprovider -p no:cov\n")
    pytester.makepyfile(test_library=textwrap.dedent(WITHOUT_DJANGO_SETTINGS))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)


def test_plugin_module_imports_neither_django_nor_the_rest_of_the_package(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.run(
        sys.executable,
        "-c",
        "import sys, signal_tracing.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('django', 'signal_tracing', "
        "'opentelemetry'))))",
    )
    assert result.ret == 0
    assert result.stdout.lines[-1] == "['signal_tracing', 'signal_tracing.pytest_plugin']"


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:django -p no:cacheprovider -p no:cov\n")
    result = pytester.runpytest_subprocess("--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "signal_capture -- *",
            "signal_assert_num_sent -- *",
            "signal_assert_max_num_sent -- *",
            "signal_spans -- *",
        ]
    )


SPAN_DUMP_CONFTEST = """
    import json

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import signal_tracing

    EXPORTER = InMemorySpanExporter()


    def pytest_configure(config):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        signal_tracing.instrument(tracer_provider=provider)  # spans exported: TEST_SPANS on


    def pytest_sessionfinish(session):
        spans = EXPORTER.get_finished_spans()
        names = {span.context.span_id: span.name for span in spans}
        with open("spans.json", "w") as dump:
            json.dump(
                [
                    {
                        "name": span.name,
                        "parent": names.get(span.parent.span_id) if span.parent else None,
                        "status": span.attributes.get("test.case.result.status"),
                    }
                    for span in spans
                ],
                dump,
            )
"""

SPAN_TESTS = """
    import pytest

    from kitchen.signals import pizza_done

    pytestmark = pytest.mark.django_db


    def test_pass():
        pizza_done.send_robust(sender="oven", toppings=[], size="S")


    def test_fail():
        pizza_done.send_robust(sender="oven", toppings=[], size="M")
        assert False


    @pytest.mark.skip
    def test_skipped():
        pass
"""


def test_each_test_is_a_trace_of_its_own_when_spans_are_exported(
    pytester: pytest.Pytester,
) -> None:
    django_project(pytester, conftest=SPAN_DUMP_CONFTEST, test_spans=SPAN_TESTS)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    spans = json.loads((pytester.path / "spans.json").read_text())
    tests = {span["name"]: span for span in spans if span["name"].startswith("test_spans.py")}
    assert {name: (span["parent"], span["status"]) for name, span in tests.items()} == {
        "test_spans.py::test_pass": (None, "pass"),
        "test_spans.py::test_fail": (None, "fail"),
        "test_spans.py::test_skipped": (None, None),  # a span, but neither pass nor fail
    }
    assert [span["parent"] for span in spans if span["name"] == "pizza_done send_robust"] == [
        "test_spans.py::test_pass",
        "test_spans.py::test_fail",
    ]
