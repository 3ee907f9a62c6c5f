"""signal_tracing.leaks: what a block connected and left connected, observed without touching."""

from __future__ import annotations

import gc
import importlib
import textwrap
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.test import Client

from signal_tracing import leaks
from signal_tracing.leaks import LeakedReceiver
from tests.testapp.models import Author
from tests.testapp.signals import order_placed

HERE = Path(__file__).resolve()


@pytest.fixture
def disconnect_afterwards() -> Iterator[list[tuple[Signal, Any]]]:
    """(signal, dispatch_uid or receiver) pairs to disconnect when the test ends."""
    connected: list[tuple[Signal, Any]] = []
    yield connected
    for signal, receiver in connected:
        if isinstance(receiver, str):
            signal.disconnect(dispatch_uid=receiver)
        else:
            signal.disconnect(receiver)
            signal.disconnect(receiver, sender=Author)


def names(found: list[LeakedReceiver]) -> list[str]:
    return [leak.receiver.name.rpartition(".")[2] for leak in found]


def test_a_strong_receiver_is_reported_with_where_and_how_it_is_held(
    disconnect_afterwards: list[tuple[Signal, Any]],
) -> None:
    before = leaks.take_snapshot()

    def on_author_saved(sender: Any, **kwargs: Any) -> None:
        pass

    post_save.connect(on_author_saved, sender=Author, weak=False)
    disconnect_afterwards.append((post_save, on_author_saved))

    [leak] = leaks.find_leaks(before)
    assert leak.signal_name == "post_save"
    assert leak.signal_path == "django.db.models.signals.post_save"
    assert leak.receiver.name.endswith("<locals>.on_author_saved")
    assert leak.receiver.file_path == str(HERE)
    assert leak.receiver.line_number == on_author_saved.__code__.co_firstlineno
    assert leak.receiver.weak is False
    assert leak.receiver.sender == "testapp.Author"
    assert leak.replaced is False


def test_a_weak_receiver_that_died_is_not_a_leak() -> None:
    before = leaks.take_snapshot()

    def short_lived(sender: Any, **kwargs: Any) -> None:
        pass

    order_placed.connect(short_lived)
    del short_lived

    assert leaks.find_leaks(before) == []


class Listener:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the garbage collector frees it

    def on_order(self, sender: Any, **kwargs: Any) -> None:
        pass


def test_a_weak_receiver_kept_only_by_a_reference_cycle_is_not_a_leak() -> None:
    gc.disable()  # the cycle must still be there when find_leaks() looks
    try:
        before = leaks.take_snapshot()
        listener = Listener()
        order_placed.connect(listener.on_order)
        reference = weakref.ref(listener)
        del listener
        assert reference() is not None

        assert leaks.find_leaks(before) == []
        assert reference() is None
    finally:
        gc.enable()


def test_a_weak_receiver_still_alive_is_reported_as_weak(
    disconnect_afterwards: list[tuple[Signal, Any]],
) -> None:
    before = leaks.take_snapshot()
    listener = Listener()
    order_placed.connect(listener.on_order)
    disconnect_afterwards.append((order_placed, listener.on_order))

    [leak] = leaks.find_leaks(before)
    assert leak.receiver.name == "tests.test_leaks.Listener.on_order"
    assert leak.receiver.weak is True


def ready_receiver(sender: Any, **kwargs: Any) -> None:
    pass


def other_receiver(sender: Any, **kwargs: Any) -> None:
    pass


def test_reconnecting_what_was_connected_is_not_a_leak(
    disconnect_afterwards: list[tuple[Signal, Any]],
) -> None:
    order_placed.connect(ready_receiver, dispatch_uid="ready")
    order_placed.connect(other_receiver)
    disconnect_afterwards.extend([(order_placed, "ready"), (order_placed, other_receiver)])
    before = leaks.take_snapshot()

    order_placed.connect(ready_receiver, dispatch_uid="ready")  # Django ignores it
    order_placed.disconnect(other_receiver)  # the test client's close_old_connections dance
    order_placed.connect(other_receiver)

    assert leaks.find_leaks(before) == []


