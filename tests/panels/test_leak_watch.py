"""LeakWatch: what one request left connected, and which other requests ran beside it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.dispatch import Signal

from signal_tracing.panels.leak_watch import MAX_LEAKS, LeakRow, LeakWatch

ROOT = Path(__file__).resolve().parents[2]

#: Connected to only by these tests.
parcel_sorted = Signal()


class Sorter:
    def on_sorted(self, sender: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def signal() -> Iterator[Signal]:
    yield parcel_sorted
    parcel_sorted.receivers.clear()
    parcel_sorted.sender_receivers_cache.clear()


def test_a_receiver_connected_while_watching_is_reported_with_where_it_is(
    signal: Signal,
) -> None:
    watch = LeakWatch.start()

    def on_sorted(sender: Any, **kwargs: Any) -> None:
        return None

    signal.connect(on_sorted, sender=Sorter, weak=False, dispatch_uid="sorted-once")
    report = watch.report()
    line = on_sorted.__code__.co_firstlineno
    assert report == {
        "leaks": [
            LeakRow(
                signal="parcel_sorted",
                signal_path=f"{__name__}.parcel_sorted",
                receiver=f"{__name__}.{on_sorted.__qualname__}",
                location=f"tests/panels/test_leak_watch.py:{line}",
                file_path=__file__,
                line=line,
                sender=f"{__name__}.Sorter",
                weak=False,
                is_async=False,
                dispatch_uid="sorted-once",
                replaced=False,
            )
        ],
        "leaks_omitted": 0,
        "leaks_concurrent": 0,
    }


def test_a_receiver_disconnected_before_the_end_is_not_a_leak(signal: Signal) -> None:
    def on_sorted(sender: Any, **kwargs: Any) -> None:
        return None

    watch = LeakWatch.start()
    signal.connect(on_sorted, weak=False)
    signal.disconnect(on_sorted)
    assert watch.report()["leaks"] == []


def test_a_weak_receiver_is_reported_while_its_object_lives(signal: Signal) -> None:
    sorter = Sorter()
    watch = LeakWatch.start()
    signal.connect(sorter.on_sorted)
    assert [(row["receiver"], row["weak"]) for row in watch.report()["leaks"]] == [
        (f"{__name__}.Sorter.on_sorted", True)
    ]

    watch = LeakWatch.start()
    signal.connect(Sorter().on_sorted)  # dies at once: nothing keeps it
    gc.collect()
    assert watch.report()["leaks"] == []


def test_a_receiver_taking_over_a_collected_ones_dispatch_uid_is_reported(
    signal: Signal,
) -> None:
    sorter = Sorter()
    signal.connect(sorter.on_sorted, dispatch_uid="sorter")
    watch = LeakWatch.start()
    del sorter
    gc.collect()
    signal.connect(Sorter.on_sorted, weak=False, dispatch_uid="sorter")
    assert [
        (row["receiver"], row["dispatch_uid"], row["replaced"]) for row in watch.report()["leaks"]
    ] == [(f"{__name__}.Sorter.on_sorted", "sorter", True)]


def test_watching_changes_no_connection(signal: Signal) -> None:
    def on_sorted(sender: Any, **kwargs: Any) -> None:
        return None

    signal.connect(on_sorted)
    before = list(signal.receivers)
    watch = LeakWatch.start()
    watch.report()
    # The very same entries: nothing was wrapped, re-connected or reordered.
    assert len(signal.receivers) == len(before)
    assert all(now is then for now, then in zip(signal.receivers, before, strict=True))
    assert signal.send(sender=None) == [(on_sorted, None)]


def test_requests_watched_at_the_same_time_are_counted(signal: Signal) -> None:
    first = LeakWatch.start()
    second = LeakWatch.start()
    third = LeakWatch.start()
    third.stop()
    signal.connect(Sorter.on_sorted, weak=False)
    # Each of them could have connected it: every report lists it, and says how many others
    # ran at the same time.
    second_report = second.report()
    first_report = first.report()
    assert (first_report["leaks_concurrent"], second_report["leaks_concurrent"]) == (2, 2)
    assert first_report["leaks"] == second_report["leaks"]
    assert third.report()["leaks_concurrent"] == 2

    alone = LeakWatch.start()
    assert alone.report()["leaks_concurrent"] == 0


def test_a_watch_stopped_early_still_reports(signal: Signal) -> None:
    # The toolbar disables panels (stop) before it makes their stats (report).
    watch = LeakWatch.start()
    signal.connect(Sorter.on_sorted, weak=False)
    watch.stop()
    later = LeakWatch.start()
    assert later.report()["leaks_concurrent"] == 0
    assert len(watch.report()["leaks"]) == 1


def test_past_the_cap_leaks_are_counted(signal: Signal) -> None:
    watch = LeakWatch.start()
    for index in range(MAX_LEAKS + 5):
        signal.connect(Sorter.on_sorted, weak=False, dispatch_uid=f"sorter {index}")
    report = watch.report()
    assert (len(report["leaks"]), report["leaks_omitted"]) == (MAX_LEAKS, 5)


def test_loading_the_panel_loads_nothing_for_leaks_until_a_request_is_watched() -> None:
    # The toolbar imports its panel classes when Django starts (its AppConfig.ready()): a
    # process that never shows the toolbar, such as a test run, must not pay for leaks.
    code = (
        "import sys, django; django.setup(); "
        "from debug_toolbar.toolbar import DebugToolbar; "
        "panels = [panel.__name__ for panel in DebugToolbar.get_panel_classes()]; "
        "assert 'SignalTracingPanel' in panels, panels; "
        "assert 'signal_tracing.leaks' not in sys.modules; "
        "from signal_tracing.panels.leak_watch import LeakWatch; "
        "LeakWatch.start().report(); "
        "assert 'signal_tracing.leaks' in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_site")]),
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr
