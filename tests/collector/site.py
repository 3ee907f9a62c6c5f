"""The example site in real subprocesses: management commands and a running server.

Each test gets its own SQLite file and environment; the example site reads
``SIGNAL_TRACING_EXPORTER``, ``SMS_BACKEND``, ``DATABASE_URL`` and the ``OTEL_*`` variables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Final

from tests.collector.rotel import accepts_tcp, free_port, wait_until
from tests.timing import Timing, wait_for_exit

ROOT: Final = Path(__file__).resolve().parents[2]
MANAGE: Final = ROOT / "example_site" / "manage.py"

#: Values that must never reach the collector; the site is run with them.
SECRET_KEY: Final = "st-secret-key-7d1c0e5a9b3f4e2d8c6a"
MOBILE: Final = "13912345678"


def site_environment(workdir: Path, **extra: str) -> dict[str, str]:
    """A clean environment for the example site: no inherited ``OTEL_*`` variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "SIGNAL_TRACING_", "DJANGO_", "SMS_"))
    }
    environment.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_site")]),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": f"sqlite:///{workdir / 'site.sqlite3'}",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "SIGNAL_TRACING_EXPORTER": "otlp",
            # Export within 50 ms rather than the default 5 s, so tests wait less.
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
    )
    environment.update(extra)
    return environment


#: The logging set-up docs/jaeger.md recommends for the ``signal_tracing`` loggers.
RECOMMENDED_LOGGING: Final = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"signal_tracing": {"handlers": ["console"], "level": "INFO"}},
}


def settings_module(workdir: Path, *extra: str, **signal_tracing: object) -> dict[str, str]:
    """Write a settings module: the example site's, timing its exit, logging as the docs say.

    ``signal_tracing`` keys are added to ``SIGNAL_TRACING``; ``extra`` lines of Python are
    appended. Returns the environment entries
    that select it (with :func:`site_environment`); each process then writes how long its exit
    handlers took into ``workdir / "exits"`` (see :func:`exit_clocks`).
    """
    (workdir / "exits").mkdir(exist_ok=True)
    (workdir / "timed_settings.py").write_text(
        "import tests.collector.exitclock  # noqa: F401  (first in: its handler runs last)\n"
        "from example_site.settings import *  # noqa: F403\n"
        'INSTALLED_APPS = [*INSTALLED_APPS, "tests.collector.exitclock"]  # noqa: F405\n'
        f"SIGNAL_TRACING = {{**SIGNAL_TRACING, **{signal_tracing!r}}}  # noqa: F405\n"
        f"LOGGING = {RECOMMENDED_LOGGING!r}\n" + "".join(f"{line}\n" for line in extra)
    )
    return {
        "DJANGO_SETTINGS_MODULE": "timed_settings",
        "PYTHONPATH": os.pathsep.join([str(workdir), str(ROOT), str(ROOT / "example_site")]),
        "EXIT_CLOCK_DIR": str(workdir / "exits"),
    }


def exit_clocks(workdir: Path) -> list[dict[str, Any]]:
    """What each process run with :func:`settings_module` wrote at exit, oldest first."""
    paths = sorted((workdir / "exits").glob("*.json"), key=lambda path: path.stat().st_mtime)
    return [json.loads(path.read_text()) for path in paths]


def manage(
    *args: str, env: dict[str, str], command: tuple[str, ...] = (), timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py *args`` (prefixed by ``command``, e.g. opentelemetry-instrument)."""
    return subprocess.run(
        [*command, sys.executable, str(MANAGE), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


#: A test run started in the background (nohup, ``cmd &`` in a script) has SIGINT ignored,
#: and an ignored signal stays ignored across exec: this restores Ctrl-C for the server.
WITH_CTRL_C: Final = (
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])",
)


class Server:
    """``manage.py runserver --noreload`` on a free port, with its output in a file."""

    def __init__(self, workdir: Path, env: dict[str, str], command: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.output = workdir / f"server-{self.port}.log"
        with open(self.output, "wb") as output:
            self.process = subprocess.Popen(
                [
                    *WITH_CTRL_C,
                    *command,
                    sys.executable,
                    str(MANAGE),
                    "runserver",
                    "--noreload",
                    f"127.0.0.1:{self.port}",
                ],
                env=env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(self._ready, timeout=30, what=f"the server on port {self.port}")
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"the server did not start:\n{self.log()}") from None

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{self.log()}")
        return accepts_tcp(self.port)

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def post_json(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                r.read()
                return int(r.status)
        except urllib.error.HTTPError as error:
            return error.code

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> Timing:
        """Send ``signum``; return how long the process took to exit (see tests/timing.py)."""
        self.process.send_signal(signum)
        try:
            return wait_for_exit(self.process, timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the server ignored signal {signum}:\n{self.log()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
