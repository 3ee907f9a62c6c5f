"""Send sites: each recorded firing knows the line of the app's that caused it."""

from __future__ import annotations

import asyncio
import inspect
import sys
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from django.test import override_settings
from django.test.signals import setting_changed
from django.utils.functional import SimpleLazyObject
from sms import receivers as sms_receivers
from sms.models import SmsCode
from sms.signals import sms_code_sent

from signal_tracing import origins
from signal_tracing.origins import SendSite
from signal_tracing.testing import SignalCapture, capture_signals, collect_spans

pytestmark = pytest.mark.django_db

parcel_posted = Signal()
#: Whether code objects carry their qualified name (Python 3.11+).
QUALIFIED_CODE = hasattr(compile("", "", "exec"), "co_qualname")


def on_parcel(sender: Any, **kwargs: Any) -> None:
    pass


def here() -> int:
    """The line that called ``here()``."""
    frame = sys._getframe(1)
    return frame.f_lineno


def sites_of(capture: SignalCapture, signal: Signal) -> list[SendSite | None]:
    return [firing.record.send_site for firing in capture.firings if firing.signal is signal]


@pytest.fixture
def parcel_receiver() -> Any:
    parcel_posted.connect(on_parcel)
    yield
    parcel_posted.disconnect(on_parcel)


@pytest.mark.usefixtures("parcel_receiver")
def test_a_custom_signal_is_sent_from_its_send_line() -> None:
    with capture_signals() as capture:
        line = here() + 1
        parcel_posted.send(sender="shop")

    [site] = sites_of(capture, parcel_posted)
    assert capture.firings[0].send_site is site  # the test API's Firing has it too
    assert site is not None
    assert (site.file_path, site.line_number) == (__file__, line)
    assert site.function_name == (
        "tests.test_origins.test_a_custom_signal_is_sent_from_its_send_line"
    )
    assert site.qualname == "test_a_custom_signal_is_sent_from_its_send_line"
    assert site.location == f"tests/test_origins.py:{line}"
    assert site.describe() == (
        f"tests/test_origins.py:{line} in test_a_custom_signal_is_sent_from_its_send_line"
    )


def test_post_save_comes_from_the_save_call_past_the_models_own_save_override() -> None:
    # SmsCode.save() overrides save(): its super().save() line is on the way to every save.
    code = SmsCode(mobile="13800138000", sms_type=1)
    with capture_signals() as capture:
        line = here() + 1
        code.save()

    for signal in (pre_save, post_save):
        [site] = sites_of(capture, signal)
        assert site is not None
        assert (site.file_path, site.line_number) == (__file__, line)


def test_a_signal_sent_from_a_receiver_comes_from_the_receivers_line() -> None:
    with capture_signals() as capture:
        SmsCode.objects.create(mobile="13800138000", sms_type=1)

    [site] = sites_of(capture, sms_code_sent)
    assert site is not None
    assert site.file_path == sms_receivers.__file__
    assert site.function_name == "sms.receivers.send_sms_code"
    source = inspect.getsource(sms_receivers).splitlines()[site.line_number - 1]
    assert "sms_code_sent.send(" in source


def test_setting_changed_comes_from_the_override_settings_line() -> None:
    with capture_signals() as capture:
        line = here() + 1
        with override_settings(SMS_SENDER_NAME="tests"):
            pass

    sites = sites_of(capture, setting_changed)
    assert len(sites) == 2  # entering and leaving
    for site in sites:
        assert site is not None
        assert (site.file_path, site.line_number) == (__file__, line)


@pytest.mark.usefixtures("parcel_receiver")
def test_asend_comes_from_the_awaiting_line() -> None:
    async def place() -> int:
        line = here() + 1
        await parcel_posted.asend(sender="shop")
        return line

    with capture_signals() as capture:
        line = asyncio.run(place())

    [site] = sites_of(capture, parcel_posted)
    assert site is not None
    assert (site.line_number, site.qualname) == (
        line,
        # Before Python 3.11 code objects carry no qualified name; a nested function has
        # only its own.
        "test_asend_comes_from_the_awaiting_line.<locals>.place" if QUALIFIED_CODE else "place",
    )


@pytest.mark.usefixtures("parcel_receiver")
def test_one_line_gives_one_site_object_and_two_lines_two() -> None:
    with capture_signals() as capture:
        for _ in range(3):
            parcel_posted.send(sender="shop")
        parcel_posted.send(sender="shop")

    first, second, third, fourth = sites_of(capture, parcel_posted)
    assert first is second is third
    assert fourth is not None
    assert first is not None
    assert fourth != first
    assert fourth.line_number == first.line_number + 1
    assert {first, fourth} == {first, second, third, fourth}


