"""Which processes hold which TCP connections to a port (Linux ``/proc``).

A process that forks with a keep-alive connection open hands the same socket to each child:
two processes writing HTTP requests into one TCP stream interleave them. This finds such
shared connections among a server's processes.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

ESTABLISHED = "01"


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _connection_inodes(port: int) -> set[str]:
    """Inodes of the machine's established TCP connections whose remote end is ``port``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == ESTABLISHED:
                inodes.add(fields[9])
    return inodes


def connections_to(port: int, pids: list[int]) -> dict[str, set[int]]:
    """Each established connection to ``port`` open in one of ``pids``: the pids holding it."""
    wanted = _connection_inodes(port)
    holders: dict[str, set[int]] = defaultdict(set)
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # exited meanwhile
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in wanted:
                holders[target[8:-1]].add(pid)
    return dict(holders)
