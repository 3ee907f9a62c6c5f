"""The probes' own checks, given what a broken tracer would produce: each must say so.

A probe that cannot fail proves nothing. These feed the trace checks spans with one request's
firing under another request, a span sent twice, a lost root; the memory measure a leak; the
attribute checks a lazy object; the collection check a reference kept.
"""

from __future__ import annotations

import copy
import weakref
from typing import Any

from django.utils.functional import SimpleLazyObject

from tests.reliability.hostile import LazyFactory, not_plain, text_size
from tests.reliability.memory import measured
from tests.reliability.test_memory import RETAINED_BOUND
from tests.reliability.test_weak_references import dead
from tests.reliability.traces import NUMBER_KEY, Span, request_trace_problems, shape

ROOT = "GET probe/<int:number>/"


def request(number: int) -> list[Span]:
    """The spans of one request, as the served site exports them."""
    trace_id = f"{number:032x}"

    def span(name: str, span_id: str, parent: str, **attributes: Any) -> Span:
        return {
            "name": name,
            "trace_id": trace_id,
            "span_id": f"{number:08x}{span_id}",
            "parent_span_id": f"{number:08x}{parent}" if parent else "",
            "attributes": attributes,
        }

    return [
        span(ROOT, "00000001", ""),
        span("request_started send", "00000002", "00000001"),
        span("probe send", "00000003", "00000001", **{NUMBER_KEY: number}),
        span("count_probe", "00000004", "00000003"),
        span("request_finished send", "00000005", "00000001"),
    ]


def check(spans: list[Span], numbers: range = range(1, 4)) -> list[str]:
    return request_trace_problems(
        spans,
        root_name=ROOT,
        numbers=numbers,
        firings_per_request=1,
        expected_shape=shape(request(1)),
    ).problems


def three_requests() -> list[Span]:
    return [span for number in (1, 2, 3) for span in request(number)]


def test_sound_traces_have_no_problems() -> None:
    assert check(three_requests()) == []


def test_a_firing_under_another_requests_span_is_caught() -> None:
    spans = three_requests()
    stray = next(s for s in spans if s["attributes"].get(NUMBER_KEY) == 2)
    stray.update(trace_id=spans[0]["trace_id"], parent_span_id=spans[0]["span_id"])
    for child in spans:
        if child["parent_span_id"] == stray["span_id"]:
            child["trace_id"] = spans[0]["trace_id"]

    problems = check(spans)

    assert any("mixes the spans of requests 1, 2" in problem for problem in problems), problems
    assert any("holds no request's firing" in problem for problem in problems), problems


def test_a_request_span_under_another_request_is_caught() -> None:
    spans = three_requests()
    second_root = spans[5]
    for span in spans[5:10]:
        span["trace_id"] = spans[0]["trace_id"]
    second_root["parent_span_id"] = spans[0]["span_id"]

    problems = check(spans)

    assert any("mixes the spans" in problem for problem in problems), problems
    assert any("have no trace: 1, 2" in problem for problem in problems), problems


def test_a_span_exported_twice_is_caught() -> None:
    spans = three_requests()
    spans.append(copy.deepcopy(spans[2]))

    problems = check(spans)

    assert any("received more than once" in problem for problem in problems), problems


def test_a_lost_span_is_caught() -> None:
    spans = three_requests()
    del spans[0]  # request 1's root

    problems = check(spans)

    assert any("3 span(s) whose parent never arrived" in problem for problem in problems)
    assert any("has 0 roots" in problem for problem in problems)
    assert any("have no trace: 1" in problem for problem in problems), problems


def test_a_request_missing_from_the_export_is_caught() -> None:
    assert any("have no trace: 4" in p for p in check(three_requests(), range(1, 5)))


def test_a_differently_shaped_request_is_caught() -> None:
    spans = three_requests()
    spans[3]["name"] = "some other receiver"

    problems = check(spans)

    assert any("differ from the expected shape" in problem for problem in problems), problems


def test_a_leak_is_measured_over_the_bound() -> None:
    kept: list[bytearray] = []
    with measured() as growth:
        for _ in range(20_000):
            kept.append(bytearray(64))
    assert growth.retained > RETAINED_BOUND


def test_attributes_that_are_not_plain_are_caught_without_evaluating_them() -> None:
    lazy = LazyFactory("evaluated")
    attributes = {
        "fine": "text",
        "numbers": [1, 2],
        "lazy": lazy.lazy(),
        "mixed": [1, "one"],
        "object": object(),
    }

    assert not_plain(attributes) == {
        "lazy": "SimpleLazyObject",
        "mixed": "list",
        "object": "object",
    }
    assert text_size({"lazy": SimpleLazyObject(lambda: "x" * 100)}) == 8
    assert lazy.evaluations == 0


def test_an_object_kept_alive_is_caught() -> None:
    class Kept:
        pass

    kept = Kept()
    assert not dead(weakref.ref(kept))
