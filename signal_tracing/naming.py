"""Names for signals, receivers and senders: stable, low-cardinality, and safe to compute.

Nothing here calls ``repr()`` or ``str()`` on application objects, touches the database, or
evaluates lazy objects: names come from types, code objects and module dictionaries only.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import weakref
from collections.abc import Callable
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any, Final, NamedTuple

from django.dispatch import Signal

#: Django's built-in signals: (module that defines it, attribute, documented dotted path).
#: ``setting_changed`` is defined in ``django.core.signals`` but documented, and imported by
#: users, as ``django.test.signals.setting_changed``; the documented path wins.
BUILTIN_SIGNALS: Final = (
    ("django.db.models.signals", "pre_init", "django.db.models.signals.pre_init"),
    ("django.db.models.signals", "post_init", "django.db.models.signals.post_init"),
    ("django.db.models.signals", "pre_save", "django.db.models.signals.pre_save"),
    ("django.db.models.signals", "post_save", "django.db.models.signals.post_save"),
    ("django.db.models.signals", "pre_delete", "django.db.models.signals.pre_delete"),
    ("django.db.models.signals", "post_delete", "django.db.models.signals.post_delete"),
    ("django.db.models.signals", "m2m_changed", "django.db.models.signals.m2m_changed"),
    ("django.db.models.signals", "class_prepared", "django.db.models.signals.class_prepared"),
    ("django.db.models.signals", "pre_migrate", "django.db.models.signals.pre_migrate"),
    ("django.db.models.signals", "post_migrate", "django.db.models.signals.post_migrate"),
    ("django.core.signals", "request_started", "django.core.signals.request_started"),
    ("django.core.signals", "request_finished", "django.core.signals.request_finished"),
    ("django.core.signals", "got_request_exception", "django.core.signals.got_request_exception"),
    ("django.core.signals", "setting_changed", "django.test.signals.setting_changed"),
    ("django.test.signals", "template_rendered", "django.test.signals.template_rendered"),
    (
        "django.db.backends.signals",
        "connection_created",
        "django.db.backends.signals.connection_created",
    ),
)
BUILTIN_SIGNAL_PATHS: Final = tuple(path for _module, _attribute, path in BUILTIN_SIGNALS)

UNNAMED_SIGNAL: Final = "unnamed_signal"
TRUNCATED_MARK: Final = "…"
_MAX_LITERAL_SENDER = 64


class SignalName(NamedTuple):
    name: str
    path: str


def _defines(module: ModuleType, attribute: str) -> bool:
    """Whether the module's source assigns ``attribute = ...Signal(...)`` itself.

    Tells the defining module from those that import the signal (``django.utils.autoreload``
    defines ``autoreload_started``; ``django.template.autoreload`` only imports it).
    """
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read()
    except (OSError, UnicodeDecodeError):
        return False
    pattern = rf"^{re.escape(attribute)}\s*(?::[^=\n]*)?=\s*[\w.]*Signal\("
    return re.search(pattern, text, re.MULTILINE) is not None


def _module_rank(module: ModuleType, module_name: str, attribute: str) -> tuple[int, int, int, str]:
    # Prefer the module a signal is defined in; failing that, "<app>.signals" modules, then
    # the shortest path. Re-exports (``from .signals import x``) usually live in longer paths
    # or in package __init__ modules.
    last = module_name.rsplit(".", 1)[-1]
    return (
        0 if _defines(module, attribute) else 1,
        0 if last == "signals" else 1,
        module_name.count("."),
        module_name,
    )


class SignalRegistry:
    """Maps signal objects to their dotted path, found by scanning loaded modules.

    A scan looks only at module ``__dict__`` entries whose *type* is a Signal subclass, so lazy
    objects (``django.conf.settings``, ``SimpleLazyObject``) are never evaluated. Modules are
    scanned once; a lookup miss scans only the modules loaded since the last scan.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # module name -> id of the module object scanned under it (a re-imported module is a
        # new object, and is scanned again).
        self._scanned: dict[str, int] = {}
        # id(signal) -> (weakref to the signal, its name, rank); the weakref guards against id
        # reuse, the rank decides between modules that hold the same signal.
        self._names: dict[int, tuple[weakref.ref[Signal], SignalName, tuple[Any, ...]]] = {}

    def _remember(self, signal: Signal, name: SignalName, rank: tuple[Any, ...]) -> None:
        known = self._names.get(id(signal))
        if known is not None and known[0]() is signal and known[2] <= rank:
            return
        self._names[id(signal)] = (weakref.ref(signal), name, rank)

    def _register_builtins(self) -> None:
        # Only modules already imported: importing django.test.signals would connect its
        # receivers, which would change the application's behaviour.
        for index, (module_name, attribute, path) in enumerate(BUILTIN_SIGNALS):
            module = sys.modules.get(module_name)
            if module is None:
                continue
            signal = vars(module).get(attribute)
            if isinstance(signal, Signal):
                self._remember(signal, SignalName(attribute, path), (-1, index))

    def _scan_new_modules(self) -> None:
        for module_name, module in list(sys.modules.items()):
            if self._scanned.get(module_name) == id(module) or not isinstance(module, ModuleType):
                continue
            self._scanned[module_name] = id(module)
            try:
                namespace = vars(module)
            except TypeError:
                continue
            for attribute, value in list(namespace.items()):
                if issubclass(type(value), Signal) and not attribute.startswith("__"):
                    self._remember(
                        value,
                        SignalName(attribute, f"{module_name}.{attribute}"),
                        _module_rank(module, module_name, attribute),
                    )

    def name_of(self, signal: Signal) -> SignalName:
        """Return the signal's short name and dotted path (a stable fallback if unknown)."""
        known = self._names.get(id(signal))
        if known is not None and known[0]() is signal:
            return known[1]
        with self._lock:
            self._register_builtins()
            self._scan_new_modules()
            known = self._names.get(id(signal))
            if known is not None and known[0]() is signal:
                return known[1]
        signal_type = type(signal)
        return SignalName(
            UNNAMED_SIGNAL, f"{signal_type.__module__}.{signal_type.__qualname__}:{UNNAMED_SIGNAL}"
        )

    def known_signals(self) -> list[tuple[SignalName, Signal]]:
        """Return every signal found in loaded modules, sorted by dotted path."""
        with self._lock:
            self._register_builtins()
            self._scan_new_modules()
            found = [(name, ref()) for ref, name, _rank in self._names.values()]
        return sorted(
            ((name, signal) for name, signal in found if signal is not None),
            key=lambda item: item[0].path,
        )


