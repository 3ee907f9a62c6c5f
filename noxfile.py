"""The whole test matrix, lint, types and docs: ``nox`` runs it all, ``nox -l`` lists it.

``./scripts/test`` runs the part CI runs (lint, mypy, docs, packaging, each Django with one
Python, PostgreSQL, reliability, coverage) on a fresh machine; ``nox`` runs every pair.
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
COVERAGE_FLOOR = 95

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
# uv makes and fills a session's environment in seconds where pip takes a minute or more;
# scripts/test installs it with nox. Without uv, nox falls back to virtualenv and pip.
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = [
    "lint",
    "mypy",
    "docs",
    "packaging",
    "tests",
    "postgres",
    "reliability",
    "coverage",
]


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
    # One resolve, so every dependency is compatible with the pinned Django. pip itself too:
    # uv's environments have none, and test harnesses install helpers with `python -m pip`.
    session.install("-e", f".[{','.join(('dev', *extras))}]", django_pin, "pip")


#: pytest-xdist workers for the test legs: one per CPU. Tests that start servers or collectors
#: take free ports and temporary directories, so workers share nothing.
WORKERS = "auto"
#: ``coverage run``'s settings in the test legs: pyproject.toml's ([tool.coverage.run]), plus
#: ``patch = subprocess``: every Python process started meanwhile is measured too, the
#: pytest-xdist workers and the commands, servers and pytest runs the tests start (some code,
#: the test runner's and the exit flush's, runs only there).
COVERAGE_RC = """\
[run]
branch = True
source = signal_tracing
patch = subprocess
"""


def _pytest(session: nox.Session, coverage_name: str, *args: str) -> None:
    # coverage run, not pytest-cov: our pytest11 plugin imports signal_tracing before any
    # pytest plugin could start measuring, and those lines would look untested.
    COVERAGE_DIR.mkdir(parents=True, exist_ok=True)
    data_file = COVERAGE_DIR / f"{coverage_name}.coverage"
    for stale in COVERAGE_DIR.glob(f"{data_file.name}*"):
        stale.unlink()
    rcfile = COVERAGE_DIR / "coveragerc"
    rcfile.write_text(COVERAGE_RC)
    session.env["COVERAGE_FILE"] = str(data_file)
    session.env["COVERAGE_RCFILE"] = str(rcfile)
    try:
        session.run(
            "coverage",
            "run",
            "-m",
            "pytest",
            "-n",
            WORKERS,
            "--durations=15",
            *args,
            *session.posargs,
        )
    finally:
        # One data file per process (the controller and each worker): combined into one.
        if any(COVERAGE_DIR.glob(f"{data_file.name}.*")):
            session.run("coverage", "combine", "--quiet", silent=True)
            session.run("coverage", "report", "--skip-covered", silent=False)


@nox.session
@nox.parametrize(
    ("python", "django"),
    [(python, django) for django, (_pin, pythons) in DJANGO.items() for python in pythons],
)
def tests(session: nox.Session, django: str) -> None:
    """The test suite on one Django/Python pair (coverage data kept for ``coverage``).

    The browser tests (tests/browser) run with the newest pair only: what they add to the
    panel's tests, which check its HTML on every pair, is Chromium running the panel's own
    JavaScript and CSS, static files that are the same whatever the Django version.
    """
    _install(session, DJANGO[django][0])
    browser = () if (session.python, django) == NEWEST else ("-m", "not browser")
    _pytest(session, f"django{django}-py{session.python}", *browser)


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


@nox.session(python=TOOLS_PYTHON)
def packaging(session: nox.Session) -> None:
    """Build the sdist and wheel, check their metadata, smoke-test the installed wheel.

    The wheel goes into a new virtual environment (not this session's, which holds the build
    tools), with the extras a user installs; ``tests/packaging/smoke.py`` then serves the
    example site against it, so a template or static file left out of the wheel fails here.
    """
    session.install("build>=1.2", "twine>=6.1", "uv")
    with tempfile.TemporaryDirectory(prefix="signal-tracing-packaging-") as workdir:
        dist = Path(workdir) / "dist"
        # build makes the sdist, then the wheel from the sdist: what the sdist lacks, the
        # wheel lacks too.
        session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT), silent=True)
        session.run("twine", "check", "--strict", *sorted(map(str, dist.iterdir())))
        [wheel] = dist.glob("*.whl")
        venv = Path(workdir) / "venv"
        python = str(venv / "bin" / "python")
        session.run(
            "uv", "venv", "--quiet", "--python", str(Path(session.bin, "python")), str(venv)
        )
        session.run("uv", "pip", "install", "--quiet", "--python", python, f"{wheel}[otlp,toolbar]")
        session.run(python, str(ROOT / "tests" / "packaging" / "smoke.py"), external=True)


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
    """The tests that use the database, against a real PostgreSQL server started for the run.

    The rest of the suite does not use the test database of its own process: the test legs
    run it (on SQLite).
    """
    _install(session, DJANGO[NEWEST[1]][0], "postgres")
    with _postgres_server(session) as database_url:
        session.env["DATABASE_URL"] = database_url
        # `database` is added by tests/conftest.py to every test that uses the test database;
        # `postgres` marks the tests that start a PostgreSQL server of their own.
        _pytest(session, "postgres", "-m", "database or postgres")
