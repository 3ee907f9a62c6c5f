"""Test spans (``test_scope`` and Django's test cases), and what tests send: setting_changed
with cleansed values, template_rendered with the template name only."""

from __future__ import annotations

import io
import unittest
import uuid

import pytest
from django.test import Client, override_settings
from opentelemetry.trace import NoOpTracerProvider, StatusCode

import signal_tracing
from signal_tracing.attributes import REDACTED
from signal_tracing.lifecycle import test_scope
from signal_tracing.nesting import current_node
from tests.lifecycle import sample_tests, views
from tests.lifecycle.conftest import Tracing

KEYS = ("test.case.result.status", "error.type", "django.signal.template.name")


@pytest.mark.usefixtures("tick_receiver")
def test_test_scope_is_the_root_of_the_tests_trace(tracing: Tracing) -> None:
    with test_scope("tests/test_shop.py::test_checkout[card]") as scope:
        assert scope is not None
        views.tick.send(sender=None)
        scope.set_result("pass")

    assert tracing.tree(KEYS) == "\n".join(
        [
            "tests/test_shop.py::test_checkout[card] test.case.result.status=pass",
            "  tick tests.lifecycle.conftest.on_tick",
        ]
    )
    span = tracing.named("tests/test_shop.py::test_checkout[card]")
    assert span.parent is None
    assert (span.attributes or {})["test.case.name"] == "tests/test_shop.py::test_checkout[card]"
    assert current_node.get() is None


def test_exception_leaving_the_scope_fails_the_test(tracing: Tracing) -> None:
    private = f"order-{uuid.uuid4()}"  # made at run time: only the message can carry it

    with pytest.raises(AssertionError), test_scope("tests/test_x.py::test_broken"):
        raise AssertionError(f"expected {private!r} to be paid")

    span = tracing.named("tests/test_x.py::test_broken")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["test.case.result.status"] == "fail"
    assert private not in tracing.exported_text()


def test_skip_is_not_a_failure(tracing: Tracing) -> None:
    with pytest.raises(unittest.SkipTest), test_scope("tests/test_x.py::test_skipped"):
        raise unittest.SkipTest("not today")

    span = tracing.named("tests/test_x.py::test_skipped")
    assert span.status.status_code is StatusCode.UNSET
    assert "test.case.result.status" not in (span.attributes or {})


def test_set_result_accepts_pass_or_fail_only(tracing: Tracing) -> None:
    with test_scope("tests/test_x.py::test_y") as scope:
        assert scope is not None
        with pytest.raises(ValueError, match="'pass' or 'fail'"):
            scope.set_result("passed")  # type: ignore[arg-type]


@pytest.mark.usefixtures("tick_receiver")
def test_test_spans_off_yields_no_scope(tracing: Tracing) -> None:
    signal_tracing.instrument(test_spans=False)

    with test_scope("tests/test_x.py::test_y") as scope:
        views.tick.send(sender=None)

    assert scope is None
    assert tracing.tree() == "tick tests.lifecycle.conftest.on_tick"


def test_test_spans_default_follows_whether_spans_are_exported() -> None:
    # None (the default): on with a real SDK provider, off with the API's no-op one.
    signal_tracing.instrument(tracer_provider=NoOpTracerProvider())
    try:
        with test_scope("tests/test_x.py::test_y") as scope:
            assert scope is None
        signal_tracing.instrument(test_spans=True)
        with test_scope("tests/test_x.py::test_y") as scope:
            assert scope is not None
    finally:
        signal_tracing.uninstrument()
        signal_tracing.instrument()


def run_django_tests(*names: str) -> unittest.TestResult:
    suite = unittest.TestSuite(sample_tests.SampleTests(name) for name in names)
    return unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)


def test_django_test_cases_get_a_root_span_each_with_their_result(tracing: Tracing) -> None:
    result = run_django_tests("test_passes", "test_fails")

    assert len(result.failures) == 1
    roots = sorted(
        (span.name, (span.attributes or {}).get("test.case.result.status"))
        for span in tracing.spans()
        if span.parent is None
    )
    assert roots == [
        ("tests.lifecycle.sample_tests.SampleTests.test_fails", "fail"),
        ("tests.lifecycle.sample_tests.SampleTests.test_passes", "pass"),
    ]
    # override_settings in the passing test: setting_changed on enter and on exit, inside it.
    passing = tracing.named("tests.lifecycle.sample_tests.SampleTests.test_passes")
    inside = [
        s for s in tracing.spans() if s.parent and s.parent.span_id == passing.context.span_id
    ]
    assert [(s.name, (s.attributes or {}).get("django.signal.setting.enter")) for s in inside] == [
        ("setting_changed send", True),
        ("setting_changed send_robust", False),
    ]
    assert "s3cr3t-in-a-test" not in tracing.exported_text()


def test_outer_test_scope_wins_over_the_django_test_case(tracing: Tracing) -> None:
    # The pytest plugin's fixture around a Django TestCase: one span, the plugin's.
    with test_scope("tests/lifecycle/sample_tests.py::SampleTests::test_passes"):
        run_django_tests("test_passes")

    roots = [span.name for span in tracing.spans() if span.parent is None]
    assert roots == ["tests/lifecycle/sample_tests.py::SampleTests::test_passes"]


SECRETS = {
    "SECRET_KEY": "sk-live-0123456789",
    "PAYMENT_API_TOKEN": "tok-4567",
    "MAIL_PASSWORD": "pw-89",
}


def test_setting_changed_values_are_cleansed_like_djangos_error_reporter(
    tracing: Tracing,
) -> None:
    gateway = {"API_KEY": "key-0246", "URL": "https://pay.example"}

    with (
        test_scope("tests/test_settings.py::test_secrets"),
        override_settings(**SECRETS, PAYMENT_GATEWAY=gateway, SHOP_NAME="Corner Shop"),
    ):
        pass

    values = {
        (span.attributes or {})["django.signal.setting.name"]: (span.attributes or {})[
            "django.signal.setting.value"
        ]
        for span in tracing.spans()
        if (span.attributes or {}).get("django.signal.setting.enter") is True
    }
    assert values == {
        "SECRET_KEY": REDACTED,
        "PAYMENT_API_TOKEN": REDACTED,
        "MAIL_PASSWORD": REDACTED,
        "PAYMENT_GATEWAY": f"{{'API_KEY': '{REDACTED}', 'URL': 'https://pay.example'}}",
        "SHOP_NAME": "Corner Shop",
    }
    text = tracing.exported_text()
    for secret in [*SECRETS.values(), gateway["API_KEY"]]:
        assert secret not in text


@pytest.mark.urls("tests.lifecycle.urls")
def test_template_rendered_in_a_test_request_records_the_template_name_only(
    tracing: Tracing,
) -> None:
    with test_scope("tests/test_pages.py::test_template"):
        response = Client().get("/template/")

    assert b"secret-site-name" in response.content
    assert tracing.tree(KEYS) == "\n".join(
        [
            "tests/test_pages.py::test_template",
            "  GET template/",
            "    request_started tests.lifecycle.conftest.request_began",
            "    template_rendered send"
            " django.signal.template.name=registration/password_reset_subject.txt",
            "    request_finished tests.lifecycle.conftest.request_ended",
        ]
    )
    assert "secret-site-name" not in tracing.exported_text()
