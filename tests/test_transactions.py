"""Model-signal firings record whether they ran inside ``transaction.atomic()``, and reading it
registers nothing on the connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import Signal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from signal_tracing.testing import SignalCapture, capture_signals
from signal_tracing.transactions import in_atomic_block
from tests.testapp.models import Author, Book, Tag

invoice_issued = Signal()


def noop(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def book_receivers() -> Iterator[None]:
    # A receiver of the app's on each model signal: Django's own alone would not be traced.
    for signal in (pre_save, post_save, post_delete, m2m_changed):
        signal.connect(noop)
    yield
    for signal in (pre_save, post_save, post_delete, m2m_changed):
        signal.disconnect(noop)


def states(capture: SignalCapture, signal: Signal) -> list[bool | None]:
    return [firing.record.in_atomic_block for firing in capture.firings if firing.signal is signal]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("book_receivers")
def test_a_save_in_autocommit_is_outside_and_one_in_atomic_inside() -> None:
    with capture_signals() as capture:
        Author.objects.create(name="outside")
        with transaction.atomic():
            Author.objects.create(name="inside")

    assert states(capture, pre_save) == [False, True]
    assert [firing.in_atomic_block for firing in capture.firings if firing.signal is pre_save] == [
        False,
        True,
    ]
    assert states(capture, post_save) == [False, True]


@pytest.mark.django_db
@pytest.mark.usefixtures("book_receivers")
def test_a_testcase_style_test_runs_inside_its_transaction() -> None:
    book = Book.objects.create(title="Dune")
    tag = Tag.objects.create(label="sf")
    with capture_signals() as capture:
        book.tags.add(tag)
        book.delete()

    assert states(capture, m2m_changed) == [True, True]  # pre_add, post_add
    assert states(capture, post_delete) == [True]


@pytest.mark.django_db
@pytest.mark.usefixtures("book_receivers")
def test_other_signals_have_no_transaction_state() -> None:
    invoice_issued.connect(noop)
    try:
        with capture_signals() as capture:
            invoice_issued.send(sender="shop", using="default")
    finally:
        invoice_issued.disconnect(noop)

    assert states(capture, invoice_issued) == [None]


def test_reading_it_in_a_fresh_thread_connects_nothing() -> None:
    results: list[object] = []

    def run() -> None:  # a thread that never used the database
        try:
            results.append(in_atomic_block(post_save, {"using": "default"}))
            results.append(connections["default"].connection)  # no database connection
            results.append(in_atomic_block(post_save, {"using": "nowhere"}))
            results.append(in_atomic_block(post_save, {"using": None}))
        except BaseException as error:
            results.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert results == [False, None, None, None]


@pytest.mark.django_db
@pytest.mark.usefixtures("book_receivers")
def test_on_commit_callbacks_are_exactly_the_apps(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    def on_save(sender: Any, **kwargs: Any) -> None:
        transaction.on_commit(lambda: None)

    post_save.connect(on_save, sender=Author)
    try:
        with django_capture_on_commit_callbacks() as callbacks, capture_signals() as capture:
            Author.objects.create(name="one")
    finally:
        post_save.disconnect(on_save, sender=Author)

    assert len(callbacks) == 1  # the receiver's own, nothing of ours
    assert states(capture, post_save) == [True]
    # The connection holds only what the app registered.
    assert [entry[1] for entry in connection.run_on_commit] == callbacks


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("book_receivers")
def test_the_span_carries_the_transaction_state(exporter: InMemorySpanExporter) -> None:
    with transaction.atomic():
        Author.objects.create(name="inside")
    Author.objects.create(name="outside")

    values = [
        span.attributes.get("django.signal.in_atomic_block")
        for span in exporter.get_finished_spans()
        if span.attributes and span.attributes.get("django.signal.name") == "post_save"
    ]
    assert values == [True, False]