registry: Final = SignalRegistry()


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + TRUNCATED_MARK


_FUNCTION_TYPES: Final = (FunctionType, BuiltinFunctionType, MethodType)


def _type_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def sender_label(sender: Any) -> str:
    """Return a short, safe label for a sender.

    Model classes give their label (``sms.SmsCode``), other classes their dotted path, short
    literals themselves, and any other object its type (``<sms.SmsCode instance>``): an
    arbitrary object's ``repr()`` may raise, hit the database or leak data.
    """
    if sender is None:
        return "None"
    sender_type = type(sender)
    if sender_type is str:
        return truncate(sender, _MAX_LITERAL_SENDER)
    if sender_type is int or sender_type is bool or sender_type is float:
        return str(sender)
    # Checks go through type(sender), never isinstance(): isinstance() reads __class__,
    # which evaluates lazy objects (SimpleLazyObject, django.conf.settings).
    if issubclass(sender_type, type):
        # Every model class has its own Options in its __dict__; reading it there avoids
        # metaclass __getattr__ hooks on other classes.
        label = getattr(sender.__dict__.get("_meta"), "label", None)
        return label if isinstance(label, str) else _type_path(sender)
    if issubclass(sender_type, ModuleType):
        return str(sender.__name__)
    if sender_type in _FUNCTION_TYPES:
        return receiver_identity(sender).name
    label = getattr(sender_type.__dict__.get("_meta"), "label", None)
    if isinstance(label, str):
        return f"<{label} instance>"
    return f"<{_type_path(sender_type)} instance>"


class ReceiverIdentity(NamedTuple):
    """What a receiver is called and where its code lives."""

    name: str
    file_path: str | None
    line_number: int | None


def _code_location(function: Any) -> tuple[str | None, int | None]:
    code = getattr(function, "__code__", None)
    if code is None:
        return None, None
    return code.co_filename, code.co_firstlineno


def _function_name(function: Any) -> str:
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if not isinstance(qualname, str):
        return _type_path(type(function))
    return f"{module}.{qualname}" if isinstance(module, str) else qualname


def _identify(receiver: Any) -> ReceiverIdentity:
    # Dispatch on type(receiver) only: mocks answer every attribute, and other objects may
    # raise from __getattribute__ or evaluate themselves when asked for __class__.
    receiver_type = type(receiver)
    if any(cls.__module__ == "unittest.mock" for cls in receiver_type.__mro__):
        return ReceiverIdentity(_type_path(receiver_type), None, None)
    if issubclass(receiver_type, functools.partial):
        inner = _identify(receiver.func)
        return ReceiverIdentity(f"functools.partial({inner.name})", *inner[1:])
    if receiver_type is MethodType:
        function = receiver.__func__
        return ReceiverIdentity(_function_name(function), *_code_location(function))
    if receiver_type is FunctionType or receiver_type is BuiltinFunctionType:
        return ReceiverIdentity(_function_name(receiver), *_code_location(receiver))
    if issubclass(receiver_type, type):
        return ReceiverIdentity(_type_path(receiver), None, None)
    call = getattr(receiver_type, "__call__", None)  # noqa: B004  (the code object, not callability)
    file_path, line_number = _code_location(call)
    return ReceiverIdentity(f"{_type_path(receiver_type)}.__call__", file_path, line_number)


