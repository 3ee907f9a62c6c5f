"""A Django app for subprocess tests: how long a process's exit handlers took, ours included.

``atexit`` runs handlers last in, first out. Importing this package (the settings module of
:func:`tests.collector.site.settings_module` does, before Django starts) registers the handler
that runs last; the app's ``ready()``, after signal_tracing's, registers the one that runs
first. Between the two run the exporter's exit flush and whatever else registered meanwhile.
Each process writes ``{pid}.json`` into the directory named by ``EXIT_CLOCK_DIR``.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path

_exit_began: list[float] = []


def exit_begins() -> None:
    _exit_began.append(time.monotonic())


def _exit_ends() -> None:
    ended = time.monotonic()
    directory = os.environ.get("EXIT_CLOCK_DIR")
    if not directory:
        return
    from opentelemetry import trace

    record = {
        "pid": os.getpid(),
        "argv": sys.argv,
        "run_main": os.environ.get("RUN_MAIN"),
        "exit_seconds": ended - _exit_began[0] if _exit_began else None,
        "tracer_provider": type(trace.get_tracer_provider()).__name__,
    }
    path = Path(directory) / f"{os.getpid()}.json"
    path.with_suffix(".tmp").write_text(json.dumps(record))
    path.with_suffix(".tmp").rename(path)


atexit.register(_exit_ends)
