"""A real OTLP collector for tests: Rotel on ephemeral 127.0.0.1 ports, spans as JSON lines.

Rotel (a Rust OpenTelemetry collector published on PyPI) receives OTLP over gRPC and
HTTP/protobuf exactly as Jaeger does; ``processor.py`` writes what it receives to a file.
The pinned wheel is installed once into a cache directory (``SIGNAL_TRACING_ROTEL_DIR``, by
default ``~/.cache/signal-tracing/rotel-<version>``); ``scripts/test`` pre-installs it there.
The agent binary needs Debian's ``libpython3.11``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

ROTEL_VERSION: Final = "0.0.1a15"
PROCESSOR: Final = Path(__file__).with_name("processor.py")

Span = dict[str, Any]


def rotel_dir() -> Path:
    configured = os.environ.get("SIGNAL_TRACING_ROTEL_DIR")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "signal-tracing" / f"rotel-{ROTEL_VERSION}"


def install_rotel() -> Path:
    """Return the path of the ``rotel-agent`` binary, installing the pinned wheel if needed."""
    target = rotel_dir()
    agent = target / "rotel" / "rotel-agent"
    if agent.exists():
        return agent
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".rotel-{ROTEL_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers may race to install
        if agent.exists():
            return agent
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        # The wheel is tagged cp311 (the agent embeds Python 3.11), whatever runs the tests.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--target",
                str(staging),
                f"rotel=={ROTEL_VERSION}",
            ],
            check=True,
        )
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return agent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts_tcp(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Rotel:
    """One Rotel agent writing received spans to ``sink``; stop and start it at will."""

    def __init__(self, workdir: Path) -> None:
        self.agent = install_rotel()
        self.workdir = workdir
        self.sink = workdir / "spans.jsonl"
        self.log = workdir / "rotel.log"
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def environment(self, protocol: str) -> dict[str, str]:
        """``OTEL_*`` variables that point an OTLP exporter at this collector."""
        endpoint = self.grpc_endpoint if protocol == "grpc" else self.http_endpoint
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError("Rotel is already running")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.agent),
                    "start",
                    "--otlp-grpc-endpoint",
                    f"127.0.0.1:{self.grpc_port}",
                    "--otlp-http-endpoint",
                    f"127.0.0.1:{self.http_port}",
                    "--exporter",
                    "blackhole",
                    "--otlp-with-trace-processor",
                    str(PROCESSOR),
                    # Hand spans to the processor at once rather than every 200 ms.
                    "--batch-timeout",
                    "10ms",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "OTLP_SINK_FILE": str(self.sink)},
            )
        try:
            wait_until(
                lambda: accepts_tcp(self.grpc_port) and accepts_tcp(self.http_port),
                timeout=10,
                what=f"Rotel to listen on {self.grpc_port} and {self.http_port}",
            )
        except TimeoutError as error:
            self.stop()
            raise RuntimeError(f"Rotel did not start; its log:\n{self.log.read_text()}") from error

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        wait_until(
            lambda: not accepts_tcp(self.http_port) and not accepts_tcp(self.grpc_port),
            timeout=5,
            what="Rotel's ports to close",
        )

    def spans(self) -> list[Span]:
        if not self.sink.exists():
            return []
        lines = self.sink.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def raw(self) -> str:
        """Everything received, as text: for searching for data that must not be there."""
        return self.sink.read_text(encoding="utf-8") if self.sink.exists() else ""

    def clear(self) -> None:
        self.sink.unlink(missing_ok=True)

    def wait_for_spans(
        self, condition: Callable[[list[Span]], bool], timeout: float = 15
    ) -> list[Span]:
        """Wait until the received spans satisfy ``condition``; return them."""
        received: list[Span] = []

        def satisfied() -> bool:
            nonlocal received
            received = self.spans()
            return condition(received)

        try:
            wait_until(satisfied, timeout, "the collector to receive the expected spans")
        except TimeoutError as error:
            names = sorted({span["name"] for span in received})
            raise AssertionError(f"{error}; received {len(received)} span(s): {names}") from None
        return received


@contextlib.contextmanager
def running_rotel(workdir: Path) -> Iterator[Rotel]:
    rotel = Rotel(workdir)
    rotel.start()
    try:
        yield rotel
    finally:
        rotel.stop()
