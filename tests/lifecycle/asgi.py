"""Driving Django's ASGI handler directly: an HTTP scope, a receive that can disconnect, and
the messages the application sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]


def http_scope(
    path: str, *, method: str = "GET", headers: Iterable[tuple[bytes, bytes]] = ()
) -> dict[str, Any]:
    path_only, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


@dataclass
class Exchange:
    """One request: ``disconnect`` makes the client go away (``http.disconnect``)."""

    sent: list[Message] = field(default_factory=list)
    disconnect: asyncio.Event = field(default_factory=asyncio.Event)
    _body_given: bool = False

    async def receive(self) -> Message:
        if not self._body_given:
            self._body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def call(
    application: Callable[[Any, Any, Any], Awaitable[None]], path: str, **scope_options: Any
) -> Exchange:
    exchange = Exchange()
    await application(http_scope(path, **scope_options), exchange.receive, exchange.send)
    return exchange