@pytest.mark.usefixtures("parcel_receiver")
def test_no_site_for_a_send_run_in_a_sync_to_async_thread() -> None:
    # What sync_to_async runs (asave()'s save(), say) runs in another thread: above the send
    # are only that thread's plumbing (threading, concurrent.futures, asgiref); the awaiting
    # line is in another thread.
    async def post() -> None:
        await sync_to_async(parcel_posted.send)(sender="shop")

    with capture_signals() as capture:
        asyncio.run(post())

    assert sites_of(capture, parcel_posted) == [None]


def run_module(source: str, filename: str, module: str) -> None:
    """Run ``source`` as module ``module``'s code, from ``filename``."""
    namespace: dict[str, Any] = {"__name__": module, "parcel_posted": parcel_posted}
    exec(compile(source, filename, "exec"), namespace)


@pytest.mark.usefixtures("parcel_receiver")
def test_module_level_code_is_named_after_its_module() -> None:
    with capture_signals() as capture:
        run_module('parcel_posted.send(sender="shop")', "/srv/shop/orders.py", "shop.orders")

    [site] = sites_of(capture, parcel_posted)
    assert site is not None
    assert (site.file_path, site.line_number, site.function_name) == (
        "/srv/shop/orders.py",
        1,
        "shop.orders.<module>",
    )


@pytest.mark.usefixtures("parcel_receiver")
def test_the_caches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    origins.clear_caches()
    monkeypatch.setattr(origins._sites, "limit", 2)
    monkeypatch.setattr(origins._locations, "limit", 2)
    with capture_signals() as capture:
        for line in range(1, 6):
            run_module(
                "\n" * (line - 1) + 'parcel_posted.send(sender="shop")', "/srv/gen.py", "gen"
            )

    assert [site.line_number for site in sites_of(capture, parcel_posted) if site] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert len(origins._sites) <= 2
    assert len(origins._locations) <= 2
    origins.clear_caches()


@pytest.mark.usefixtures("parcel_receiver")
def test_two_sends_on_one_line_share_its_site() -> None:
    source = 'parcel_posted.send(sender="a"); parcel_posted.send(sender="b")'
    with capture_signals() as capture:
        run_module(source, "/srv/shop/orders.py", "shop.orders")

    first, second = sites_of(capture, parcel_posted)
    assert first is second


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ("compact", {"django.signal.send_site": "{short}:{line} in {function}"}),
        (
            "full",
            {
                "django.signal.send_site.file.path": "{file}",
                "django.signal.send_site.line.number": "{line}",
                "django.signal.send_site.function.name": "tests.test_origins.{function}",
            },
        ),
        ("off", {}),
    ],
)
@pytest.mark.usefixtures("parcel_receiver")
def test_send_site_attributes_on_the_span(shown: str, expected: dict[str, str]) -> None:
    with collect_spans(send_site_attributes=shown) as collected:
        line = here() + 1
        parcel_posted.send(sender="shop")

    [span] = collected.finished()
    function = "test_send_site_attributes_on_the_span"
    values = {
        "short": "tests/test_origins.py",
        "line": line,
        "function": function,
        "file": __file__,
    }
    wanted = {
        key: line if value == "{line}" else value.format(**values)
        for key, value in expected.items()
    }
    assert {
        key: value
        for key, value in (span.attributes or {}).items()
        if key.startswith("django.signal.send_site")
    } == wanted


@pytest.mark.usefixtures("parcel_receiver")
def test_lazy_objects_among_the_senders_globals_are_never_evaluated() -> None:
    # The walk reads the sending code's module globals (its __name__, the class a method
    # named ``save`` belongs to): a lazy object standing there must stay unevaluated.
    evaluated: list[str] = []

    def evaluate(name: str) -> Any:
        evaluated.append(name)
        return type(name, (), {})

    origins.clear_caches()
    namespace: dict[str, Any] = {
        "__name__": SimpleLazyObject(lambda: evaluate("__name__")),
        "Shop": SimpleLazyObject(lambda: evaluate("Shop")),
        "parcel_posted": parcel_posted,
    }
    source = "class Shop:\n    def save(self):\n        parcel_posted.send(sender='shop')\n"
    exec(compile(source, "/srv/shop/lazy.py", "exec"), namespace)
    method = namespace["Shop"].save
    namespace["Shop"] = SimpleLazyObject(lambda: evaluate("Shop"))  # what the walk looks up
    evaluated.clear()

    with capture_signals() as capture:
        method(None)

    [site] = sites_of(capture, parcel_posted)
    assert evaluated == []
    assert site is not None
    assert (site.file_path, site.line_number, site.function_name) == (
        "/srv/shop/lazy.py",
        3,
        "Shop.save" if QUALIFIED_CODE else "save",  # self is None: no class to find it in
    )
    origins.clear_caches()
