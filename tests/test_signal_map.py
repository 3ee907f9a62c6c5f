"""``manage.py signal_map`` against a real installed app written for each test.

The app ``mapapp`` is written to a temporary directory so that every file and line number the
map reports is known here. It defines two signals, sends one of them (through an import
alias), and connects every kind of receiver Django allows.
"""

from __future__ import annotations

import gc
import json
import re
import sys
import textwrap
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.dispatch import Signal
from django.test import override_settings
from django.utils.functional import empty

from signal_tracing.naming import BUILTIN_SIGNAL_PATHS
from tests.testapp.models import Author

MAPAPP_FILES = {
    "__init__.py": "",
    "apps.py": """\
        from django.apps import AppConfig


        class MapappConfig(AppConfig):
            name = "mapapp"
        """,
    "signals.py": """\
        from django.dispatch import Signal
        from django.utils.functional import SimpleLazyObject


        def _explode():
            raise AssertionError("signal_map evaluated a lazy object")


        thing_done = Signal()
        never_sent = Signal()
        LAZY = SimpleLazyObject(_explode)
        """,
    "senders.py": """\
        from .signals import thing_done as done


        def finish(thing):
            return done.send_robust(sender=None, thing=thing)
        """,
    "receivers.py": """\
        from django.dispatch import receiver

        from mapapp.signals import never_sent, thing_done
        from tests.testapp.models import Author

        CALLS = []


        @receiver(thing_done)
        def on_thing(sender, **kwargs):
            CALLS.append("on_thing")


        async def on_thing_async(sender, **kwargs):
            CALLS.append("on_thing_async")


        def on_author_thing(sender, **kwargs):
            CALLS.append("on_author_thing")


        class Listener:
            def heard(self, sender, **kwargs):
                CALLS.append("heard")


        LISTENER = Listener()


        def on_never_sent(sender, **kwargs):
            CALLS.append("on_never_sent")


        thing_done.connect(on_thing_async)
        thing_done.connect(on_author_thing, sender=Author, weak=False, dispatch_uid="mapapp.author")
        thing_done.connect(LISTENER.heard)
        never_sent.connect(on_never_sent)


        def disconnect_all():
            thing_done.disconnect(on_thing)
            thing_done.disconnect(on_thing_async)
            thing_done.disconnect(sender=Author, dispatch_uid="mapapp.author")
            thing_done.disconnect(LISTENER.heard)
            never_sent.disconnect(on_never_sent)
        """,
    "urls.py": """\
        from mapapp import views

        urlpatterns = []
        """,
    "views.py": """\
        from django.core.signals import request_started


        def on_request(sender, **kwargs):
            pass


        request_started.connect(on_request, dispatch_uid="mapapp.views.on_request")
        """,
    "tests.py": """\
        from mapapp.signals import never_sent

        never_sent.send(sender=None)
        """,
}


@pytest.fixture(scope="module")
def mapapp_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # One app per module: Django's app registry and our signal registry both expect a module
    # to be imported once per process, as in real projects.
    root = tmp_path_factory.mktemp("mapapp_root")
    package = root / "mapapp"
    package.mkdir()
    for name, source in MAPAPP_FILES.items():
        (package / name).write_text(textwrap.dedent(source))
    sys.path.insert(0, str(root))
    from django.conf import settings

    try:
        with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "mapapp"]):
            import mapapp.receivers  # noqa: F401  (connects the receivers, as a ready() would)

            yield root
            sys.modules["mapapp.receivers"].disconnect_all()
    finally:
        sys.path.remove(str(root))


