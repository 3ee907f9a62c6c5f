"""opentelemetry-instrumentation-django, installed apart, for the subprocesses that use it.

It is kept out of the development environment on purpose: ``opentelemetry-instrument`` loads
every instrumentation installed, and this one configures Django with empty settings when
``DJANGO_SETTINGS_MODULE`` is not yet set, which would change what the zero-code export tests
run. So it is installed (without dependencies: the OpenTelemetry packages it needs are in the
development environment already) into a cache directory, for one PYTHONPATH entry.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "opentelemetry-instrumentation-django"


def installed_apart() -> Path:
    """Return a directory to put on PYTHONPATH, installing the package there if needed.

    Its version is that of the WSGI instrumentation installed beside it: the contrib packages
    are released together, and each requires its own release of the others.
    """
    version = metadata.version("opentelemetry-instrumentation-wsgi")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "signal-tracing"
    target = cache / f"{DISTRIBUTION}-{version}"
    if (target / "opentelemetry" / "instrumentation" / "django").is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{DISTRIBUTION}-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_dir():
            return target
        staging = Path(tempfile.mkdtemp(dir=cache))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--target",
                str(staging),
                f"{DISTRIBUTION}=={version}",
            ],
            check=True,
        )
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target
