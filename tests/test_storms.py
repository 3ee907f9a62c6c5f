"""Signal storms: one signal and sender fired past STORM_THRESHOLD times from one line in one
request, command or test become one event on its span, and one entry for the panel."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal
from django.test import Client
from opentelemetry.sdk.trace import ReadableSpan
from sms.models import SmsCode

from signal_tracing import attributes as attrs
from signal_tracing import storms
from signal_tracing.records import DispatchRecord
from signal_tracing.storms import find_storms
from signal_tracing.testing import SignalCapture, capture_signals, collect_spans
from signal_tracing.testing.collected_spans import CollectedSpans

#: The nested view's name in a send site: code objects carry their qualified name since
#: Python 3.11; before, a nested function has only its own.
VIEW_QUALNAME = (
    "storm_view.<locals>.view" if hasattr(compile("", "", "exec"), "co_qualname") else "view"
)

stock_counted = Signal()
stock_moved = Signal()


def on_stock(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture(autouse=True)
def stock_receivers() -> Iterator[None]:
    stock_counted.connect(on_stock)
    stock_moved.connect(on_stock)
    yield
    stock_counted.disconnect(on_stock)
    stock_moved.disconnect(on_stock)


def here() -> int:
    return sys._getframe(1).f_lineno


def records(capture: SignalCapture) -> list[DispatchRecord]:
    return [firing.record for firing in capture.firings]


def storm_events(span: ReadableSpan) -> list[dict[str, Any]]:
    return [
        dict(event.attributes or {}) for event in span.events if event.name == attrs.STORM_EVENT
    ]


def request_span(collected: CollectedSpans) -> ReadableSpan:
    [span] = [span for span in collected.finished() if span.name.startswith("GET ")]
    return span


@pytest.fixture
def storm_view(settings: Any) -> Iterator[int]:
    """Serve /storm/: sends ``stock_counted`` in a loop, from the line it yields."""
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    line = here() + 6

    def view(request: HttpRequest) -> HttpResponse:
        for item in request.GET["senders"].split(","):
            sender, count = item.split(":")
            for _ in range(int(count)):
                stock_counted.send(sender=sender)
        return HttpResponse("ok")

    import types

    urlconf = types.ModuleType("storm_urls")
    urlconf.urlpatterns = [path("storm/", view)]  # type: ignore[attr-defined]
    sys.modules["storm_urls"] = urlconf
    settings.ROOT_URLCONF = "storm_urls"
    yield line
    del sys.modules["storm_urls"]


def test_a_loop_past_the_threshold_is_one_event_on_the_request_span(
    client: Client, storm_view: int
) -> None:
    with collect_spans(storm_threshold=3) as collected:
        client.get("/storm/", {"senders": "shop:5,depot:2"})

    [event] = storm_events(request_span(collected))
    duration = event.pop(attrs.STORM_DURATION)
    assert isinstance(duration, float)
    assert duration > 0
    assert event == {
        "django.signal.name": "stock_counted",
        "django.signal.path": "tests.test_storms.stock_counted",
        "django.signal.sender": "shop",
        "django.signal.storm.count": 5,
        "django.signal.storm.threshold": 3,
        "django.signal.send_site": f"tests/test_storms.py:{storm_view} in {VIEW_QUALNAME}",
        "django.signal.send_site.file.path": __file__,
        "django.signal.send_site.line.number": storm_view,
        "django.signal.send_site.function.name": f"tests.test_storms.{VIEW_QUALNAME}",
    }


def test_at_the_threshold_there_is_no_storm(client: Client, storm_view: int) -> None:
    with collect_spans(storm_threshold=5) as collected:
        client.get("/storm/", {"senders": "shop:5"})

    assert storm_events(request_span(collected)) == []


def test_threshold_zero_turns_storms_off(client: Client, storm_view: int) -> None:
    with collect_spans(storm_threshold=0) as collected:
        client.get("/storm/", {"senders": "shop:50"})

    assert storm_events(request_span(collected)) == []


def test_storms_are_ordered_most_firings_first(client: Client, storm_view: int) -> None:
    with collect_spans(storm_threshold=1) as collected:
        client.get("/storm/", {"senders": "depot:2,shop:4"})

    events = storm_events(request_span(collected))
    assert [(e["django.signal.sender"], e["django.signal.storm.count"]) for e in events] == [
        ("shop", 4),
        ("depot", 2),
    ]


def test_the_same_signal_from_two_lines_is_counted_per_line() -> None:
    with capture_signals() as capture:
        for _ in range(3):
            stock_counted.send(sender="shop")
        for _ in range(3):
            stock_counted.send(sender="shop")

    found = find_storms(records(capture), 2)
    assert [storm.count for storm in found] == [3, 3]
    first, second = found
    assert first.send_site is not None
    assert second.send_site is not None
    assert first.send_site.line_number != second.send_site.line_number
    assert find_storms(records(capture), 3) == []


def test_find_storms_describes_each_storm_the_way_the_panel_shows_it() -> None:
    with capture_signals() as capture:
        line = here() + 2
        for _ in range(4):
            stock_moved.send(sender="depot")

    [storm] = find_storms(records(capture), 3)
    assert (storm.signal_name, storm.sender_label, storm.count) == ("stock_moved", "depot", 4)
    assert storm.total_ns > 0
    assert storm.describe().startswith(
        f"stock_moved depot x4 from tests/test_storms.py:{line} in "
        "test_find_storms_describes_each_storm_the_way_the_panel_shows_it ("
    )


def test_count_policy_firings_are_not_storms(db: None) -> None:
    # pre_init/post_init fire once per row loaded: counted on the span, never a storm.
    SmsCode.objects.bulk_create(SmsCode(mobile="13800138000", sms_type=1) for _ in range(5))
    with capture_signals() as capture:
        list(SmsCode.objects.all())

    assert [firing.signal_name for firing in capture.firings][:1] == ["pre_init"]
    assert find_storms(records(capture), 1) == []


def test_a_scope_counts_a_bounded_number_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storms, "MAX_KEYS_PER_SCOPE", 2)
    with capture_signals() as capture:
        for sender in ("a", "b", "c", "c"):
            stock_counted.send(sender=sender)

    table = storms.StormTable(0)
    for record in records(capture):
        table.add(record, record.duration_ns)
    assert sorted(key[1] for key in table.entries) == ["a", "b"]
    assert table.uncounted == 2
