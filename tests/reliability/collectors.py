"""Collectors that do not work: a closed port (connections refused) and a silent one.

The silent collector listens but never accepts or reads: the kernel completes each TCP
handshake, the exporter sends its request and then waits for an answer that never comes,
until its own timeout. Both bind 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    """An endpoint where nothing listens: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def silent_collector() -> Iterator[str]:
    """An endpoint that accepts TCP connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
