"""Time bounds that hold on a busy machine: wall time less the time spent waiting for a CPU.

On a shared 2-core machine (load averages of 15 to 25 are common where these tests run) a
thread that is ready to run can wait hundreds of milliseconds for a CPU, and a bound on wall
time then fails for reasons that have nothing to do with the code under test. Linux counts
that wait for each thread (``/proc/<pid>/task/<tid>/schedstat``, second field, nanoseconds).
Wall time less the wait of the process's threads is about what the same work takes on an idle
machine; a sleep, a network timeout or a retry's back-off still counts in full, and those are
what the bounds are about. Where the kernel does not keep these counts the wait reads as 0 and
the bounds apply to wall time.

The waits of the threads are added up: two threads waiting at once count twice, so the result
can be a little low when several threads are ready together, never when a thread sleeps.
Threads that end within the measured span take their waits with them (the result is then a
little high).
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path
from types import TracebackType

#: How often :func:`wait_for_exit` reads the waits of the process it waits for.
POLL_SECONDS = 0.01


def cpu_waits(pid: int | None = None) -> dict[str, int]:
    """How long each live thread of process ``pid`` (None: this one) has waited for a CPU, in
    nanoseconds, by thread id."""
    tasks = Path(f"/proc/{pid or 'self'}/task")
    waits: dict[str, int] = {}
    try:
        threads = list(tasks.iterdir())
    except OSError:  # not Linux, or the process is gone
        return waits
    for thread in threads:
        try:
            waits[thread.name] = int((thread / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):  # ended meanwhile, or no schedstat
            continue
    return waits


def waited_between(before: dict[str, int], after: dict[str, int]) -> float:
    """Seconds the threads alive at ``after`` waited for a CPU since ``before``."""
    return sum(wait - before.get(thread, 0) for thread, wait in after.items()) / 1e9


@dataclasses.dataclass
class Timing:
    """Wall time, and how much of it was spent waiting for a CPU."""

    wall: float = 0.0
    cpu_wait: float = 0.0
    #: When the timed span ended (``time.monotonic()``, the same clock in every process).
    ended: float = 0.0
    #: The last reading of the waits of the timed process's threads (see :func:`cpu_waits`).
    waits: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def unhindered(self) -> float:
        """The wall time less the wait for a CPU: what an idle machine would have taken."""
        return max(0.0, self.wall - self.cpu_wait)

    def __str__(self) -> str:
        return f"{self.unhindered:.2f} s ({self.wall:.2f} s of wall time)"


class Stopwatch:
    """Times the ``with`` block in this process: ``with Stopwatch() as took: ...``."""

    def __init__(self) -> None:
        self.timing = Timing()

    def __enter__(self) -> Timing:
        self._waits = cpu_waits()
        self._started = time.monotonic()
        return self.timing

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.timing.ended = time.monotonic()
        self.timing.waits = cpu_waits()
        self.timing.wall = self.timing.ended - self._started
        self.timing.cpu_wait = waited_between(self._waits, self.timing.waits)


def wait_for_exit(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float
) -> Timing:
    """Wait until ``process`` exits (``subprocess.TimeoutExpired`` after ``timeout``); time it.

    Its threads' waits for a CPU are read every few milliseconds while it runs: the last
    reading before the exit counts, so the wait of the last moments is missed (the result is
    then a little high).
    """
    started = time.monotonic()
    deadline = started + timeout
    first = last = cpu_waits(process.pid)
    while process.poll() is None:
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(process.args, timeout)
        reading = cpu_waits(process.pid)
        if reading:  # empty once the process is gone
            last = reading
        time.sleep(POLL_SECONDS)
    ended = time.monotonic()
    return Timing(
        wall=ended - started, cpu_wait=waited_between(first, last), ended=ended, waits=last
    )
