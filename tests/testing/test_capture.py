"""capture_signals(): what a capture records, and that capturing changes nothing else."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import factory
import pytest
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.dispatch import Signal
from django.test import override_settings
from factory.django import DjangoModelFactory, mute_signals

import signal_tracing
from signal_tracing import _dispatch
from signal_tracing.instrumentation import apply_settings
from signal_tracing.testing import Outcome, SignalCapture, capture_signals
from tests.testapp.models import Author, Tag
from tests.testing.sites import sent_from

pytestmark = pytest.mark.django_db

pizza_done = Signal()


class Boom(Exception):
    pass


def bake(sender: Any, **kwargs: Any) -> str:
    return "baked"


def box(sender: Any, **kwargs: Any) -> str:
    return "boxed"


def burn(sender: Any, **kwargs: Any) -> str:
    raise Boom("burnt")


@pytest.fixture
def connected() -> Iterator[None]:
    pizza_done.connect(bake)
    pizza_done.connect(box)
    yield
    pizza_done.disconnect(bake)
    pizza_done.disconnect(box)


@pytest.fixture
def untraced() -> Iterator[None]:
    signal_tracing.uninstrument()
    yield
    apply_settings()


class AuthorFactory(DjangoModelFactory[Author]):
    class Meta:
        model = Author

    name = factory.Sequence(lambda n: f"author {n}")


def patched_methods() -> dict[str, Any]:
    return {name: Signal.__dict__[name] for name in _dispatch.METHODS}


# --- what is recorded --------------------------------------------------------------------------


@pytest.mark.usefixtures("connected")
def test_records_signal_sender_kwargs_and_the_receivers_that_ran() -> None:
    with capture_signals() as captured:
        pizza_done.send(sender="kitchen", toppings=["ham"], size=30)

    [firing] = captured.firings
    assert firing.signal is pizza_done
    assert firing.sender == "kitchen"
    assert firing.kwargs == {"toppings": ["ham"], "size": 30}
    assert firing.method == "send"
    assert firing.signal_name == "pizza_done"
    assert firing.signal_path == "tests.testing.test_capture.pizza_done"
    assert firing.receivers == ["tests.testing.test_capture.bake", "tests.testing.test_capture.box"]
    assert [call.outcome for call in firing.calls] == [Outcome.OK, Outcome.OK]
    assert firing.outcome is Outcome.OK


def test_records_firings_that_have_no_receivers() -> None:
    with capture_signals() as captured:
        pizza_done.send(sender="kitchen", size=30)
        Tag.objects.create(label="spicy")  # model signals with no receiver for Tag

    assert [(f.signal_name, f.sender_label, f.receivers) for f in captured.firings] == [
        ("pizza_done", "kitchen", []),
        ("pre_init", "testapp.Tag", []),
        ("post_init", "testapp.Tag", []),
        ("pre_save", "testapp.Tag", []),
        ("post_save", "testapp.Tag", []),
    ]


@pytest.mark.usefixtures("untraced")
def test_works_with_tracing_off_and_leaves_signal_untouched_afterwards() -> None:
    with override_settings(SIGNAL_TRACING={"ENABLED": False}):
        assert not signal_tracing.is_instrumented()
        original = patched_methods()
        assert not _dispatch.is_patched()
        with capture_signals() as captured:
            Author.objects.create(name="Lu Xun")
        assert patched_methods() == original
        assert not _dispatch.is_patched()

    assert [f.signal_name for f in captured.firings] == [
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
    ]


def test_tracing_patch_is_back_exactly_after_the_capture() -> None:
    assert signal_tracing.is_instrumented()
    before = patched_methods()
    with capture_signals():
        during = patched_methods()
    assert during == before  # the same methods record the fast path while a capture is on
    assert patched_methods() == before


def test_records_the_count_policy_signals_in_full() -> None:
    # pre_init/post_init are only counted by the tracer; a test wants each one.
    with capture_signals() as captured:
        Author(name="a")
        Author(name="b")
    assert captured.count(pre_init) == 2
    assert captured.count(post_init, sender=Author) == 2


def test_code_outside_the_capture_is_neither_recorded_nor_changed() -> None:
    results: list[Any] = []
    go = threading.Event()
    done = threading.Event()

    def other_thread() -> None:
        go.wait()
        results.append(pizza_done.send(sender="other thread"))
        Tag.objects.none()  # builds no instance, sends nothing
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    pizza_done.connect(bake)
    try:
        with capture_signals() as captured:
            go.set()
            done.wait(5)
            pizza_done.send(sender="test thread")
    finally:
        pizza_done.disconnect(bake)
        thread.join()

    assert [f.sender for f in captured.firings] == ["test thread"]
    assert results == [[(bake, "baked")]]


def test_a_firing_started_before_the_capture_is_not_in_it() -> None:
    captures: list[SignalCapture] = []

    def start_capturing(sender: Any, **kwargs: Any) -> None:
        capture = capture_signals()
        capture.start()
        captures.append(capture)
        pre_save.send(sender=Tag, instance=None)

    pizza_done.connect(start_capturing)
    try:
        pizza_done.send(sender="outer")
    finally:
        pizza_done.disconnect(start_capturing)
        captures[0].stop()
    [firing] = captures[0].firings
    assert firing.signal is pre_save
    assert firing.parent is None
    assert captures[0].roots == [firing]


# --- factory_boy ---------------------------------------------------------------------------------


def test_sees_signals_muted_by_factory_boy_as_firings_without_receivers() -> None:
    calls: list[str] = []

    def on_save(sender: Any, instance: Author, **kwargs: Any) -> None:
        calls.append(instance.name)

    post_save.connect(on_save, sender=Author)
    try:
        with capture_signals() as captured:
            with mute_signals(post_save):
                muted = AuthorFactory()
            heard = AuthorFactory()
    finally:
        post_save.disconnect(on_save, sender=Author)

    assert calls == [heard.name]
    [muted_firing, heard_firing] = captured.filter(post_save, sender=Author)
    assert muted_firing.kwargs["instance"] is muted
    assert muted_firing.receivers == []
    assert heard_firing.receivers == [
        "tests.testing.test_capture.test_sees_signals_muted_by_factory_boy_as_firings_"
        "without_receivers.<locals>.on_save"
    ]
    captured.assert_sent(post_save, sender=Author, receiver=on_save, times=1)


def test_mute_signals_decorated_factory_inside_a_capture() -> None:
    @mute_signals(pre_save, post_save)
    class QuietAuthorFactory(AuthorFactory):
        pass

    with capture_signals() as captured:
        author = QuietAuthorFactory()

    assert Author.objects.filter(pk=author.pk).exists()
    [firing] = captured.filter(post_save)
    assert firing.calls == []
    captured.assert_sent(post_save, sender=Author, created=True, times=1)


# --- transparency ------------------------------------------------------------------------------


@pytest.mark.usefixtures("connected")
def test_return_values_and_exceptions_are_unchanged_and_outcomes_recorded() -> None:
    pizza_done.connect(burn)
    try:
        with capture_signals() as captured:
            robust = pizza_done.send_robust(sender="kitchen")
            with pytest.raises(Boom) as raised:
                pizza_done.send(sender="kitchen")
    finally:
        pizza_done.disconnect(burn)

    assert robust[:2] == [(bake, "baked"), (box, "boxed")]
    assert robust[2][0] is burn
    assert isinstance(robust[2][1], Boom)
    assert str(raised.value) == "burnt"
    handled, propagated = captured.firings
    assert [c.outcome for c in handled.calls] == [Outcome.OK, Outcome.OK, Outcome.HANDLED]
    assert handled.call(burn).error_type == "tests.testing.test_capture.Boom"
    assert propagated.outcome is Outcome.RAISED
    assert propagated.call(burn).outcome is Outcome.RAISED


def test_a_receiver_that_did_not_run_is_not_counted_as_received() -> None:
    pizza_done.connect(burn)
    pizza_done.connect(bake)
    try:
        with capture_signals() as captured, pytest.raises(Boom):
            pizza_done.send(sender="kitchen")
    finally:
        pizza_done.disconnect(burn)
        pizza_done.disconnect(bake)
    [firing] = captured.firings
    assert firing.call(bake).outcome is Outcome.NOT_RUN
    assert firing.receivers == ["tests.testing.test_capture.burn"]
    captured.assert_not_sent(pizza_done, receiver=bake)


def test_holds_sent_objects_only_while_the_capture_lives() -> None:
    class Oven:
        pass

    oven = Oven()
    oven_ref = weakref.ref(oven)
    with capture_signals() as captured:
        pizza_done.send(sender=oven, size=30)
    del oven
    gc.collect()
    assert oven_ref() is not None  # the capture keeps it for assertions
    captured.assert_sent(pizza_done, sender=oven_ref())

    captured.clear()
    gc.collect()
    assert oven_ref() is None
    assert captured.firings == []


def test_dropping_the_capture_drops_the_sent_objects() -> None:
    class Oven:
        pass

    oven = Oven()
    oven_ref = weakref.ref(oven)
    with capture_signals() as captured:
        pizza_done.send(sender=oven)
    del oven, captured
    gc.collect()
    assert oven_ref() is None


# --- nesting, async, life cycle -------------------------------------------------------------


def test_nesting_links_parents_and_children() -> None:
    def announce(sender: Any, instance: Author, created: bool, **kwargs: Any) -> None:
        pizza_done.send(sender=sender, size=len(instance.name))

    post_save.connect(announce, sender=Author)
    try:
        with capture_signals() as captured:
            Author.objects.create(name="Ba Jin")
    finally:
        post_save.disconnect(announce, sender=Author)

    saved = captured.filter(post_save)[0]
    [nested] = captured.filter(pizza_done)
    assert nested.parent is saved
    assert saved.children == [nested]
    assert nested.depth == 1
    assert nested.kwargs == {"size": 6}
    assert [f.signal_name for f in captured.roots] == [
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
    ]


def test_async_receivers_and_asend_are_captured() -> None:
    async def cool(sender: Any, **kwargs: Any) -> str:
        await asyncio.sleep(0)
        return "cooled"

    async def slice_(sender: Any, **kwargs: Any) -> str:
        return "sliced"

    pizza_done.connect(cool)
    pizza_done.connect(slice_)
    try:
        with capture_signals() as captured:
            responses = asyncio.run(pizza_done.asend(sender="kitchen", size=30))
            sync_responses = pizza_done.send(sender="counter")
    finally:
        pizza_done.disconnect(cool)
        pizza_done.disconnect(slice_)

    assert responses == [(cool, "cooled"), (slice_, "sliced")]
    assert sync_responses == [(cool, "cooled"), (slice_, "sliced")]
    asend_firing, send_firing = captured.firings
    assert asend_firing.method == "asend"
    assert [call.is_async for call in asend_firing.calls] == [True, True]
    assert send_firing.receivers == asend_firing.receivers


def test_captures_nest_and_each_sees_its_own_block() -> None:
    with capture_signals() as outer:
        pizza_done.send(sender="first")
        with capture_signals() as inner:
            pizza_done.send(sender="second")
        pizza_done.send(sender="third")
    assert [f.sender for f in outer.firings] == ["first", "second", "third"]
    assert [f.sender for f in inner.firings] == ["second"]


def test_start_and_stop_can_be_called_directly() -> None:
    capture = capture_signals()
    assert not capture.active
    capture.start()
    assert capture.active
    pizza_done.send(sender="kitchen")
    capture.stop()
    pizza_done.send(sender="after")
    assert [f.sender for f in capture.firings] == ["kitchen"]
    assert repr(capture) == "<SignalCapture stopped, 1 firings>"


def test_starting_twice_or_stopping_an_idle_capture_is_an_error() -> None:
    capture = capture_signals()
    with pytest.raises(RuntimeError, match="This capture is not active"):
        capture.stop()
    with capture, pytest.raises(RuntimeError, match="already active"):
        capture.start()
    assert not capture.active


def test_a_firing_view_needs_the_sent_objects() -> None:
    from signal_tracing.records import DispatchRecord, Policy
    from signal_tracing.testing.firing import Firing, FiringIndex

    record = DispatchRecord(
        "pizza_done", "x.pizza_done", "kitchen", "send", Policy.SPAN, 0, False, None
    )
    with pytest.raises(ValueError, match="made without keep_objects=True"):
        Firing(record, FiringIndex())


def test_firings_sent_by_concurrent_async_receivers_nest_under_their_firing() -> None:
    # Django 6 runs a firing's async receivers in one shared context, so no single receiver
    # call owns what they send; Django 5.2 gives each its own. Either way they nest here.
    async def first(sender: Any, **kwargs: Any) -> None:
        await pre_save.asend(sender=Tag, instance=None)

    async def second(sender: Any, **kwargs: Any) -> None:
        await post_save.asend(sender=Tag, instance=None)

    pizza_done.connect(first)
    pizza_done.connect(second)
    try:
        with capture_signals() as captured:
            asyncio.run(pizza_done.asend(sender="kitchen"))
    finally:
        pizza_done.disconnect(first)
        pizza_done.disconnect(second)

    outer = captured.filter(pizza_done)[0]
    assert sorted(child.signal_name for child in outer.children) == ["post_save", "pre_save"]
    assert all(child.parent is outer for child in outer.children)
    assert captured.roots == [outer]
    sent = sent_from(
        __name__,
        "test_firings_sent_by_concurrent_async_receivers_nest_under_their_firing",
        "asyncio.run(pizza_done.asend(",
    )
    assert captured.render().splitlines()[0] == f"pizza_done asend sender=kitchen{sent}"
