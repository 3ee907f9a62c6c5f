"""``/sms/resend/``: the example site's signal storm, a ``save()`` in a loop, end to end."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from django.test import Client
from sms import receivers, views
from sms.backends import SmsMessage
from sms.models import SendStatus, SmsCode

from signal_tracing import attributes as attrs
from signal_tracing.storms import find_storms
from signal_tracing.testing import capture_signals, collect_spans

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"
TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
SHOWN_STORMS = re.compile(
    r"<!-- storms: test_the_panel_and_tests_read_the_same_storms -->\n```text\n(?P<lines>.*?)\n```",
    re.DOTALL,
)


def line_of(module: object, text: str) -> int:
    [number] = [
        number
        for number, line in enumerate(inspect.getsource(module).splitlines(), 1)  # type: ignore[arg-type]
        if text in line
    ]
    return number


@pytest.fixture
def five_codes(outbox: list[SmsMessage]) -> None:
    for _ in range(5):
        SmsCode.objects.create(mobile=MOBILE, sms_type=1)
    SmsCode.objects.create(mobile=MOBILE, sms_type=1, used=True)
    SmsCode.objects.create(mobile="13900139000", sms_type=1)
    outbox.clear()


def test_the_page_has_a_form(client: Client) -> None:
    response = client.get("/sms/resend/")
    assert response.status_code == 200
    assert 'name="mobile"' in response.content.decode()


def test_rendering_its_templates_is_no_storm(client: Client) -> None:
    # The test client's template_rendered receiver runs once per template: Django's own.
    with collect_spans(storm_threshold=1) as collected:
        client.get("/sms/resend/")

    names = collected.names()
    assert names.count("template_rendered send") > 10
    [get] = [span for span in collected.finished() if span.name == "GET sms/resend/"]
    assert [event.name for event in get.events] == []


def test_the_home_page_links_it(client: Client) -> None:
    assert "/sms/resend/" in client.get("/").content.decode()


@pytest.mark.usefixtures("five_codes")
def test_resending_is_a_storm_on_the_request_span(client: Client, outbox: list[SmsMessage]) -> None:
    with collect_spans(storm_threshold=3) as collected:
        response = client.post("/sms/resend/", {"mobile": MOBILE, "sms_type": "1"}, follow=True)

    assert "5 codes were sent again." in response.content.decode()
    assert [message.mobile for message in outbox] == [MOBILE] * 5
    [post] = [span for span in collected.finished() if span.name == "POST sms/resend/"]
    events = [
        {
            key: event.attributes[key]
            for key in (
                attrs.SIGNAL_NAME,
                attrs.SIGNAL_SENDER,
                attrs.STORM_COUNT,
                attrs.SEND_SITE_FUNCTION_NAME,
                attrs.SEND_SITE_LINE_NUMBER,
            )
        }
        for event in post.events
        if event.name == attrs.STORM_EVENT and event.attributes is not None
    ]
    assert events == [
        {
            "django.signal.name": "post_save",
            "django.signal.sender": "sms.SmsCode",
            "django.signal.storm.count": 5,
            "django.signal.send_site.function.name": "sms.views.resend_codes_page",
            "django.signal.send_site.line.number": line_of(views, "code.save()  # sends it"),
        },
        {
            "django.signal.name": "sms_code_sent",
            "django.signal.sender": "sms.SmsCode",
            "django.signal.storm.count": 5,
            "django.signal.send_site.function.name": "sms.receivers.send_sms_code",
            "django.signal.send_site.line.number": line_of(
                receivers, "sms_code_sent.send(sender=sender"
            ),
        },
    ]


@pytest.mark.usefixtures("five_codes")
def test_the_panel_and_tests_read_the_same_storms(client: Client) -> None:
    with capture_signals() as capture:
        client.post("/sms/resend/", {"mobile": MOBILE, "sms_type": "1"})

    found = find_storms([firing.record for firing in capture.firings], 3)
    line = line_of(views, "code.save()  # sends it")
    described = [storm.describe().split(" (")[0] for storm in found]
    assert described == [
        f"post_save sms.SmsCode x5 from sms/views.py:{line} in resend_codes_page",
        "sms_code_sent sms.SmsCode x5 from sms/receivers.py:"
        f"{line_of(receivers, 'sms_code_sent.send(sender=sender')} in send_sms_code",
    ]
    # docs/tutorial.md shows these lines.
    shown = SHOWN_STORMS.search(TUTORIAL.read_text(encoding="utf-8"))
    assert shown is not None
    assert shown["lines"].splitlines() == described


def test_a_bad_number_is_refused(client: Client) -> None:
    response = client.post("/sms/resend/", {"mobile": "12", "sms_type": "1"})
    assert response.status_code == 400
    assert not SmsCode.objects.filter(send_status=SendStatus.FAILURE).exists()
