"""Every Django class attribute that lifecycle replaces, in one place, and how it goes back.

Signals alone cannot carry a request's route and status (``request_finished`` is sent with the
handler class only), see a cancelled ASGI request, or mark where a management command or a
test begins and ends. So besides the dispatcher's firing hooks, lifecycle wraps these five
methods, each a documented or long-stable entry point that every Django version we support
defines on exactly this class:

- ``BaseHandler.get_response`` / ``get_response_async``: the request and its response, for
  ``http.route`` and the status code;
- ``ASGIHandler.__call__``: closes a request span that a cancelled task never finished;
- ``BaseCommand.execute``: a span per management command (``run_from_argv`` and
  ``call_command`` both go through it);
- ``SimpleTestCase.__call__``: a span per test under Django's test runner (patched only once
  ``django.test`` is imported by someone else: importing it connects ``setting_changed``
  receivers, which would change a production process).

A wrapper calls the original with the same arguments and returns or raises exactly what it
does. :meth:`ClassPatch.uninstall` puts the original function object back; if another library
wrapped ours in the meantime, ours stays in its chain but passes straight through.

One more reach into a response: :func:`call_on_close` adds a closer to a traced request's
response, so that its thread's context is restored even if tracing stops before the server
closes it (the response outlives the patches; nothing else of ours would run then).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any, Final


class ClassPatch:
    """One replaced attribute of one Django class."""

    def __init__(
        self, module: str, class_name: str, attribute: str, *, only_if_imported: bool = False
    ) -> None:
        self.module = module
        self.class_name = class_name
        self.attribute = attribute
        self.only_if_imported = only_if_imported
        self.owner: type | None = None
        self.original: Any = None
        self.wrapper: Any = None
        #: Read by wrappers on every call: False means "pass straight through".
        self.active = False

    def __repr__(self) -> str:
        return f"<ClassPatch {self.module}.{self.class_name}.{self.attribute}>"

    def _owner(self) -> type | None:
        module = sys.modules.get(self.module)
        if module is None:
            if self.only_if_imported:
                return None
            module = importlib.import_module(self.module)
        owner = getattr(module, self.class_name, None)
        return owner if isinstance(owner, type) else None

    def install(self, wrap: Callable[[Any], Any]) -> bool:
        """Replace the attribute with ``wrap(original)``; return whether the patch is in place."""
        if self.active:
            return True
        if self.wrapper is not None:
            # An earlier uninstall could not restore (another library wrapped ours): our
            # wrapper is still in the chain, so switch it back on rather than wrap twice.
            self.active = True
            return True
        owner = self._owner()
        if owner is None or self.attribute not in owner.__dict__:
            return False
        self.owner = owner
        self.original = owner.__dict__[self.attribute]
        self.wrapper = wrap(self.original)
        setattr(owner, self.attribute, self.wrapper)
        self.active = True
        return True

    def uninstall(self) -> None:
        """Put the original back, unless someone wrapped ours since (then ours goes inert)."""
        self.active = False
        owner = self.owner
        if owner is None:
            return
        if owner.__dict__.get(self.attribute) is self.wrapper:
            setattr(owner, self.attribute, self.original)
            self.owner = None
            self.original = None
            self.wrapper = None


def call_on_close(response: Any, callback: Callable[[], None]) -> None:
    """Have ``response.close()`` call ``callback``, whether or not tracing is still on then.

    Django closes a response's resources through its ``_resource_closers`` list (since Django
    3.0; ``FileResponse`` closes its file this way), before it sends ``request_finished``, and
    ignores what a closer raises. A response without the list is left alone.
    """
    closers = getattr(response, "_resource_closers", None)
    if isinstance(closers, list):
        closers.append(callback)


GET_RESPONSE: Final = ClassPatch("django.core.handlers.base", "BaseHandler", "get_response")
GET_RESPONSE_ASYNC: Final = ClassPatch(
    "django.core.handlers.base", "BaseHandler", "get_response_async"
)
ASGI_CALL: Final = ClassPatch("django.core.handlers.asgi", "ASGIHandler", "__call__")
COMMAND_EXECUTE: Final = ClassPatch("django.core.management.base", "BaseCommand", "execute")
TEST_CASE_CALL: Final = ClassPatch(
    "django.test.testcases", "SimpleTestCase", "__call__", only_if_imported=True
)

ALL: Final = (GET_RESPONSE, GET_RESPONSE_ASYNC, ASGI_CALL, COMMAND_EXECUTE, TEST_CASE_CALL)
