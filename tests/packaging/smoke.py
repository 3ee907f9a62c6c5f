"""Smoke test of an installed (not editable) signal_tracing: the example site served against it.

``nox -s packaging`` builds the wheel, installs it with ``[otlp,toolbar]`` into a new virtual
environment and runs this file with that environment's Python, from the repository root. It
checks that the package imported is the installed one, that it carries its templates, static
files and ``py.typed``, and then drives the example site under ``runserver``: a page whose
request fires signals, the toolbar's rendering of our panel (its template), the panel's CSS and
icon (its static files), ``check`` and ``signal_map``. Standard library only; exits non-zero
with a message on the first failure.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "example_site"


def fail(message: str) -> None:
    sys.exit(f"packaging smoke test: {message}")


def check_installed_files() -> None:
    import signal_tracing

    location = Path(signal_tracing.__file__).resolve()
    if ROOT in location.parents or "site-packages" not in location.parts:
        fail(f"signal_tracing was imported from {location}, not from the installed wheel")
    package = resources.files("signal_tracing")
    for name in (
        "py.typed",
        "templates/signal_tracing/panel.html",
        "static/signal_tracing/css/panel.css",
        "static/signal_tracing/img/signal_tracing.svg",
    ):
        if not package.joinpath(name).is_file():
            fail(f"the installed package lacks {name}")
    print(f"installed: {location.parent}")


def site_environment(database: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SIGNAL_TRACING_", "OTEL_", "SMS_", "DATABASE_URL"))
        and key != "PYTHONPATH"
    }
    environment.update(
        DATABASE_URL=f"sqlite:///{database}",
        # The gateway refuses the message: the page is rendered (502), not redirected, so the
        # toolbar is on the response that fired the signals.
        SMS_BACKEND="sms.backends.failing.SmsBackend",
        PYTHONWARNINGS="error",
    )
    return environment


def manage(environment: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=SITE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        fail(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Browser:
    """urllib with cookies (the CSRF cookie), returning error pages instead of raising."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def fetch(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base_url + path, data=data)
        if data is not None:
            request.add_header("Referer", self.base_url + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers["Content-Type"], response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], error.read().decode()


def wait_for_server(browser: Browser, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            fail(f"runserver exited with {server.returncode}")
        try:
            browser.fetch("/")
            return
        except OSError:
            time.sleep(0.2)
    fail("runserver did not answer within 60 s")


def drive_the_site(browser: Browser) -> None:
    status, _type, form_page = browser.fetch("/sms/code/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page)
    if status != 200 or token is None:
        fail(f"GET /sms/code/ answered {status} without a CSRF token")
    status, _type, page = browser.fetch(
        "/sms/code/",
        {"csrfmiddlewaretoken": token[1], "mobile": "13800138000", "sms_type": "1"},
    )
    toolbar = re.search(r'data-request-id="([^"]+)"', page)
    if status != 502 or toolbar is None or 'id="djdt-SignalTracingPanel"' not in page:
        fail(f"POST /sms/code/ answered {status}, without the toolbar listing our panel")

    query = urllib.parse.urlencode({"request_id": toolbar[1], "panel_id": "SignalTracingPanel"})
    status, _type, rendered = browser.fetch(f"/__debug__/render_panel/?{query}")
    content = json.loads(rendered)["content"] if status == 200 else ""
    for expected in ("sms.receivers.send_sms_code", "/static/signal_tracing/css/panel.css"):
        if expected not in content:
            fail(f"the rendered panel (status {status}) does not mention {expected}")
    print("panel rendered from the installed template")

    for path, content_type, expected in (
        ("/static/signal_tracing/css/panel.css", "text/css", ".djdt-st"),
        ("/static/signal_tracing/img/signal_tracing.svg", "image/svg+xml", "<svg"),
    ):
        status, served_type, body = browser.fetch(path)
        if status != 200 or not served_type.startswith(content_type) or expected not in body:
            fail(f"GET {path} answered {status} {served_type}")
    print("static files served from the installed package")


def main() -> None:
    check_installed_files()
    with tempfile.TemporaryDirectory(prefix="signal-tracing-smoke-") as workdir:
        environment = site_environment(Path(workdir) / "db.sqlite3")
        manage(environment, "check", "--fail-level", "WARNING")
        manage(environment, "migrate", "--noinput", "-v0")
        if "kitchen.signals.pizza_done" not in manage(environment, "signal_map"):
            fail("signal_map does not list kitchen.signals.pizza_done")
        print("check, migrate and signal_map ran")

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=SITE,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            browser = Browser(f"http://127.0.0.1:{port}")
            wait_for_server(browser, server)
            drive_the_site(browser)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("packaging smoke test passed")


if __name__ == "__main__":
    main()
