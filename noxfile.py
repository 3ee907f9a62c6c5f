"""The whole test matrix, lint, types and docs: ``nox`` runs it all, ``nox -l`` lists it.

``./scripts/test`` runs the part CI runs (lint, mypy, docs, the oldest and newest
Django/Python pairs, coverage, PostgreSQL) on a fresh machine; ``nox`` runs every pair.
Interpreters come from pyenv (``$(pyenv root)/versions/<x.y.z>``) when it has them, else from
the PATH, so ``nox`` works both here and on a machine with system Pythons.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
COVERAGE_DIR = ROOT / ".nox" / "_coverage"
COVERAGE_FLOOR = 85

DJANGO = {
    "5.2": ("Django>=5.2,<5.3", ("3.10", "3.11", "3.12", "3.13")),
    "6.0": ("Django>=6.0,<6.1", ("3.12", "3.13")),
    "6.1": ("Django>=6.1,<6.2", ("3.12", "3.13")),
}
OLDEST = ("3.10", "5.2")
NEWEST = ("3.13", "6.1")
TOOLS_PYTHON = "3.12"  # lint, mypy and docs: any supported Python will do
RUFF = "ruff==0.17.6"  # one formatter version for everyone: its output changes between releases

nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "mypy", "docs", "tests", "postgres", "coverage"]


def _pyenv_roots() -> list[Path]:
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    if shutil.which("pyenv"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            roots.insert(0, subprocess.check_output(["pyenv", "root"], text=True).strip())
    return [Path(root) for root in roots if root]


def _release(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parent.parent.name.split(".") if part.isdigit())


def _expose_pyenv_interpreters() -> None:
    """Put each pyenv Python on the PATH as ``pythonX.Y`` for nox's interpreter discovery.

    pyenv's shims answer ``python3.10`` only for the versions selected with ``pyenv global``,
    so a small wrapper per version goes in a directory at the front of the PATH. The wrapper
    execs the real binary: virtualenvs are built from the real interpreter, not the wrapper.
    """
    wanted = sorted({python for _pin, pythons in DJANGO.values() for python in pythons})
    wrappers = ROOT / ".nox" / "_interpreters"
    for minor in wanted:
        for root in _pyenv_roots():
            found = sorted(root.glob(f"versions/{minor}.*/bin/python{minor}"), key=_release)
            if found:
                wrappers.mkdir(parents=True, exist_ok=True)
                wrapper = wrappers / f"python{minor}"
                wrapper.write_text(f'#!/bin/sh\nexec "{found[-1]}" "$@"\n')
                wrapper.chmod(0o755)
                break
    if wrappers.is_dir():
        os.environ["PATH"] = f"{wrappers}{os.pathsep}{os.environ.get('PATH', '')}"


_expose_pyenv_interpreters()


def _install(session: nox.Session, django_pin: str, *extras: str) -> None:
    # One resolve, so pip picks every dependency compatible with the pinned Django.
    session.install("-e", f".[{','.join(('dev', *extras))}]", django_pin)


def _pytest(session: nox.Session, coverage_name: str, *args: str) -> None:
    # coverage run, not pytest-cov: our pytest11 plugin imports signal_tracing before any
    # pytest plugin could start measuring, and those lines would look untested.
    COVERAGE_DIR.mkdir(parents=True, exist_ok=True)
    data_file = COVERAGE_DIR / f"{coverage_name}.coverage"
    data_file.unlink(missing_ok=True)
    session.env["COVERAGE_FILE"] = str(data_file)
    try:
        session.run("coverage", "run", "-m", "pytest", *args, *session.posargs)
    finally:
        if data_file.exists():
            session.run("coverage", "report", "--skip-covered", silent=False)


@nox.session
@nox.parametrize(
    ("python", "django"),
    [(python, django) for django, (_pin, pythons) in DJANGO.items() for python in pythons],
)
def tests(session: nox.Session, django: str) -> None:
    """The test suite on one Django/Python pair (coverage data kept for ``coverage``)."""
    _install(session, DJANGO[django][0])
    _pytest(session, f"django{django}-py{session.python}")


@nox.session(python=TOOLS_PYTHON)
def coverage(session: nox.Session) -> None:
    """Combine the coverage of the test sessions run so far; fail under the floor."""
    data = sorted(COVERAGE_DIR.glob("*.coverage"))
    if not data:
        session.error("No coverage data: run a tests session first (e.g. nox -s tests).")
    session.install("coverage[toml]>=7")
    session.env["COVERAGE_FILE"] = str(COVERAGE_DIR / "combined")
    session.run("coverage", "combine", "--keep", *map(str, data))
    session.run("coverage", "report", f"--fail-under={COVERAGE_FLOOR}")


@nox.session(python=TOOLS_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check on everything."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=TOOLS_PYTHON)
def mypy(session: nox.Session) -> None:
    """mypy --strict on the package (settings in pyproject.toml)."""
    _install(session, DJANGO[NEWEST[1]][0])
    session.run("mypy")


@nox.session(python=TOOLS_PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    session.install("-e", ".[docs]")
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's end-of-life banner, not a build warning
    with tempfile.TemporaryDirectory() as site:
        session.run("mkdocs", "build", "--strict", "--site-dir", site)


@nox.session(python=NEWEST[0])
def reliability(session: nox.Session) -> None:
    """Load, fault and hostile-input probes: real servers and collector (tests/reliability)."""
    _install(session, DJANGO[NEWEST[1]][0], "reliability")
    session.run("pytest", "tests/reliability", *session.posargs)


def _postgres_binaries() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _postgres_server(session: nox.Session) -> Iterator[str]:
    """Run a throw-away PostgreSQL server on 127.0.0.1 and yield its DATABASE_URL."""
    binaries = _postgres_binaries()
    if binaries is None:
        session.error(
            "PostgreSQL is not installed: apt-get install -y postgresql (or run ./scripts/test)."
        )
    data = Path(tempfile.mkdtemp(prefix="signal-tracing-pg-"))
    port = _free_port()
    # initdb refuses to run as root: as root, the server runs as the "postgres" user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    pg_ctl = [*as_user, str(binaries / "pg_ctl"), "-D", str(data)]
    session.run(
        *as_user,
        str(binaries / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
        external=True,
        silent=True,
    )
    session.run(
        *pg_ctl,
        "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off",
        "-l",
        str(data / "log"),
        "-w",
        "start",
        external=True,
        silent=True,
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        session.run(*pg_ctl, "-m", "fast", "-w", "stop", external=True, silent=True)
        shutil.rmtree(data, ignore_errors=True)


@nox.session(python=NEWEST[0])
def postgres(session: nox.Session) -> None:
    """The test suite against a real PostgreSQL server started for the run."""
    _install(session, DJANGO[NEWEST[1]][0], "postgres")
    with _postgres_server(session) as database_url:
        session.env["DATABASE_URL"] = database_url
        _pytest(session, "postgres")
