"""``python -m tests.reliability.site.serve_waitress FD THREADS``: waitress on an inherited socket.

The test binds the socket (127.0.0.1, ephemeral port) and passes its descriptor, so the port
is known before the server starts and no other process can take it meanwhile.
"""

from __future__ import annotations

import socket
import sys

import waitress

from tests.reliability.site.wsgi import application


def main() -> None:
    descriptor, threads = int(sys.argv[1]), int(sys.argv[2])
    listener = socket.socket(fileno=descriptor)
    waitress.serve(application, sockets=[listener], threads=threads, _quiet=True)


if __name__ == "__main__":
    main()
