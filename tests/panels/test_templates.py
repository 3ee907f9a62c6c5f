"""The panel's templates on their own: outcome labels and escaping of every stored string."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from tests.panels.html import text_of


@pytest.mark.parametrize(
    ("outcome", "method", "label"),
    [
        ("ok", "send", "ok"),
        ("raised", "send", "raised"),
        ("handled", "send_robust", "handled by send_robust"),
        ("handled", "asend_robust", "handled by asend_robust"),
        ("not_run", "send", "not run"),
        ("cancelled", "asend", "cancelled"),
        ("running", "send", "running"),
    ],
)
def test_each_outcome_has_a_label(outcome: str, method: str, label: str) -> None:
    html = render_to_string("signal_tracing/outcome.html", {"outcome": outcome, "method": method})
    assert text_of(html) == label
    # The label is included inside sentences ("(handled by send_robust)"): no trailing space.
    assert html == html.strip()


def test_an_unknown_outcome_is_shown_escaped() -> None:
    html = render_to_string("signal_tracing/outcome.html", {"outcome": "<i>new</i>", "method": ""})
    assert html.strip() == "&lt;i&gt;new&lt;/i&gt;"
