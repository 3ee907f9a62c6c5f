"""The patch on ``django.dispatch.Signal``: the only module that touches Django internals.

``send``, ``send_robust``, ``asend`` and ``asend_robust`` are replaced on the class (so every
instance, past and future, is covered) by functions that keep Django's fast path byte for byte
and, when a firing is traced, run Django's own receiver loop with ``firings`` bracketing each
call. The originals are kept and put back exactly when nobody needs the patch any more.

Transparency rules followed here: receivers are called with exactly Django's arguments, in
Django's order and concurrency; results hold the original receiver objects; exceptions
propagate untouched (bare ``raise``); ``_log_robust_failure`` is called as Django calls it.
The one visible difference: tracebacks show this module's frame where Django's would show
``dispatcher.py`` (the frame that raised is the receiver's, as before).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final, Protocol

from asgiref.sync import async_to_sync, sync_to_async
from django.dispatch import Signal, dispatcher

from signal_tracing import firings
from signal_tracing.conf import Config
from signal_tracing.nesting import current_node
from signal_tracing.recording import active_recordings
from signal_tracing.spans import SpanEmitter

NO_RECEIVERS: Final = dispatcher.NO_RECEIVERS
METHODS: Final = ("send", "send_robust", "asend", "asend_robust")

# Django 6.0 runs a firing's async receivers with asyncio.TaskGroup in ONE shared context
# (dispatcher._run_parallel) and runs sync receivers before async ones; Django 5.2 uses
# asyncio.gather (a context per task) and runs the sync group concurrently with the async one.
# Delete the 5.2 branches when Django 5.2 support ends (April 2028).
_run_parallel: Final[Callable[..., Awaitable[list[Any]]] | None] = getattr(
    dispatcher, "_run_parallel", None
)
SHARED_ASYNC_CONTEXT: Final = _run_parallel is not None


async def _parallel(*coroutines: Awaitable[Any]) -> list[Any]:
    if _run_parallel is not None:
        return await _run_parallel(*coroutines)
    return await asyncio.gather(*coroutines)  # Django 5.2


async def _sync_then_async(
    sync_send: Callable[[], Awaitable[list[Any]]], coroutines: Sequence[Awaitable[Any]]
) -> tuple[list[Any], list[Any]]:
    if _run_parallel is not None:
        responses = await sync_send()
        return responses, await _run_parallel(*coroutines)
    responses, async_responses = await asyncio.gather(  # Django 5.2
        sync_send(), asyncio.gather(*coroutines)
    )
    return responses, async_responses


def _send_plain(self: Signal, sender: Any, named: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Django's ``send()`` after its fast path, unchanged: for firings nobody traces.

    Calling the original method instead would repeat the fast path, whose
    ``WeakKeyDictionary`` lookup is a large share of a per-row pre_init/post_init firing.
    """
    responses = []
    sync_receivers, async_receivers = self._live_receivers(sender)
    for receiver in sync_receivers:
        response = receiver(signal=self, sender=sender, **named)
        responses.append((receiver, response))
    if async_receivers:

        async def asend() -> Any:
            async_responses = await _parallel(
                *(receiver(signal=self, sender=sender, **named) for receiver in async_receivers)
            )
            return zip(async_receivers, async_responses)

        responses.extend(async_to_sync(asend)())
    return responses


def _send_counted(signal: Signal, sender: Any, named: dict[str, Any]) -> list[tuple[Any, Any]]:
    node = current_node.get()
    recordings = active_recordings.get()
    if node is None and not recordings:
        return _send_plain(signal, sender, named)
    started = firings.now()
    try:
        return _send_plain(signal, sender, named)
    finally:
        elapsed_ns = firings.now() - started
        # The common case, inlined (this runs once per row loaded): the innermost node with a
        # span already counts this signal and sender, and no recording wants it. Guarded like
        # all tracer code: an error here must never replace what the receivers raised.
        try:
            target = node
            while target is not None and target.span is None:
                target = target.parent
            counts = target.counts if target is not None else None
            entry = counts.get((id(signal), id(sender))) if counts and not recordings else None
            if entry is not None:
                entry[0] += 1
                entry[1] += elapsed_ns
            else:
                firings.add_count(node, signal, sender, elapsed_ns)
        except Exception:
            firings.report_tracer_failure("counting")


# --------------------------------------------------------------------------------------------
# The four replacements. Each starts with Django's own fast path, unchanged.