def test_another_receiver_under_a_dispatch_uid_in_use_before_is_reported(
    disconnect_afterwards: list[tuple[Signal, Any]],
) -> None:
    order_placed.connect(ready_receiver, dispatch_uid="ready")
    disconnect_afterwards.append((order_placed, "ready"))
    before = leaks.take_snapshot()

    order_placed.disconnect(dispatch_uid="ready")
    order_placed.connect(other_receiver, dispatch_uid="ready")

    [leak] = leaks.find_leaks(before)
    assert leak.receiver.name == "tests.test_leaks.other_receiver"
    assert leak.receiver.dispatch_uid == "ready"
    assert leak.replaced is True


@pytest.mark.django_db
def test_receivers_django_connects_while_it_works_are_not_reported() -> None:
    before = leaks.take_snapshot()

    storage = FileSystemStorage()  # connects setting_changed while it lives
    response = Client().get("/")  # renders templates: template_rendered

    assert response.status_code == 200
    assert leaks.find_leaks(before) == []
    del storage


def test_receivers_connected_by_a_module_imported_in_between_are_not_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "late_plugin.py").write_text(
        textwrap.dedent(
            """
            from django.db.models.signals import post_save
            from django.dispatch import Signal, receiver

            plugin_loaded = Signal()


            @receiver(post_save, weak=False)
            def on_any_save(sender, **kwargs):
                pass


            @receiver(plugin_loaded)
            def on_loaded(sender, **kwargs):
                pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    before = leaks.take_snapshot()

    module = importlib.import_module("late_plugin")

    def in_the_test(sender: Any, **kwargs: Any) -> None:
        pass

    module.plugin_loaded.connect(in_the_test, weak=False)  # a signal new since the snapshot
    try:
        found = leaks.find_leaks(before)
        assert [(leak.signal_name, names([leak])[0]) for leak in found] == [
            ("plugin_loaded", "in_the_test")
        ]
    finally:
        post_save.disconnect(module.on_any_save)
        monkeypatch.delitem(__import__("sys").modules, "late_plugin")


def test_a_signal_created_and_dropped_in_between_leaves_nothing_to_report() -> None:
    before = leaks.take_snapshot()

    local_signal = Signal()

    def on_local(sender: Any, **kwargs: Any) -> None:
        pass

    local_signal.connect(on_local, weak=False)
    del local_signal

    assert leaks.find_leaks(before) == []


def test_ignore_patterns_name_receivers(disconnect_afterwards: list[tuple[Signal, Any]]) -> None:
    before = leaks.take_snapshot()
    order_placed.connect(other_receiver, weak=False)
    disconnect_afterwards.append((order_placed, other_receiver))

    assert leaks.find_leaks(before, ignore=["tests.test_leaks.*"]) == []
    assert names(leaks.find_leaks(before, ignore=["other.*"])) == ["other_receiver"]


def test_async_receivers_are_reported_as_async(
    disconnect_afterwards: list[tuple[Signal, Any]],
) -> None:
    before = leaks.take_snapshot()

    async def on_order(sender: Any, **kwargs: Any) -> None:
        pass

    order_placed.connect(on_order, weak=False)
    disconnect_afterwards.append((order_placed, on_order))

    [leak] = leaks.find_leaks(before)
    assert leak.receiver.is_async is True


def test_adopted_connections_belong_to_the_snapshot(
    disconnect_afterwards: list[tuple[Signal, Any]],
) -> None:
    before = leaks.take_snapshot()
    order_placed.connect(ready_receiver, weak=False)  # the test's
    disconnect_afterwards.append((order_placed, ready_receiver))

    fixture_started = leaks.take_snapshot()
    order_placed.connect(other_receiver, weak=False)  # a session fixture's, set up meanwhile
    disconnect_afterwards.append((order_placed, other_receiver))
    before.adopt(fixture_started)

    assert names(leaks.find_leaks(before)) == ["ready_receiver"]


def test_observing_changes_no_receiver_and_holds_none() -> None:
    def held_weakly(sender: Any, **kwargs: Any) -> None:
        pass

    order_placed.connect(held_weakly)
    reference = weakref.ref(held_weakly)
    receivers_before = list(order_placed.receivers)

    before = leaks.take_snapshot()
    leaks.find_leaks(before)

    assert order_placed.receivers == receivers_before
    assert all(
        now is then
        for pair_now, pair_then in zip(order_placed.receivers, receivers_before, strict=True)
        for now, then in zip(pair_now, pair_then, strict=True)
    )
    del held_weakly, receivers_before
    assert reference() is None  # the snapshot kept no reference to it
    assert leaks.find_leaks(before) == []
