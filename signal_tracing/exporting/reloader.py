"""``runserver``'s autoreloader: the watching process exports nothing, its child flushes early.

``manage.py runserver`` (without ``--noreload``) starts Django in a watching process that never
serves a request; it runs the same command again in a child with ``RUN_MAIN=true`` and
restarts that child whenever a file changes. Exporting from the watcher too would double every
log line about exporting and add its exit to every restart.

The child exits on each reload while its server thread still accepts connections; on Python
3.12 every request arriving while it exits fails with "can't create new thread at interpreter
shutdown". So the child sends its spans when the file changes, before it starts exiting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

#: ``django.utils.autoreload.DJANGO_AUTORELOAD_ENV``; not imported, which would cost every process.
AUTORELOAD_ENV: Final = "RUN_MAIN"


def is_autoreloader_parent(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether this is the watching process of ``runserver``'s autoreloader.

    Django decides to start the autoreloader with the same test, in
    ``ManagementUtility.execute()``: the subcommand is ``runserver`` and ``--noreload`` is not
    among the arguments. The child it starts has ``RUN_MAIN=true``.
    """
    return (
        len(argv) > 1
        and argv[1] == "runserver"
        and "--noreload" not in argv
        and not is_autoreloader_child(environ)
    )


def is_autoreloader_child(environ: Mapping[str, str]) -> bool:
    """Whether this process was started by the autoreloader (it serves, and reloads)."""
    return environ.get(AUTORELOAD_ENV) == "true"


def flush_before_reload(flush: Callable[[], None]) -> None:
    """Call ``flush`` whenever the autoreloader sees a file change, before it reloads."""
    from django.utils.autoreload import file_changed

    def flush_ahead(**kwargs: Any) -> None:
        # Returns None: a receiver returning True would cancel the reload.
        flush()

    file_changed.connect(
        flush_ahead, weak=False, dispatch_uid="signal_tracing.exporting.flush_before_reload"
    )
