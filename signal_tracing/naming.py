"""Names for signals, receivers and senders: stable, low-cardinality, and safe to compute.

Nothing here calls ``repr()`` or ``str()`` on application objects, touches the database, or
evaluates lazy objects: names come from types, code objects and module dictionaries only.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any, Final, NamedTuple, cast

from django.dispatch import Signal

from signal_tracing.caches import BoundedCache

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
    path = vars(module).get("__file__")  # not getattr(): it would run a module __getattr__
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
        for module_name, module, namespace in loaded_modules(self._scanned):
            for attribute, value in namespace:
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


def loaded_modules(
    scanned: dict[str, int] | None = None,
) -> Iterator[tuple[str, ModuleType, list[tuple[str, Any]]]]:
    """Yield each imported module's name, the module, and a snapshot of its namespace.

    Only true modules (by ``type()``: a lazy object standing in ``sys.modules`` is never asked
    for its ``__class__``) whose namespace can be read. With ``scanned`` (module name -> id of
    the module object yielded before), modules already yielded are skipped and ``scanned`` is
    updated; a module imported again is a new object, and is yielded again.
    """
    for module_name, module in list(sys.modules.items()):
        if scanned is not None:
            if scanned.get(module_name) == id(module):
                continue
            scanned[module_name] = id(module)
        if not issubclass(type(module), ModuleType):
            continue
        try:
            namespace = vars(module)
        except TypeError:
            continue
        yield module_name, module, list(namespace.items())


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


#: Receivers whose identity is cached (functions and methods created on the fly are not
#: kept forever).
MAX_RECEIVER_IDENTITIES: Final = 10_000

# Cache keyed on the object that carries the code (function, or the type for instances), with
# a weakref to detect id reuse after garbage collection. Receivers that can't be weakly
# referenced are named afresh each time, which is cheap enough.
_identity_cache: Final[BoundedCache[int, tuple[weakref.ref[Any], ReceiverIdentity]]] = BoundedCache(
    MAX_RECEIVER_IDENTITIES
)


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
            _identity_cache.put(id(key_object), (weakref.ref(key_object), identity))
        return identity
    except Exception:
        return ReceiverIdentity(_type_path(type(receiver)), None, None)


# =================================================================================================
# Finding signals and receivers by the names people write.
#
# The test API (``assert_sent("post_save")``, ``receiver="sms.receivers.send_sms_code"``) and
# settings keys take names. Only modules already imported are looked at (importing one could
# connect receivers and change what the program does), and attributes are read statically with
# inspect.getattr_static, so a lookup never runs a property or a module ``__getattr__``.
# Owner: the testing API; the settings checks use it too.
# =================================================================================================

#: How many close matches a "did you mean" offers, and how close they must be (difflib ratio).
MAX_SUGGESTIONS: Final = 3
SUGGESTION_CUTOFF: Final = 0.75

_HOW_TO_NAME_A_SIGNAL: Final = (
    "Pass the signal object, its dotted path (such as 'django.db.models.signals.post_save') "
    "or the short name of a signal defined at module level (such as 'post_save')."
)


def find_loaded(dotted_path: str) -> object | None:
    """Return the object at ``dotted_path`` in an already imported module, or ``None``."""
    parts = dotted_path.split(".")
    for split in range(len(parts), 0, -1):
        value = sys.modules.get(".".join(parts[:split]))
        if value is None:
            continue
        for attribute in parts[split:]:
            try:
                value = inspect.getattr_static(value, attribute)
            except AttributeError:
                return None
        return value
    return None


def did_you_mean(suggestions: Sequence[str]) -> str:
    """Return ``Did you mean 'a', 'b' or 'c'?`` (for any misspelt name: settings keys too)."""
    quoted = [repr(suggestion) for suggestion in suggestions]
    if len(quoted) > 1:
        quoted[-2:] = [f"{quoted[-2]} or {quoted[-1]}"]
    return f"Did you mean {', '.join(quoted)}?"


def close_matches(word: str, possibilities: Iterable[str]) -> list[str]:
    """Return up to ``MAX_SUGGESTIONS`` of ``possibilities`` close to ``word``, best first."""
    return difflib.get_close_matches(
        word, sorted(set(possibilities)), n=MAX_SUGGESTIONS, cutoff=SUGGESTION_CUTOFF
    )


class SignalLookup(NamedTuple):
    """What a signal name written by a person names: one signal, or why not."""

    name: str
    signal: Signal | None
    #: The dotted paths of the signals a shared short name could mean.
    candidates: tuple[str, ...] = ()
    #: Close matches for a name that matches nothing, best first.
    suggestions: tuple[str, ...] = ()
    #: The module of a dotted path that names no imported module or object.
    not_imported: str | None = None

    @property
    def problem(self) -> str | None:
        """Say why the name does not resolve, and what to write instead (``None`` if it does)."""
        if self.signal is not None:
            return None
        if self.candidates:
            return (
                f"{self.name!r} is the name of {len(self.candidates)} loaded signals: "
                f"{', '.join(self.candidates)}. Give the dotted path of the one you mean."
            )
        head = f"No loaded signal is called {self.name!r}."
        if self.suggestions:
            return f"{head} {did_you_mean(self.suggestions)}"
        if self.not_imported is not None:
            return (
                f"{head} Nothing called {self.not_imported!r} is imported, and names are "
                "looked up without importing anything: import it first."
            )
        return head


def _path_suggestions(dotted_path: str, known: Sequence[tuple[SignalName, Signal]]) -> list[str]:
    # The right name in the wrong module ("django.core.signals.post_save") first; else the
    # paths of close short names, those in the module given first. Comparing whole paths would
    # call every signal of the same module close.
    module_path, _dot, short_name = dotted_path.rpartition(".")
    names = [short_name] if any(name.name == short_name for name, _signal in known) else []
    names = names or close_matches(short_name, (name.name for name, _signal in known))
    in_module_first = sorted(
        (name for name, _signal in known),
        key=lambda name: name.path.rpartition(".")[0] != module_path,
    )
    paths = [name.path for wanted in names for name in in_module_first if name.name == wanted]
    return paths[:MAX_SUGGESTIONS]


def lookup_signal(name: str) -> SignalLookup:
    """Find the signal ``name`` names: a dotted path (re-exports and class attributes too),
    or the short name of exactly one module-level signal in a loaded module.
    """
    known = registry.known_signals()
    if "." in name:
        for signal_name, signal in known:
            if signal_name.path == name:
                return SignalLookup(name, signal)
        found = find_loaded(name)
        # type(), never isinstance(): isinstance() would evaluate a lazy object.
        if found is not None and issubclass(type(found), Signal):
            return SignalLookup(name, cast("Signal", found))
        module_path = name.rpartition(".")[0]
        not_imported = module_path if find_loaded(module_path) is None else None
        return SignalLookup(
            name,
            None,
            suggestions=tuple(_path_suggestions(name, known)),
            not_imported=not_imported,
        )
    matches = [(signal_name, signal) for signal_name, signal in known if signal_name.name == name]
    if len(matches) == 1:
        return SignalLookup(name, matches[0][1])
    if matches:
        return SignalLookup(name, None, candidates=tuple(sorted(n.path for n, _s in matches)))
    suggestions = close_matches(name, (signal_name.name for signal_name, _signal in known))
    return SignalLookup(name, None, suggestions=tuple(suggestions))


def resolve_signal(signal: Signal | str) -> Signal:
    """Return the signal ``signal`` is or names; raise ``ValueError`` saying what to write."""
    __tracebackhide__ = True  # pytest: a misspelt name points at the test's own line
    if issubclass(type(signal), Signal):
        return cast("Signal", signal)
    if not issubclass(type(signal), str):
        raise TypeError(
            f"Expected a Signal, its dotted path or its short name, not {type(signal).__name__}."
        )
    lookup = lookup_signal(cast("str", signal))
    if lookup.signal is not None:
        return lookup.signal
    problem = lookup.problem
    if lookup.candidates or lookup.suggestions or lookup.not_imported:
        raise ValueError(problem)
    raise ValueError(f"{problem} {_HOW_TO_NAME_A_SIGNAL}")


def _unwrapped(member: object) -> object:
    # A class's __dict__ holds staticmethod and classmethod objects; the receiver that was
    # connected (and named in the records) is the function inside.
    if type(member) is staticmethod or type(member) is classmethod:
        return cast("staticmethod[..., Any]", member).__func__
    return member


def _receiver_suggestions(dotted_path: str) -> list[str]:
    owner_path, _dot, attribute = dotted_path.rpartition(".")
    owner = find_loaded(owner_path) if owner_path else None
    owner_type = type(owner)
    if owner is None or not (issubclass(owner_type, ModuleType) or issubclass(owner_type, type)):
        return []
    names = [
        member_name
        for member_name, member in list(vars(owner).items())
        if callable(_unwrapped(member)) and not member_name.startswith("__")
    ]
    return [f"{owner_path}.{member_name}" for member_name in close_matches(attribute, names)]


def resolve_receiver_name(receiver: Callable[..., Any] | str) -> str:
    """Return the dotted name the records use for ``receiver`` (a callable or its dotted path).

    Raise ``ValueError`` if the path names no callable in an imported module.
    """
    __tracebackhide__ = True
    if issubclass(type(receiver), str):
        found = find_loaded(cast("str", receiver))
        found = None if found is None else _unwrapped(found)
        if found is None or not callable(found):
            suggestions = _receiver_suggestions(cast("str", receiver))
            what_to_do = (
                did_you_mean(suggestions)
                if suggestions
                else "Pass the receiver itself, or its dotted path such as "
                "'sms.receivers.send_sms_code'."
            )
            raise ValueError(f"{receiver!r} is not a callable in an imported module. {what_to_do}")
        return receiver_identity(found).name
    if not callable(receiver):
        raise TypeError(f"Expected a receiver or its dotted path, not {type(receiver).__name__}.")
    return receiver_identity(receiver).name