def send(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        return []
    hook = _hooks.get(id(self))
    if hook is not None:
        return _hooked(hook, _send_traced, self, sender, named, "send")
    # pre_init/post_init fire once per row loaded: their (count-policy) path is kept short.
    info = firings.infos.get(id(self))
    if (
        info is not None
        and info.policy is firings.COUNT_POLICY
        and not firings.state.captures
        and info.ref() is self
    ):
        return _send_counted(self, sender, named)
    return _send_traced(self, sender, named)


def _send_traced(self: Signal, sender: Any, named: dict[str, Any]) -> list[tuple[Any, Any]]:
    mode, info, label, spans_wanted = firings.route(self, sender)
    if mode == firings.PLAIN:
        return _send_plain(self, sender, named)
    assert info is not None
    if mode == firings.COUNT:
        return _send_counted(self, sender, named)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if firings.state.captures:
            firings.record_empty(self, sender, named, "send")
        return []
    firing = firings.start(
        info,
        self,
        sender,
        label,
        "send",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
        SHARED_ASYNC_CONTEXT and len(async_receivers) > 1,
    )
    error: BaseException | None = None
    try:
        responses = []
        for index, receiver in enumerate(sync_receivers):
            frame = firing.enter(index)
            try:
                response = receiver(signal=self, sender=sender, **named)
            except BaseException as exc:
                firing.leave(frame, exc, False)
                firing.skipped(range(index + 1, len(sync_receivers) + len(async_receivers)))
                raise
            firing.leave(frame, None, False)
            responses.append((receiver, response))
        if async_receivers:
            offset = len(sync_receivers)

            async def asend() -> Any:
                async_responses = await _parallel(
                    *(
                        _awaited(
                            firing,
                            offset + index,
                            receiver(signal=self, sender=sender, **named),
                        )
                        for index, receiver in enumerate(async_receivers)
                    )
                )
                return zip(async_receivers, async_responses)

            responses.extend(async_to_sync(asend)())
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        firing.finish(error)


def send_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        return []
    hook = _hooks.get(id(self))
    if hook is not None:
        return _hooked(hook, _send_robust_traced, self, sender, named, "send_robust")
    return _send_robust_traced(self, sender, named)


def _send_robust_traced(self: Signal, sender: Any, named: dict[str, Any]) -> list[tuple[Any, Any]]:
    mode, info, label, spans_wanted = firings.route(self, sender)
    if mode == firings.PLAIN:
        return _state.originals["send_robust"](self, sender, **named)  # type: ignore[no-any-return]
    assert info is not None
    if mode == firings.COUNT:
        node = current_node.get()
        started = time.perf_counter_ns()
        try:
            return _state.originals["send_robust"](self, sender, **named)  # type: ignore[no-any-return]
        finally:
            firings.add_count(node, self, sender, time.perf_counter_ns() - started)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if firings.state.captures:
            firings.record_empty(self, sender, named, "send_robust")
        return []
    firing = firings.start(
        info,
        self,
        sender,
        label,
        "send_robust",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
        SHARED_ASYNC_CONTEXT and len(async_receivers) > 1,
    )
    error: BaseException | None = None
    try:
        responses = []
        for index, receiver in enumerate(sync_receivers):
            frame = firing.enter(index)
            try:
                response = receiver(signal=self, sender=sender, **named)
            except Exception as err:
                try:
                    self._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                finally:
                    firing.leave(frame, err, True)
                responses.append((receiver, err))
            except BaseException as exc:
                firing.leave(frame, exc, False)
                raise
            else:
                firing.leave(frame, None, False)
                responses.append((receiver, response))
        if async_receivers:
            offset = len(sync_receivers)

            async def asend_and_wrap_exception(index: int, receiver: Any) -> Any:
                frame = firing.enter(offset + index, not firing.shared_context)
                try:
                    response = await receiver(signal=self, sender=sender, **named)
                except Exception as err:
                    try:
                        self._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                    finally:
                        firing.leave(frame, err, True)
                    return err
                except BaseException as exc:
                    firing.leave(frame, exc, False)
                    raise
                firing.leave(frame, None, False)
                return response

            async def asend() -> Any:
                async_responses = await _parallel(
                    *(
                        asend_and_wrap_exception(index, receiver)
                        for index, receiver in enumerate(async_receivers)
                    )
                )
                return zip(async_receivers, async_responses)

            responses.extend(async_to_sync(asend)())
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        firing.finish(error)


async def _awaited(
    firing: firings.Firing | firings.NullFiring, index: int, awaitable: Awaitable[Any]
) -> Any:
    """Await one async receiver's coroutine inside its receiver call."""
    frame = firing.enter(index, not firing.shared_context)
    try:
        response = await awaitable
    except BaseException as exc:
        firing.leave(frame, exc, False)
        raise
    firing.leave(frame, None, False)
    return response


async def asend(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        return []
    hook = _hooks.get(id(self))
    if hook is not None:
        return await _hooked_async(hook, _asend_traced, self, sender, named, "asend")
    return await _asend_traced(self, sender, named)


async def _asend_traced(self: Signal, sender: Any, named: dict[str, Any]) -> list[tuple[Any, Any]]:
    mode, info, label, spans_wanted = firings.route(self, sender)
    if mode == firings.PLAIN:
        return await _state.originals["asend"](self, sender, **named)  # type: ignore[no-any-return]
    assert info is not None
    if mode == firings.COUNT:
        node = current_node.get()
        started = time.perf_counter_ns()
        try:
            return await _state.originals["asend"](self, sender, **named)  # type: ignore[no-any-return]
        finally:
            firings.add_count(node, self, sender, time.perf_counter_ns() - started)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if firings.state.captures:
            firings.record_empty(self, sender, named, "asend")
        return []
    firing = firings.start(
        info,
        self,
        sender,
        label,
        "asend",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
        SHARED_ASYNC_CONTEXT and len(async_receivers) > 1,
    )
    error: BaseException | None = None
    try:
        sync_send: Callable[[], Awaitable[list[Any]]]
        if sync_receivers:

            @sync_to_async
            def sync_send() -> list[Any]:
                responses = []
                for index, receiver in enumerate(sync_receivers):
                    frame = firing.enter(index)
                    try:
                        response = receiver(signal=self, sender=sender, **named)
                    except BaseException as exc:
                        firing.leave(frame, exc, False)
                        if _run_parallel is not None:  # Django 6: async ones never start
                            firing.skipped(
                                range(index + 1, len(sync_receivers) + len(async_receivers))
                            )
                        else:
                            firing.skipped(range(index + 1, len(sync_receivers)))
                        raise
                    firing.leave(frame, None, False)
                    responses.append((receiver, response))
                return responses

        else:

            async def sync_send() -> list[Any]:
                return []

        offset = len(sync_receivers)
        responses, async_responses = await _sync_then_async(
            sync_send,
            _LazyCoroutines(
                lambda: [
                    _awaited(firing, offset + index, receiver(signal=self, sender=sender, **named))
                    for index, receiver in enumerate(async_receivers)
                ]
            ),
        )
        responses.extend(zip(async_receivers, async_responses))
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        firing.finish(error)


async def asend_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        return []
    hook = _hooks.get(id(self))
    if hook is not None:
        return await _hooked_async(hook, _asend_robust_traced, self, sender, named, "asend_robust")
    return await _asend_robust_traced(self, sender, named)


async def _asend_robust_traced(
    self: Signal, sender: Any, named: dict[str, Any]
) -> list[tuple[Any, Any]]:
    mode, info, label, spans_wanted = firings.route(self, sender)
    if mode == firings.PLAIN:
        return await _state.originals["asend_robust"](self, sender, **named)  # type: ignore[no-any-return]
    assert info is not None
    if mode == firings.COUNT:
        node = current_node.get()
        started = time.perf_counter_ns()
        try:
            return await _state.originals["asend_robust"](self, sender, **named)  # type: ignore[no-any-return]
        finally:
            firings.add_count(node, self, sender, time.perf_counter_ns() - started)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if firings.state.captures:
            firings.record_empty(self, sender, named, "asend_robust")
        return []
    firing = firings.start(
        info,
        self,
        sender,
        label,
        "asend_robust",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
        SHARED_ASYNC_CONTEXT and len(async_receivers) > 1,
    )
    error: BaseException | None = None
    try:
        sync_send: Callable[[], Awaitable[list[Any]]]
        if sync_receivers:

            @sync_to_async
            def sync_send() -> list[Any]:
                responses = []
                for index, receiver in enumerate(sync_receivers):
                    frame = firing.enter(index)
                    try:
                        response = receiver(signal=self, sender=sender, **named)
                    except Exception as err:
                        try:
                            self._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                        finally:
                            firing.leave(frame, err, True)
                        responses.append((receiver, err))
                    except BaseException as exc:
                        firing.leave(frame, exc, False)
                        raise
                    else:
                        firing.leave(frame, None, False)
                        responses.append((receiver, response))
                return responses

        else:

            async def sync_send() -> list[Any]:
                return []

        offset = len(sync_receivers)

        async def asend_and_wrap_exception(index: int, receiver: Any) -> Any:
            frame = firing.enter(offset + index, not firing.shared_context)
            try:
                response = await receiver(signal=self, sender=sender, **named)
            except Exception as err:
                try:
                    self._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                finally:
                    firing.leave(frame, err, True)
                return err
            except BaseException as exc:
                firing.leave(frame, exc, False)
                raise
            firing.leave(frame, None, False)
            return response

        responses, async_responses = await _sync_then_async(
            sync_send,
            _LazyCoroutines(
                lambda: [
                    asend_and_wrap_exception(index, receiver)
                    for index, receiver in enumerate(async_receivers)
                ]
            ),
        )
        responses.extend(zip(async_receivers, async_responses))
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        firing.finish(error)


class _LazyCoroutines(Sequence[Coroutine[Any, Any, Any]]):
    """Builds the async receivers' coroutines only when unpacked.

    Django 6 calls the async receivers after the sync group finished (a sync receiver that
    raises means they are never called); Django 5.2 calls them right away, concurrently.
    Unpacking with ``*`` at the point Django does keeps both behaviours.
    """

    def __init__(self, build: Callable[[], list[Coroutine[Any, Any, Any]]]) -> None:
        self._build = build
        self._built: list[Coroutine[Any, Any, Any]] | None = None

    def _items(self) -> list[Coroutine[Any, Any, Any]]:
        if self._built is None:
            self._built = self._build()
        return self._built

    def __getitem__(self, index: Any) -> Any:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Any:
        return iter(self._items())


# Firing hooks: lifecycle scopes (the request span) open before a firing's receivers run and
# close after them, whatever the signal's policy.


class FiringHook(Protocol):
    """Called around every firing of one signal that has live receivers."""

    def before(self, signal: Signal, sender: Any, named: dict[str, Any], method: str) -> Any:
        """Run before the receivers; the return value is passed to :meth:`after`."""

    def after(self, state: Any, error: BaseException | None) -> None:
        """Run after the receivers (``error`` is what propagated, if anything)."""


_hooks: dict[int, FiringHook] = {}


def set_hook(signal: Signal, hook: FiringHook | None) -> None:
    """Install (or with ``None`` remove) the hook around ``signal``'s firings."""
    if hook is None:
        _hooks.pop(id(signal), None)
    else:
        _hooks[id(signal)] = hook


def _hook_before(
    hook: FiringHook, signal: Signal, sender: Any, named: dict[str, Any], method: str
) -> tuple[bool, Any]:
    try:
        return True, hook.before(signal, sender, named, method)
    except Exception:
        firings.report_tracer_failure(f"the {type(hook).__name__} hook")
        return False, None


def _hook_after(hook: FiringHook, state: Any, error: BaseException | None) -> None:
    try:
        hook.after(state, error)
    except Exception:
        firings.report_tracer_failure(f"the {type(hook).__name__} hook")


def _hooked(
    hook: FiringHook,
    traced: Callable[[Signal, Any, dict[str, Any]], list[tuple[Any, Any]]],
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    method: str,
) -> list[tuple[Any, Any]]:
    ok, state = _hook_before(hook, signal, sender, named, method)
    error: BaseException | None = None
    try:
        return traced(signal, sender, named)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if ok:
            _hook_after(hook, state, error)


async def _hooked_async(
    hook: FiringHook,
    traced: Callable[[Signal, Any, dict[str, Any]], Awaitable[list[tuple[Any, Any]]]],
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    method: str,
) -> list[tuple[Any, Any]]:
    ok, state = _hook_before(hook, signal, sender, named, method)
    error: BaseException | None = None
    try:
        return await traced(signal, sender, named)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if ok:
            _hook_after(hook, state, error)


# While a test capture is active, these variants are installed instead: they also record
# firings that take Django's fast path, so nothing changes for code outside captures.


def capturing_send(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        firings.record_empty(self, sender, named, "send")
        return []
    return send(self, sender, **named)


def capturing_send_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        firings.record_empty(self, sender, named, "send_robust")
        return []
    return send_robust(self, sender, **named)


async def capturing_asend(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        firings.record_empty(self, sender, named, "asend")
        return []
    return await asend(self, sender, **named)


async def capturing_asend_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        firings.record_empty(self, sender, named, "asend_robust")
        return []
    return await asend_robust(self, sender, **named)


# --------------------------------------------------------------------------------------------
# Installing and removing the patch.

_REPLACEMENTS: Final[dict[str, Any]] = {
    "send": send,
    "send_robust": send_robust,
    "asend": asend,
    "asend_robust": asend_robust,
}


class _PatchState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        #: Signal's own methods, saved when the patch goes in, put back when it comes out.
        self.originals: dict[str, Any] = {}
        self.installed: dict[str, Any] | None = None


_state: Final = _PatchState()


_CAPTURING_REPLACEMENTS: Final[dict[str, Any]] = {
    "send": capturing_send,
    "send_robust": capturing_send_robust,
    "asend": capturing_asend,
    "asend_robust": capturing_asend_robust,
}


def _sync_patch() -> None:
    # Caller holds _state.lock.
    wanted = firings.state.emitter is not None or firings.state.captures > 0
    if not wanted:
        if _state.installed is not None:
            for name in METHODS:
                setattr(Signal, name, _state.originals[name])
            _state.installed = None
        return
    replacements = _CAPTURING_REPLACEMENTS if firings.state.captures else _REPLACEMENTS
    if _state.installed is replacements:
        return
    if _state.installed is None:
        _state.originals = {name: Signal.__dict__[name] for name in METHODS}
    for name in METHODS:
        setattr(Signal, name, replacements[name])
    _state.installed = replacements


def is_patched() -> bool:
    return _state.installed is not None


def start_tracing(emitter: SpanEmitter, config: Config) -> None:
    with _state.lock:
        firings.configure(config)
        firings.state.emitter = emitter
        _sync_patch()


def stop_tracing() -> None:
    with _state.lock:
        firings.state.emitter = None
        _sync_patch()


def reconfigure(config: Config) -> None:
    """Use ``config`` for the firings from now on."""
    with _state.lock:
        firings.configure(config)


def acquire_capture() -> None:
    """Keep the patch installed and record firings without receivers until released."""
    with _state.lock:
        firings.state.captures += 1
        _sync_patch()


def release_capture() -> None:
    with _state.lock:
        firings.state.captures = max(firings.state.captures - 1, 0)
        _sync_patch()


# --------------------------------------------------------------------------------------------
# Reading what is connected (for ``manage.py signal_map``), without calling anything.

#: The key ``Signal.connect()`` stores for a receiver or sender (``(id(self), id(func))`` for
#: bound methods, ``id()`` otherwise), and the one it stores for "any sender".
lookup_key: Final[Callable[[Any], Any]] = dispatcher._make_id  # type: ignore[attr-defined]
NO_SENDER_KEY: Final = dispatcher.NONE_ID


@dataclasses.dataclass(frozen=True)
class ConnectionEntry:
    """One entry of ``Signal.receivers``, in a layout that doesn't depend on Django's version."""

    lookup_key: tuple[Any, Any]
    receiver: Any  # the receiver, or a weak reference to it
    sender: Any  # the sender object when Django kept a weak reference to it, else None
    is_async: bool


def connection_entries(signal: Signal) -> list[ConnectionEntry]:
    """Copy ``signal.receivers`` under the signal's own lock.

    Django 5.2 stores ``(lookup_key, receiver_or_ref, is_async)``; Django 6.0 added a weak
    reference to the sender: ``(lookup_key, receiver_or_ref, sender_ref, is_async)``.
    Delete the 3-tuple branch when Django 5.2 support ends (April 2028).
    """
    with signal.lock:
        stored = list(signal.receivers)
    entries = []
    for item in stored:
        if len(item) == 4:
            key, receiver, sender_ref, is_async = item
            sender = sender_ref() if sender_ref is not None else None
            if sender_ref is not None and sender is None:
                continue  # the sender was collected: Django drops this entry on next connect
        else:  # Django 5.2
            key, receiver, is_async = item
            sender = None
        entries.append(ConnectionEntry(key, receiver, sender, bool(is_async)))
    return entries
