"""Request, management command, test and start-up scopes: the roots our spans hang from.

``instrumentation.apply_settings()`` calls :func:`install` on every (re)configuration and
:func:`uninstall` when tracing stops. Both are idempotent; :func:`uninstall` puts every patched
Django attribute back (see ``patches.py``) and removes the firing hooks. One module per scope kind:

- ``requests``: a span from before ``request_started``'s receivers to after
  ``request_finished``'s (``REQUEST_SPANS``);
- ``commands``: a span per management command (``COMMAND_SPANS``);
- ``testcases``: a span per test, :func:`test_scope` for the pytest plugin (``TEST_SPANS``);
- ``startup``: the ``django.setup`` span, observed or honestly reported missed.
"""

from __future__ import annotations

import threading
from typing import Final

from signal_tracing.conf import Config
from signal_tracing.lifecycle import commands, requests, startup, testcases
from signal_tracing.lifecycle.scopes import TestScope
from signal_tracing.lifecycle.testcases import test_scope

__all__ = ["TestScope", "install", "test_scope", "uninstall"]

_lock: Final = threading.RLock()


def install(config: Config) -> None:
    """Install the hooks and patches ``config`` asks for, and remove the others."""
    with _lock:
        startup.begin()
        if config.request_spans:
            requests.install()
        else:
            requests.uninstall()
        if config.command_spans:
            commands.install()
        else:
            commands.uninstall()
        testcases.sync_patch()


def uninstall() -> None:
    """Remove every hook and patch, and end the spans that nothing else would end."""
    with _lock:
        requests.uninstall()
        commands.uninstall()
        testcases.uninstall()
        startup.end()
