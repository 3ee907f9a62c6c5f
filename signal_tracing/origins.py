"""Send sites: where a firing came from, read from the calling frames' code objects.

The send site of a firing is the first frame, walking out from the ``send*()`` call, whose code
is neither plumbing nor, for a model's save and delete signals, the model's own ``save()`` /
``delete()``: the app's ``instance.save()`` line for ``post_save``, the ``override_settings``
line for ``setting_changed``, the ``pizza_done.send(...)`` line for a custom signal.

Plumbing is code that only passes the call on: Django, signal_tracing, asgiref (the
sync/async bridges), and the standard library's call forwarders (``contextlib``,
``functools``, ``asyncio``, ``concurrent.futures``, ``threading``). Other libraries are not
plumbing: when a library sends (a factory's ``create()``, a WSGI server's ``close()``), its
line is where the signal came from.

Only code objects and line numbers are read (``f_code``, ``f_lineno``, ``f_lasti``,
``f_back``), plus a module's ``__name__`` and, for a method named ``save`` or ``delete``, its
class, both looked up once per code object in the frame's globals. Never a local variable,
never ``repr()``. What is learnt about a code object, and the site of each instruction, is
cached; the walk itself allocates nothing once its sites are known.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import sys
import threading
from types import CodeType, FrameType, FunctionType
from typing import Any, Final

import asgiref
import django
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from opentelemetry.util.types import AttributeValue

import signal_tracing
from signal_tracing import attributes as attrs
from signal_tracing.caches import BoundedCache
from signal_tracing.paths import short_path


def _package_root(module: Any) -> str:
    return os.path.dirname(str(module.__file__)) + os.sep


#: Files of code that only passes a call on: a prefix (directory) or a whole file.
PLUMBING: Final = (
    _package_root(django),
    _package_root(signal_tracing),
    _package_root(asgiref),
    _package_root(asyncio),
    _package_root(concurrent.futures),
    contextlib.__file__,
    functools.__file__,
    threading.__file__,
)

#: A model's methods on the way from ``instance.save()`` or ``.delete()`` to the signal.
MODEL_METHODS: Final = frozenset({"save", "save_base", "asave", "delete", "adelete"})

#: Signals sent from inside ``Model.save()`` and ``delete()``: overrides of those are skipped.
_SAVE_AND_DELETE_SIGNALS: Final = frozenset(
    id(signal) for signal in (pre_save, post_save, pre_delete, post_delete)
)

#: Code objects and instruction sites are as many as the program's code: bounded anyway, for
#: programs that compile code at run time.
MAX_CODES: Final = 8192
MAX_SITES: Final = 8192


class SendSite:
    """Where a firing came from: one line of one function.

    One object per location while it is cached (see :func:`send_site`), so that firings from
    one line share it and it is compared and hashed by identity: a storm count's key costs
    no call of ours.
    """

    __slots__ = (
        "__weakref__",
        "compact_attributes",
        "file_path",
        "full_attributes",
        "function_name",
        "line_number",
        "qualname",
        "short_path",
    )

    def __init__(self, file_path: str, line_number: int, function_name: str, qualname: str) -> None:
        #: The file's path as Python knows it (``code.co_filename``).
        self.file_path = file_path
        #: The line running the call (1-based); 0 when Python knows none.
        self.line_number = line_number
        #: The function's module-qualified name: ``sms.views.bulk_resend``.
        self.function_name = function_name
        #: The function's qualified name within its module: ``bulk_resend``, ``Kitchen.bake``.
        self.qualname = qualname
        #: The path relative to its import root: ``sms/views.py``.
        self.short_path = short_path(file_path)
        #: The span attributes that carry it (built once per site; do not change), for
        #: each value of SEND_SITE_ATTRIBUTES: one attribute, or the code.*-shaped three.
        self.compact_attributes: dict[str, AttributeValue] = {attrs.SEND_SITE: self.describe()}
        self.full_attributes: dict[str, AttributeValue] = {
            attrs.SEND_SITE_FILE_PATH: file_path,
            attrs.SEND_SITE_LINE_NUMBER: line_number,
            attrs.SEND_SITE_FUNCTION_NAME: function_name,
        }

    @property
    def location(self) -> str:
        """``sms/views.py:42``"""
        return f"{self.short_path}:{self.line_number}"

    def describe(self) -> str:
        """``sms/views.py:42 in bulk_resend``"""
        return f"{self.location} in {self.qualname}"

    def __repr__(self) -> str:
        return f"<SendSite {self.describe()}>"


class _CodeFacts:
    """What the walk needs to know about one code object."""

    __slots__ = ("code", "function_name", "model_method", "plumbing", "qualname")

    def __init__(self, code: CodeType, frame: FrameType) -> None:
        # Holding the code object keeps its id from naming another one while cached.
        self.code = code
        self.plumbing = code.co_filename.startswith(PLUMBING)
        self.qualname = _qualname(code, frame)
        module = _global(frame.f_globals, "__name__")
        # type() is, never isinstance(): isinstance falls back to ``__class__``, which
        # evaluates a lazy object standing in the module's globals.
        prefix = f"{module}." if type(module) is str else ""
        self.function_name = prefix + self.qualname
        self.model_method = (
            not self.plumbing
            and code.co_name in MODEL_METHODS
            and _is_model_method(code, self.qualname, frame.f_globals)
        )


def _qualname(code: CodeType, frame: FrameType) -> str:
    """``code``'s qualified name (``SmsCode.save``, ``view.<locals>.place``)."""
    qualname: str | None = getattr(code, "co_qualname", None)
    if qualname is not None:
        return qualname
    # Code objects carry their qualified name since Python 3.11. Before, a method's is found
    # among the classes of its module's globals: the one in whose body this code is a
    # function. Never through the frame's locals (reading f_locals would store the app's
    # objects on the frame and keep them alive). Types and class dictionaries only, so nothing
    # of the application's runs; once per code object, as the facts are cached. tuple() copies
    # the values in one step, safe from another thread adding a global meanwhile.
    namespace = frame.f_globals
    if issubclass(type(namespace), dict):
        for value in tuple(dict.values(namespace)):
            if issubclass(type(value), type):
                function = vars(value).get(code.co_name)
                if type(function) is FunctionType and function.__code__ is code:
                    return str(function.__qualname__)
    return code.co_name


