"""A real headless Chromium against the example site served by ``runserver`` on 127.0.0.1.

The server runs in a subprocess with its own SQLite file, so the browser sees exactly what a
developer sees: DEBUG on, the toolbar, our panel, static files served by staticfiles.
Chromium comes from the system (``apt-get install chromium``); Playwright never downloads one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "Chromium not found: install it with `apt-get install -y chromium` "
            "(or set CHROMIUM_PATH); Playwright's own browser download is not used."
        )
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": [
            *browser_type_launch_args.get("args", []),
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"runserver exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"runserver did not listen on {port} within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the example site (failing SMS gateway) and return its base URL."""
    workdir = tmp_path_factory.mktemp("example_site")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.browser.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_site")]),
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "SMS_BACKEND": "sms.backends.failing.SmsBackend",
        "SIGNAL_TRACING_ENABLED": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SIGNAL_TRACING_EXPORTER", None)
    django = [sys.executable, "-m", "django"]
    subprocess.run(
        [*django, "migrate", "--verbosity", "0"], env=env, cwd=workdir, check=True, timeout=120
    )
    port = _free_port()
    log = workdir / "runserver.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*django, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def base_url(example_site: str) -> str:
    return example_site


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
