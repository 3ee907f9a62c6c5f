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


def leak(**values: object) -> dict[str, object]:
    return {
        "signal": "checkout",
        "signal_path": "shop.signals.checkout",
        "receiver": "shop.Basket.on_checkout",
        "location": "shop/models.py:7",
        "file_path": "/srv/shop/models.py",
        "line": 7,
        "sender": "",
        "weak": True,
        "is_async": False,
        "dispatch_uid": "",
        "replaced": False,
        **values,
    }


def test_leaks_read_as_sentences() -> None:
    html = render_to_string(
        "signal_tracing/leaks.html",
        {
            "leaks": [leak(), leak(sender="shop.Order", dispatch_uid="basket", replaced=True)],
            "leaks_omitted": 3,
            "leaks_concurrent": 2,
        },
    )
    assert text_of(html) == (
        "Receiver left connected: shop.Basket.on_checkout was connected to checkout while this "
        "request ran and is still connected. Weak reference: it stays connected, and keeps "
        "running, for as long as something else keeps it alive. shop/models.py:7 "
        "Receiver left connected: shop.Basket.on_checkout was connected to checkout while this "
        "request ran and is still connected (sender shop.Order). Weak reference: it stays "
        "connected, and keeps running, for as long as something else keeps it alive. "
        "dispatch_uid basket (held by another receiver before, since collected) "
        "shop/models.py:7 "
        "and 3 more receivers left connected "
        "2 other requests ran at the same time: receivers they connected and left connected "
        "are listed here too (connections are per process, not per request). "
        "Connect receivers once (at import, or in AppConfig.ready()), or disconnect them "
        "before the view returns."
    )


def test_no_leaks_render_nothing() -> None:
    html = render_to_string(
        "signal_tracing/leaks.html", {"leaks": [], "leaks_omitted": 0, "leaks_concurrent": 4}
    )
    assert html.strip() == ""