# Cache keyed on the object that carries the code (function, or the type for instances), with
# a weakref to detect id reuse after garbage collection. Receivers that can't be weakly
# referenced are named afresh each time, which is cheap enough.
_identity_cache: dict[int, tuple[weakref.ref[Any], ReceiverIdentity]] = {}
_IDENTITY_CACHE_LIMIT: Final = 10_000


def _cache_key_object(receiver: Any) -> Any:
    receiver_type = type(receiver)
    if receiver_type is MethodType:  # a new bound method object each time: key its function
        return receiver.__func__
    if receiver_type is FunctionType:
        return receiver
    return None


def receiver_identity(receiver: Any) -> ReceiverIdentity:
    """Return the receiver's dotted name and code location, never raising."""
    try:
        key_object = _cache_key_object(receiver)
        if key_object is not None:
            cached = _identity_cache.get(id(key_object))
            if cached is not None and cached[0]() is key_object:
                return cached[1]
        identity = _identify(receiver)
        if key_object is not None:
            if len(_identity_cache) >= _IDENTITY_CACHE_LIMIT:
                _identity_cache.clear()
            _identity_cache[id(key_object)] = (weakref.ref(key_object), identity)
        return identity
    except Exception:
        return ReceiverIdentity(_type_path(type(receiver)), None, None)


def describe_callable(function: Callable[..., Any]) -> str:
    """Return ``module.qualname`` for a callable, used where a short label is enough."""
    return receiver_identity(function).name


# --------------------------------------------------------------------------------------------
# From what a user wrote to the signals it names: a dotted path (any path the signal can be
# imported from) or the short name of a module-level signal. Used by the setting's POLICIES
# keys (conf, checks); the test API resolves the same way.


class SignalLookup(NamedTuple):
    """What a signal's dotted path or short name resolved to."""

    #: The signals named: none, one, or several when a short name is shared.
    signals: tuple[Signal, ...]
    #: Why nothing was found ("cannot be imported (...)", "is a ModelBase, not a ..."), if so.
    problem: str | None = None
    #: Dotted paths of known signals close to what was written, best first.
    suggestions: tuple[str, ...] = ()


def _loaded_object(dotted_path: str) -> Any:
    """Return the object at ``dotted_path`` in an already imported module, or ``None``.

    Module attributes are read from the module's ``__dict__`` (no module ``__getattr__``
    hook runs) and only classes are looked into further, so nothing lazy is evaluated.
    """
    parts = dotted_path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            continue
        value: Any = vars(module).get(parts[split])
        for attribute in parts[split + 1 :]:
            if value is None or not issubclass(type(value), type):
                return None
            value = getattr(value, attribute, None)
        return value
    return None


def _close_paths(text: str, known: list[tuple[SignalName, Signal]]) -> tuple[str, ...]:
    import difflib

    if "." in text:
        candidates = sorted({name.path for name, _signal in known})
        return tuple(difflib.get_close_matches(text, candidates, n=1, cutoff=0.8))
    by_name: dict[str, list[str]] = {}
    for name, _signal in known:
        by_name.setdefault(name.name, []).append(name.path)
    close = difflib.get_close_matches(text, sorted(by_name), n=1, cutoff=0.7)
    return tuple(path for short in close for path in sorted(by_name[short]))


def find_signals(text: str, *, importing: bool = False) -> SignalLookup:
    """Return the signals that ``text``, a dotted path or a short name, names.

    A dotted path may be any path the signal is reachable at (``django.core.signals.
    setting_changed`` and ``django.test.signals.setting_changed`` name the same signal). Only
    loaded modules are looked at unless ``importing`` is true (system checks): importing a
    module can connect receivers or prepare models, which sends signals.
    """
    if "." not in text:
        known = registry.known_signals()
        found: dict[int, Signal] = {id(s): s for name, s in known if name.name == text}
        if found:
            return SignalLookup(tuple(found.values()))
        return SignalLookup((), "is not the name of a signal", _close_paths(text, known))
    target = _loaded_object(text)
    if target is None and importing:
        from django.utils.module_loading import import_string

        try:
            target = import_string(text)
        except Exception as error:  # ImportError, or whatever importing the module raised
            return SignalLookup(
                (),
                f"cannot be imported ({error})",
                _close_paths(text, registry.known_signals()),
            )
    if target is None:
        return SignalLookup(
            (), "names nothing loaded", _close_paths(text, registry.known_signals())
        )
    if not issubclass(type(target), Signal):
        return SignalLookup((), f"is a {type(target).__name__}, not a django.dispatch.Signal")
    return SignalLookup((target,))
