"""Management command spans, in this process: custom commands, flush, migrate, nesting, and
the commands that get no span. ``manage.py migrate`` on a fresh database runs in
``test_scenarios.py``."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models.signals import post_save
from opentelemetry.trace import StatusCode

import signal_tracing
from signal_tracing.lifecycle import test_scope
from signal_tracing.lifecycle.commands import command_name
from tests.lifecycle import views
from tests.lifecycle.commandapp.management.commands.greet import Command as Greet
from tests.lifecycle.conftest import Tracing
from tests.testapp.models import Author

KEYS = ("django.command.name", "error.type", "django.signal.app_label")


def on_author_saved(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def author_receiver() -> Any:
    post_save.connect(on_author_saved, sender=Author)
    yield
    post_save.disconnect(on_author_saved, sender=Author)


@pytest.mark.django_db
@pytest.mark.usefixtures("author_receiver")
def test_custom_command_is_a_root_span_named_after_it_without_its_arguments(
    tracing: Tracing,
) -> None:
    call_command(Greet(), name="Ada Lovelace", password="hunter2-never-exported")

    assert tracing.tree(KEYS) == "\n".join(
        [
            "manage.py greet django.command.name=greet",
            "  post_save tests.lifecycle.test_commands.on_author_saved",
        ]
    )
    text = tracing.exported_text()
    assert "hunter2-never-exported" not in text
    assert "Ada Lovelace" not in text


def test_failing_command_span_is_an_error_without_the_message(tracing: Tracing) -> None:
    with pytest.raises(CommandError):
        call_command(Greet(), fail=True, name="Grace Hopper")

    span = tracing.named("manage.py greet")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "django.core.management.base.CommandError"
    assert "Grace Hopper" not in tracing.exported_text()


@pytest.mark.django_db(transaction=True)
def test_flush_sends_post_migrate_once_per_app_inside_its_span(tracing: Tracing) -> None:
    call_command("flush", interactive=False, verbosity=0)

    spans = tracing.spans()
    (root,) = [span for span in spans if span.parent is None]
    assert root.name == "manage.py flush"
    children = [s for s in spans if s.parent and s.parent.span_id == root.context.span_id]
    assert {s.name for s in children} == {"post_migrate send"}
    labels = [(s.attributes or {})["django.signal.app_label"] for s in children]
    assert len(labels) == len(set(labels))
    assert {"auth", "contenttypes", "testapp"} <= set(labels)


@pytest.mark.django_db(transaction=True)
def test_migrate_records_app_label_and_plan_size_never_the_objects(tracing: Tracing) -> None:
    call_command("migrate", verbosity=0)

    root = tracing.named("manage.py migrate")
    assert root.parent is None
    migrate_spans = [s for s in tracing.spans() if "migrate" in s.name and s is not root]
    assert {s.name.split()[0] for s in migrate_spans} == {"pre_migrate", "post_migrate"}
    for span in migrate_spans:
        attributes = span.attributes or {}
        assert attributes["django.signal.migrate.plan.size"] == 0  # nothing left to apply
        assert isinstance(attributes["django.signal.app_label"], str)
        assert attributes["django.signal.using"] == "default"
        assert not any("apps" in key or key.endswith(".plan") for key in attributes)
    assert "StateApps" not in tracing.exported_text()
    assert "Migration" not in tracing.exported_text()


class RunsATest(Greet):
    """A command that runs a test, as ``manage.py test`` does."""

    def handle(self, *args: Any, **options: Any) -> None:
        with test_scope("tests/sample.py::test_inside_a_command"):
            views.tick.send(sender=None)


@pytest.mark.usefixtures("tick_receiver")
def test_test_run_by_a_command_starts_its_own_trace(tracing: Tracing) -> None:
    call_command(RunsATest())

    command = "tests.lifecycle.test_commands.RunsATest"
    assert tracing.tree(KEYS) == "\n".join(
        [
            f"manage.py {command} django.command.name={command}",
            "tests/sample.py::test_inside_a_command",
            "  tick tests.lifecycle.conftest.on_tick",
        ]
    )


def test_command_in_a_test_is_part_of_the_tests_trace(tracing: Tracing) -> None:
    with test_scope("tests/sample.py::test_calls_a_command"), pytest.raises(CommandError):
        call_command(Greet(), fail=True)

    assert tracing.tree(KEYS) == "\n".join(
        [
            "tests/sample.py::test_calls_a_command",
            "  manage.py greet django.command.name=greet"
            " error.type=django.core.management.base.CommandError !ERROR",
        ]
    )


@pytest.mark.usefixtures("tick_receiver")
def test_shell_gets_no_span_of_its_own(tracing: Tracing) -> None:
    call_command(
        "shell",
        command="from tests.lifecycle.views import tick; tick.send(sender=None)",
        verbosity=0,
    )

    assert tracing.tree(KEYS) == "tick tests.lifecycle.conftest.on_tick"


@pytest.mark.django_db
def test_command_spans_can_be_turned_off(tracing: Tracing) -> None:
    signal_tracing.instrument(command_spans=False)

    call_command(Greet())

    assert tracing.spans() == []


def test_command_name_is_the_module_for_django_style_commands() -> None:
    assert command_name(Greet()) == "greet"

    class Inline(Greet):
        pass

    assert command_name(Inline()).endswith("<locals>.Inline")
