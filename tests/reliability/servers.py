"""Real servers in subprocesses, on a socket the test bound to 127.0.0.1 (ephemeral port).

The test process binds and listens, then hands the descriptor to the server (waitress through
``serve_waitress``, ``uvicorn --fd``, ``gunicorn --bind fd://``): the port is known before the
server starts, and nothing else can take it meanwhile. Every wait is bounded.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from tests.timing import wait_for_exit

ROOT: Final = Path(__file__).resolve().parents[2]
START_TIMEOUT: Final = 30.0
STOP_TIMEOUT: Final = 30.0


def site_environment(**extra: str) -> dict[str, str]:
    """A clean environment for the served site: no inherited ``OTEL_*`` or Django variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "SIGNAL_TRACING_", "DJANGO_", "RELIABILITY_"))
    }
    environment.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "tests.reliability.site.settings",
        }
    )
    environment.update(extra)
    return environment


def waitress_command(threads: int) -> list[str]:
    return [sys.executable, "-m", "tests.reliability.site.serve_waitress", "{fd}", str(threads)]


def uvicorn_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.reliability.site.asgi:application",
        "--fd",
        "{fd}",
        "--lifespan",
        "off",
        "--http",
        "h11",
        "--ws",
        "none",
        "--log-level",
        "warning",
        "--no-access-log",
        "--backlog",
        "2048",
    ]


def gunicorn_command(worker_class: str, workers: int, threads: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--bind",
        "fd://{fd}",
        "--graceful-timeout",
        "20",
        "--log-level",
        "warning",
        "tests.reliability.site.wsgi:application",
    ]


class Served:
    """One server process on its own listening socket; its output goes to ``log_path``."""

    def __init__(
        self, command: Sequence[str], environment: Mapping[str, str], workdir: Path
    ) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(2048)
        self.port: int = listener.getsockname()[1]
        self.log_path = workdir / f"server-{self.port}.log"
        descriptor = listener.fileno()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [part.replace("{fd}", str(descriptor)) for part in command],
                env=dict(environment),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(descriptor,),
            )
        listener.close()  # the server holds its own copy
        self.stop_seconds: float | None = None
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start-up:\n{self.log()}")
            try:
                status, _body = self.get("/ready/", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in {START_TIMEOUT} s:\n{self.log()}")
            time.sleep(0.05)

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> float:
        """Send ``signum`` and wait for the exit; return how long it took (kill after timeout).

        The time the server's main process waited for a CPU is not counted (tests/timing.py):
        on a loaded machine its teardown alone can take seconds of wall time.
        """
        self.process.send_signal(signum)
        try:
            took = wait_for_exit(self.process, timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the server did not exit within {timeout} s of signal {signum}:\n{self.log()}"
            ) from None
        self.stop_seconds = took.unhindered
        return self.stop_seconds

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
