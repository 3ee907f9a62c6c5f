"""Flushing buffered spans when the process ends.

A normal exit (end of a command or script, Ctrl-C, a server's graceful stop) runs the SDK
provider's ``atexit`` shutdown, which exports what the batch processor holds, waiting at most
the exporter's timeout. A SIGTERM nobody handles kills the process without ``atexit``:
``runserver`` or a plain script under ``docker stop`` loses its last seconds of spans. For that
case only, a handler flushes first and then dies of the same signal, exactly as before.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType


def flush_on_sigterm(*flush: Callable[[], None]) -> bool:
    """Call ``flush`` (in order) on an unhandled SIGTERM; return whether a handler was installed.

    Nothing changes when SIGTERM already has a handler (gunicorn, uvicorn, celery install
    theirs, and their graceful exit runs ``atexit``), off the main thread, or off POSIX.
    """
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False

    def flush_then_terminate(signum: int, frame: FrameType | None) -> None:
        try:
            for step in flush:
                step()
        finally:
            # Die of the signal itself, so the exit status is what it would have been.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, flush_then_terminate)
    return True
