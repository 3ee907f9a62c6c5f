"""The start-up span, in this process, on a private app registry. (The real thing, with
``instrument()`` before ``django.setup()``, runs in a fresh process in test_scenarios.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps.registry import Apps
from django.core.management import call_command
from django.db import models
from django.db.models.signals import class_prepared

from signal_tracing.lifecycle.startup import Startup
from signal_tracing.nesting import current_node
from tests.lifecycle.commandapp.management.commands.greet import Command as Greet
from tests.lifecycle.conftest import Tracing

KEYS = ("django.startup.observed", "django.startup.models.count", "django.command.name")


def on_class_prepared(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def registry() -> Apps:
    """A real registry, in the state ``apps.populate()`` leaves it in before models load."""
    apps = Apps(installed_apps=[])
    apps.models_ready = apps.ready = False
    return apps


@pytest.fixture
def class_prepared_receiver() -> Iterator[None]:
    class_prepared.connect(on_class_prepared)
    yield
    class_prepared.disconnect(on_class_prepared)


def define_models(registry: Apps) -> None:
    class Meta:
        app_label = "library"
        apps = registry

    type("Shelf", (models.Model,), {"__module__": __name__, "Meta": Meta})
    type("Loan", (models.Model,), {"__module__": __name__, "Meta": Meta})


@pytest.mark.usefixtures("class_prepared_receiver")
def test_start_up_observed_from_before_the_models_load_until_ready(
    tracing: Tracing, registry: Apps
) -> None:
    startup = Startup()

    startup.begin(registry)  # instrument() before django.setup()
    define_models(registry)  # apps.populate() imports the models
    registry.models_ready = True
    startup.begin(registry)  # signal_tracing's ready() re-applies the settings

    assert tracing.tree(KEYS) == "\n".join(
        [
            "django.setup django.startup.observed=True django.startup.models.count=2",
            "  class_prepared tests.lifecycle.test_startup.on_class_prepared",
            "  class_prepared tests.lifecycle.test_startup.on_class_prepared",
        ]
    )
    attributes = tracing.named("django.setup").attributes or {}
    assert attributes["django.startup.models"] == ("library.Loan", "library.Shelf")
    assert current_node.get() is None


def test_start_up_missed_is_said_once(tracing: Tracing, registry: Apps) -> None:
    define_models(registry)
    registry.models_ready = True
    startup = Startup()

    startup.begin(registry)  # tracing started in ready(): start-up is over
    startup.begin(registry)  # settings re-applied later: nothing more

    assert tracing.tree(KEYS) == (
        "django.setup django.startup.observed=False django.startup.models.count=2"
    )
    span = tracing.named("django.setup")
    assert span.start_time == span.end_time


@pytest.mark.django_db
def test_first_command_in_the_thread_ends_start_up_when_ready_never_comes(
    tracing: Tracing, registry: Apps
) -> None:
    # signal_tracing not in INSTALLED_APPS: no ready() of ours; the command closes start-up.
    startup = Startup()
    startup.begin(registry)
    define_models(registry)

    call_command(Greet())

    assert tracing.tree(KEYS) == "\n".join(
        [
            "django.setup django.startup.observed=True django.startup.models.count=2",
            "manage.py greet django.command.name=greet",
        ]
    )
    assert current_node.get() is None
    startup.end()  # already closed: nothing happens
    assert len(tracing.spans()) == 2


def test_stopping_ends_the_start_up_span(tracing: Tracing, registry: Apps) -> None:
    startup = Startup()
    startup.begin(registry)

    startup.end()

    assert tracing.tree(KEYS) == (
        "django.setup django.startup.observed=True django.startup.models.count=0"
    )
    assert current_node.get() is None
