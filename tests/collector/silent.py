"""A collector that accepts connections and never answers: the worst a network can do."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_collector() -> Iterator[str]:
    """Listen on an ephemeral 127.0.0.1 port, accept, read nothing, send nothing.

    Yields the endpoint (``http://127.0.0.1:PORT``); every connection is held open until the
    block ends, so a client waits for its own timeout.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, name="silent-collector", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for connection in held:
            connection.close()
