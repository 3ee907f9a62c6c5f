"""The example site as a project: its own settings, entry points and dev server, in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "example_site"


def site_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SIGNAL_TRACING_", "OTEL_", "SMS_", "DATABASE_URL"))
        and key != "PYTEST_VERSION"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_site.settings",
        PYTHONPATH=os.pathsep.join([str(SITE), str(REPO)]),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONWARNINGS="error",
    )
    env.update(extra)
    return env


def manage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SITE / "manage.py"), *args],
        env=site_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_entry_points_serve_the_site_with_spans_on_the_console(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("drive_entry_points.py"))],
        env=site_env(
            tmp_path,
            SIGNAL_TRACING_EXPORTER="console",
            SMS_BACKEND="sms.backends.locmem.SmsBackend",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["wsgi"][0] == 201
    assert outcome["wsgi"][1]["mobile"] == "13800138000"
    assert outcome["asgi"] == [200, True]
    # The console exporter wrote the example's spans to stderr.
    assert '"name": "post_save sms.receivers.send_sms_code"' in result.stderr
    assert '"name": "sms_code_sent sms.receivers.log_code_sent"' in result.stderr


def test_manage_py_migrates_and_purges(tmp_path: Path) -> None:
    migrated = manage(tmp_path, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying sms.0001_initial... OK" in migrated.stdout

    purged = manage(tmp_path, "purge_sms_codes")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout == "Deleted 0 expired SMS code(s).\n"

    again = manage(tmp_path, "migrate", "--noinput")
    assert "No migrations to apply." in again.stdout


def test_check_passes_and_tracing_can_be_switched_off(tmp_path: Path) -> None:
    checked = manage(tmp_path, "check", SIGNAL_TRACING_ENABLED="0")
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_a_bad_exporter_value_is_a_system_check_error(tmp_path: Path) -> None:
    checked = manage(tmp_path, "check", SIGNAL_TRACING_EXPORTER="jaeger")
    assert checked.returncode != 0
    assert "signal_tracing.E003" in checked.stderr


def test_debug_off_needs_a_real_secret_key(tmp_path: Path) -> None:
    checked = manage(tmp_path, "check", DJANGO_DEBUG="0")
    assert checked.returncode != 0
    assert "Set DJANGO_SECRET_KEY when DJANGO_DEBUG=0." in checked.stderr

    deployed = manage(
        tmp_path, "check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="a-real-secret-from-the-vault"
    )
    assert deployed.returncode == 0, deployed.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    """``manage.py runserver`` as a newcomer runs it (DEBUG, toolbar), on a free port."""
    assert manage(tmp_path, "migrate", "--noinput").returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(SITE / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=site_env(tmp_path, PYTHONWARNINGS="default"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, "runserver exited"
                assert time.monotonic() < deadline, "runserver did not answer within 30 s"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_dev_server_shows_the_toolbar_with_our_panel(dev_server: str) -> None:
    with urllib.request.urlopen(dev_server + "/sms/code/", timeout=10) as response:
        html = response.read().decode()
    assert 'id="djDebug"' in html
    assert 'id="djdt-SignalTracingPanel"' in html

    request = urllib.request.Request(
        dev_server + "/api/sms/code/",
        data=json.dumps({"mobile": "13800138000", "sms_type": 1}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
