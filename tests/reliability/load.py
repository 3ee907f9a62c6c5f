"""HTTP load from the test process: threads on keep-alive connections, or many asyncio
connections at once. Every request has a timeout and every run a deadline."""

from __future__ import annotations

import asyncio
import http.client
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Load:
    """What the clients saw: each request's number, answer and time."""

    wall_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    #: Request number -> the server process that answered (from the response body).
    served_by: dict[int, int] = field(default_factory=dict)
    #: Request number -> the rest of the body after the number and pid.
    notes: dict[int, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, number: int, status: int, body: bytes, latency: float) -> None:
        with self.lock:
            self.latencies.append(latency)
            parts = body.decode(errors="replace").split(" ", 2)
            if status != 200 or len(parts) < 2 or parts[0] != str(number):
                self.failures.append(f"request {number}: HTTP {status} {body[:200]!r}")
                return
            self.served_by[number] = int(parts[1])
            self.notes[number] = parts[2] if len(parts) > 2 else ""

    def failed(self, number: int, error: BaseException) -> None:
        with self.lock:
            self.failures.append(f"request {number}: {type(error).__name__}: {error}")

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        if not self.latencies:
            return "no answers"
        return (
            f"{len(self.latencies)} requests in {self.wall_seconds:.1f} s, latency median "
            f"{statistics.median(self.latencies) * 1000:.1f} ms, p99 "
            f"{self.percentile(0.99) * 1000:.1f} ms, max {max(self.latencies) * 1000:.1f} ms, "
            f"{len(self.failures)} failure(s), served by {len(set(self.served_by.values()))} "
            f"process(es)"
        )

    def workers(self) -> Counter[int]:
        return Counter(self.served_by.values())


def threaded_load(
    port: int,
    paths: Sequence[Sequence[tuple[int, str]]],
    *,
    deadline_seconds: float,
    timeout: float = 10.0,
    keep_alive: bool = True,
) -> Load:
    """One thread per list of (number, path), each on its own keep-alive connection (or a
    new connection per request: a keep-alive connection stays with one server process)."""
    headers = {} if keep_alive else {"Connection": "close"}
    load = Load()
    deadline = time.monotonic() + deadline_seconds

    def client(requests: Sequence[tuple[int, str]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            for number, path in requests:
                if time.monotonic() > deadline:
                    load.failed(number, TimeoutError(f"deadline of {deadline_seconds} s passed"))
                    continue
                started = time.monotonic()
                try:
                    connection.request("GET", path, headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                    if not keep_alive:
                        connection.close()
                except (OSError, http.client.HTTPException) as error:
                    load.failed(number, error)
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                    continue
                load.answered(number, response.status, body, time.monotonic() - started)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(requests,)) for requests in paths]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline_seconds + timeout + 5)
    load.wall_seconds = time.monotonic() - started
    if any(thread.is_alive() for thread in threads):
        load.failures.append("a client thread was still running after the deadline")
    return load


async def _one_request(port: int, number: int, path: str, timeout: float, load: Load) -> None:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        try:
            writer.write(
                # HTTP/1.0: the body comes whole (no chunks) and the server closes the connection.
                f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode()
            )
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
    except (OSError, asyncio.TimeoutError) as error:
        load.failed(number, error)
        return
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 else 0
    load.answered(number, status, body, time.monotonic() - started)


def concurrent_load(
    port: int, rounds: Sequence[Sequence[tuple[int, str]]], *, timeout: float = 30.0
) -> Load:
    """Each round's requests all at once, on a connection each; rounds one after another."""
    load = Load()

    async def run() -> None:
        for requests in rounds:
            await asyncio.gather(
                *(_one_request(port, number, path, timeout, load) for number, path in requests)
            )

    started = time.monotonic()
    asyncio.run(run())
    load.wall_seconds = time.monotonic() - started
    return load
