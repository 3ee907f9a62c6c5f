"""A throw-away PostgreSQL server on 127.0.0.1 (an ephemeral port) for the lifecycle tests.

It uses the machine's ``initdb``/``pg_ctl`` (Debian's ``postgresql`` package), runs them as the
``postgres`` user when the tests run as root (PostgreSQL refuses root), and stops the server
and removes its data directory afterwards. :class:`Unavailable` says why it could not start.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from typing import Any


class Unavailable(Exception):
    """PostgreSQL cannot be started here; the message says why and what to install."""


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise Unavailable(
        f"PostgreSQL's {name} was not found on PATH or in /usr/lib/postgresql/*/bin "
        "(install it with: apt-get install -y postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.initdb = _binary("initdb")
        self.pg_ctl = _binary("pg_ctl")
        self.port = _free_port()
        self.data_dir = tempfile.mkdtemp(prefix="signal-tracing-pg-")
        self.run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable(
                    "the tests run as root and there is no 'postgres' user to run PostgreSQL as"
                ) from None
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.data_dir,
            check=False,
            **self.run_as,
        )
        if result.returncode != 0:
            log = os.path.join(self.data_dir, "server.log")
            tail = ""
            if os.path.exists(log):
                with open(log) as file:
                    tail = file.read()[-2000:]
            raise Unavailable(
                f"{os.path.basename(args[0])} failed ({result.returncode}): "
                f"{result.stderr.strip()[-2000:]} {tail}"
            )

    def start(self) -> None:
        self._run(self.initdb, "-D", self.data_dir, "-A", "trust", "-U", "postgres", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self.pg_ctl,
            "-D",
            self.data_dir,
            "-o",
            options,
            "-l",
            os.path.join(self.data_dir, "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", self.data_dir, "-m", "fast", "-w", "stop")
        except Unavailable:
            pass
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)
