"""A Django app for subprocess tests: how long a process's exit handlers took, ours included.

``atexit`` runs handlers last in, first out. Importing this package (the settings module of
:func:`tests.collector.site.settings_module` does, before Django starts) registers the handler
that runs last; the app's ``ready()``, after signal_tracing's, registers the one that runs
first. Between the two run the exporter's exit flush and whatever else registered meanwhile.
Each process writes ``{pid}.json`` into the directory named by ``EXIT_CLOCK_DIR``:
``exit_seconds`` is the time the handlers took less the time the process's threads waited for
a CPU meanwhile (what an idle machine would take, see :mod:`tests.timing`),
``exit_wall_seconds`` the wall time.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path

from tests.timing import cpu_waits, waited_between

_exit_began: list[tuple[float, dict[str, int]]] = []


def exit_begins() -> None:
    _exit_began.append((time.monotonic(), cpu_waits()))


def _exit_ends() -> None:
    ended, waits = time.monotonic(), cpu_waits()
    directory = os.environ.get("EXIT_CLOCK_DIR")
    if not directory:
        return
    from opentelemetry import trace

    record = {
        "pid": os.getpid(),
        "argv": sys.argv,
        "run_main": os.environ.get("RUN_MAIN"),
        "exit_seconds": (
            ended - _exit_began[0][0] - waited_between(_exit_began[0][1], waits)
            if _exit_began
            else None
        ),
        "exit_wall_seconds": ended - _exit_began[0][0] if _exit_began else None,
        "tracer_provider": type(trace.get_tracer_provider()).__name__,
    }
    path = Path(directory) / f"{os.getpid()}.json"
    path.with_suffix(".tmp").write_text(json.dumps(record))
    path.with_suffix(".tmp").rename(path)


atexit.register(_exit_ends)