def _global(namespace: dict[str, Any], name: str) -> object:
    # dict.get, not namespace.get: never a method of the application's.
    return dict.get(namespace, name) if issubclass(type(namespace), dict) else None


def _is_model_method(code: CodeType, qualname: str, namespace: dict[str, Any]) -> bool:
    """Whether ``code`` is a method defined in a model class's body (``SmsCode.save``)."""
    *class_path, method_name = qualname.split(".")
    if not class_path or "<locals>" in class_path:
        return False
    owner = _global(namespace, class_path[0])
    for name in class_path[1:]:
        owner = vars(owner).get(name) if _is_class(owner) else None
    if not _is_class(owner) or not any(base is Model for base in owner.__mro__):  # type: ignore[attr-defined]
        return False
    method = vars(owner).get(method_name)
    return type(method) is FunctionType and method.__code__ is code


def _is_class(value: object) -> bool:
    # issubclass on the value's real type: isinstance(value, type) would read a lazy
    # object's ``__class__`` and evaluate it.
    return issubclass(type(value), type)


_codes: Final[BoundedCache[int, _CodeFacts]] = BoundedCache(MAX_CODES)
#: (id(code), f_lasti) -> (code, its site): one entry per call instruction that sent.
_sites: Final[BoundedCache[tuple[int, int], tuple[CodeType, SendSite]]] = BoundedCache(MAX_SITES)
#: (file, line, function) -> its site: two call instructions on one line share one site.
_locations: Final[BoundedCache[tuple[str, int, str], SendSite]] = BoundedCache(MAX_SITES)


def send_site(signal: object) -> SendSite | None:
    """Return where the ``send*()`` call running ``signal``'s firing came from.

    Call it from the firing's prologue only (``firings.start_firing``): the three frames
    above it (``start_firing``, ``open_firing`` or ``record_empty``, then the patched
    ``send*()``) are signal_tracing's and skipped unread (reading a frame costs Python a frame
    object); the walk skips Django's and the other plumbing after them. ``None`` when no frame
    qualifies (the sender runs in a thread ``sync_to_async`` started, whose caller is in
    another thread, or in a task with nothing awaiting it).
    """
    skip_model_methods = id(signal) in _SAVE_AND_DELETE_SIGNALS
    frame: FrameType | None = sys._getframe(4)
    while frame is not None:
        code = frame.f_code
        facts = _codes.get(id(code))
        if facts is None or facts.code is not code:
            facts = _codes.put(id(code), _CodeFacts(code, frame))
        if not (facts.plumbing or (skip_model_methods and facts.model_method)):
            entry = _sites.get((id(code), frame.f_lasti))
            if entry is None or entry[0] is not code:
                entry = _new_site(frame, code, facts)
            return entry[1]
        frame = frame.f_back
    return None


def _new_site(frame: FrameType, code: CodeType, facts: _CodeFacts) -> tuple[CodeType, SendSite]:
    location = (code.co_filename, frame.f_lineno or 0, facts.function_name)
    site = _locations.get(location)
    if site is None:
        site = _locations.put(location, SendSite(*location, facts.qualname))
    return _sites.put((id(code), frame.f_lasti), (code, site))


def clear_caches() -> None:
    """Forget every code object and site (tests; a program that unloads code)."""
    _codes.clear()
    _sites.clear()
    _locations.clear()