@pytest.fixture
def mapapp(mapapp_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(mapapp_root)  # the map shows paths relative to the working directory
    return mapapp_root / "mapapp"


def run_map(*args: str) -> str:
    out = StringIO()
    call_command("signal_map", *args, stdout=out)
    return out.getvalue()


def signal_json(document: dict[str, Any], path: str) -> dict[str, Any]:
    [entry] = [entry for entry in document["signals"] if entry["path"] == path]
    return entry


def test_text_lists_each_receiver_with_location_kind_reference_uid_and_sender(
    mapapp: Path,
) -> None:
    output = run_map()

    assert (
        textwrap.dedent("""\
        mapapp.signals.thing_done  (sent at mapapp/senders.py:5)
            mapapp.receivers.on_thing  mapapp/receivers.py:9  [sync, weak, any sender]
            mapapp.receivers.on_thing_async  mapapp/receivers.py:14  [async, weak, any sender]
            mapapp.receivers.on_author_thing  mapapp/receivers.py:18  \
[sync, strong, dispatch_uid='mapapp.author', sender=testapp.Author]
            mapapp.receivers.Listener.heard  mapapp/receivers.py:23  [sync, weak, any sender]
        """)
        in output
    )
    assert re.match(r"\d+ signals known, \d+ with receivers\.\n", output)


def test_json_describes_every_receiver(mapapp: Path) -> None:
    document = json.loads(run_map("--format", "json"))

    assert "mapapp" in document["scanned_apps"]
    assert signal_json(document, "mapapp.signals.thing_done") == {
        "name": "thing_done",
        "path": "mapapp.signals.thing_done",
        "builtin": False,
        "sent": "found",
        "send_sites": [{"file": "mapapp/senders.py", "line": 5, "method": "send_robust"}],
        "receivers_never_run": False,
        "receivers": [
            {
                "name": "mapapp.receivers.on_thing",
                "file": "mapapp/receivers.py",
                "line": 9,
                "async": False,
                "weak": True,
                "dispatch_uid": None,
                "sender": None,
            },
            {
                "name": "mapapp.receivers.on_thing_async",
                "file": "mapapp/receivers.py",
                "line": 14,
                "async": True,
                "weak": True,
                "dispatch_uid": None,
                "sender": None,
            },
            {
                "name": "mapapp.receivers.on_author_thing",
                "file": "mapapp/receivers.py",
                "line": 18,
                "async": False,
                "weak": False,
                "dispatch_uid": "mapapp.author",
                "sender": "testapp.Author",
            },
            {
                "name": "mapapp.receivers.Listener.heard",
                "file": "mapapp/receivers.py",
                "line": 23,
                "async": False,
                "weak": True,
                "dispatch_uid": None,
                "sender": None,
            },
        ],
    }


def test_receivers_of_a_signal_no_installed_app_sends_are_pointed_out(mapapp: Path) -> None:
    # mapapp/tests.py sends never_sent, but tests don't count as the application sending it.
    output = run_map()
    document = json.loads(run_map("--format", "json"))

    assert "mapapp.signals.never_sent  (NOT SENT: no send call in installed apps)" in output
    assert output.endswith(
        "Receivers that never run: no installed app sends their signal.\n"
        "    mapapp.signals.never_sent -> mapapp.receivers.on_never_sent  "
        "mapapp/receivers.py:30\n"
    )
    never_sent = signal_json(document, "mapapp.signals.never_sent")
    assert (never_sent["sent"], never_sent["receivers_never_run"]) == ("not_found", True)


def test_fail_on_never_sent_exits_with_an_error_naming_the_signal(mapapp: Path) -> None:
    with pytest.raises(
        CommandError, match=r"no installed app sends: mapapp\.signals\.never_sent\."
    ):
        run_map("--fail-on-never-sent")


def test_mermaid_draws_signals_with_receivers_as_a_flowchart(mapapp: Path) -> None:
    lines = run_map("--format", "mermaid").splitlines()

    assert lines[0] == "flowchart LR"
    [thing] = [line for line in lines if "<small>mapapp.signals.thing_done</small>" in line]
    [never] = [line for line in lines if "<small>mapapp.signals.never_sent</small>" in line]
    thing_id, never_id = thing.split("[")[0].strip(), never.split("[")[0].strip()
    assert never.endswith(":::never_sent")
    assert not thing.endswith(":::never_sent")

    def node(name: str) -> str:
        [line] = [line for line in lines if line.lstrip().startswith("r") and f'"{name}<' in line]
        return line.strip()

    async_node = node("mapapp.receivers.on_thing_async")
    assert async_node.endswith(
        '(["mapapp.receivers.on_thing_async<br/><small>mapapp/receivers.py:14</small>"])'
    )
    author_node = node("mapapp.receivers.on_author_thing")
    author_id = author_node.split("[")[0]
    assert f'    {thing_id} ==>|"sender=testapp.Author, uid=mapapp.author"| {author_id}' in lines
    plain_id = node("mapapp.receivers.on_thing").split("[")[0]
    assert f"    {thing_id} --> {plain_id}" in lines
    assert any(line.startswith(f"    {never_id} --> r") for line in lines)
    assert lines[-1].startswith("    classDef never_sent ")


def test_signals_without_receivers_are_listed_but_not_drawn(mapapp: Path) -> None:
    text = run_map()
    mermaid = run_map("--format", "mermaid")

    idle_section = text.split("Signals without receivers")[1]
    assert "\n    django.db.models.signals.pre_save\n" in idle_section
    assert "signals.pre_save</small>" not in mermaid


def test_every_builtin_signal_is_listed_as_sent_by_django(mapapp: Path) -> None:
    document = json.loads(run_map("--format", "json"))
    by_path = {entry["path"]: entry for entry in document["signals"]}

    assert set(BUILTIN_SIGNAL_PATHS) <= set(by_path)
    assert {by_path[path]["sent"] for path in BUILTIN_SIGNAL_PATHS} == {"django"}
    assert by_path["django.db.models.signals.post_save"]["builtin"] is True
    assert by_path["django.contrib.auth.signals.user_logged_in"]["builtin"] is False


def test_receivers_connected_by_view_modules_are_seen_once_the_urlconf_is_imported(
    mapapp: Path,
) -> None:
    with override_settings(ROOT_URLCONF="mapapp.urls"):
        without = run_map("--no-urlconf")
        with_urlconf = run_map()
        sys.modules["django.core.signals"].request_started.disconnect(
            dispatch_uid="mapapp.views.on_request"
        )

    assert "mapapp.views.on_request" not in without
    assert (
        "    mapapp.views.on_request  mapapp/views.py:4  "
        "[sync, weak, dispatch_uid='mapapp.views.on_request', any sender]"
    ) in with_urlconf


def test_the_map_runs_no_receiver_and_evaluates_no_lazy_object(mapapp: Path) -> None:
    calls = sys.modules["mapapp.receivers"].CALLS

    for output_format in ("text", "json", "mermaid"):
        run_map("--format", output_format)

    assert calls == []
    assert sys.modules["mapapp.signals"].LAZY._wrapped is empty


def test_dead_weak_receivers_are_not_listed(mapapp: Path) -> None:
    thing_done = sys.modules["mapapp.signals"].thing_done

    def short_lived(sender: Any, **kwargs: Any) -> None:
        pass

    thing_done.connect(short_lived)
    assert "short_lived" in run_map()
    del short_lived
    gc.collect()

    assert "short_lived" not in run_map()


class Hub:
    """Holds a signal as a class attribute, where no module-level scan can see it."""

    changed = Signal()


def _on_hub_changed(sender: Any, **kwargs: Any) -> None:
    pass


def test_a_signal_kept_as_a_class_attribute_is_found_and_named(mapapp: Path) -> None:
    Hub.changed.connect(_on_hub_changed)
    try:
        document = json.loads(run_map("--format", "json"))
    finally:
        Hub.changed.disconnect(_on_hub_changed)

    entry = signal_json(document, "tests.test_signal_map.Hub.changed")
    assert entry["name"] == "changed"
    # Defined outside installed apps: we cannot say whether anything sends it.
    assert (entry["sent"], entry["receivers_never_run"]) == ("not_scanned", False)
    assert [receiver["name"] for receiver in entry["receivers"]] == [
        "tests.test_signal_map._on_hub_changed"
    ]


def test_a_sender_that_cannot_be_weakly_referenced_is_named_when_module_level(
    mapapp: Path,
) -> None:
    thing_done = sys.modules["mapapp.signals"].thing_done
    thing_done.connect(_on_hub_changed, sender=SEVEN)
    try:
        output = run_map()
    finally:
        thing_done.disconnect(_on_hub_changed, sender=SEVEN)

    assert "tests.test_signal_map._on_hub_changed" in output
    assert "[sync, weak, sender=seven]" in output


SEVEN = "".join(["se", "ven"])  # built at run time: not an interned literal shared elsewhere


def test_author_model_is_the_sender_label_on_both_django_layouts(mapapp: Path) -> None:
    # Django 6 keeps a weak reference to the sender; Django 5.2 only its id().
    document = json.loads(run_map("--format", "json"))
    senders = [r["sender"] for r in signal_json(document, "mapapp.signals.thing_done")["receivers"]]
    assert senders.count(Author._meta.label) == 1


def test_a_sender_found_nowhere_is_reported_as_unresolved_not_guessed(mapapp: Path) -> None:
    thing_done = sys.modules["mapapp.signals"].thing_done
    hidden_sender = object()  # no weak reference possible, and in no module's namespace
    thing_done.connect(_on_hub_changed, sender=hidden_sender)
    try:
        output = run_map()
    finally:
        thing_done.disconnect(_on_hub_changed, sender=hidden_sender)

    assert f"[sync, weak, sender=<unresolved sender {id(hidden_sender)}>]" in output
