"""``runserver``'s autoreloader: the process that only watches files exports nothing.

``manage.py runserver`` (without ``--noreload``) starts Django in a watching process that never
serves a request; it runs the same command again in a child with ``RUN_MAIN=true`` and
restarts that child whenever a file changes. Exporting from the watcher too would double every
log line about exporting and add its exit to every restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

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
        and environ.get(AUTORELOAD_ENV) != "true"
    )
