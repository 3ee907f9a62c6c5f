"""The patch on ``django.dispatch.Signal``: the module that touches the dispatcher's internals.

``send``, ``send_robust``, ``asend`` and ``asend_robust`` are replaced on the class (so every
instance, past and future, is covered). Each keeps Django's fast path, then follows one
skeleton: get the live receivers, ask ``firings.open_firing()`` what the firing needs, and run
the receivers, either with Django's own loop (nothing to record, or only a count: timed here,
added to in ``finally``; or a traced firing none of whose calls is tracked, its failures noted)
or with the same loop bracketed by ``enter``/``leave``, then ``finish`` in ``finally``.

Transparency: the receivers are called here, in the patched method's own frame (or, for
``asend``, in the function ``sync_to_async`` runs, and for async receivers in the task that
Django would run them in), so a receiver has exactly as many frames above it as under Django:
``warnings.warn(stacklevel=N)`` and ``inspect.stack()`` see the same callers. Every helper
called around a receiver returns before the receiver runs. Receivers get Django's arguments,
in Django's order and concurrency; results hold the original receiver objects; exceptions
propagate untouched (bare ``raise``); ``_log_robust_failure`` is called as Django calls it.
The one visible difference: tracebacks show this module's frame where Django's would show
``dispatcher.py`` (the frame that raised is the receiver's, as before).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Final

from asgiref.sync import async_to_sync, sync_to_async
from django.dispatch import Signal, dispatcher

from signal_tracing.firings import (
    Count,
    DroppedFiring,
    FiringNode,
    Method,
    UntracedFiring,
    now,
    open_firing,
    record_empty,
)
from signal_tracing.state import running

NO_RECEIVERS: Final = dispatcher.NO_RECEIVERS

# Django 6.1 runs a firing's async receivers with dispatcher._run_parallel: a TaskGroup of
# ``run(i, coroutine)`` tasks sharing ONE context, after the sync receivers finished. Django
# 5.2 and 6.0 use asyncio.gather (a task, and a context, per coroutine) and, in asend(), run
# the sync group concurrently with the async one. Delete the gather branches when Django 5.2
# support ends (April 2028; Django 6.0's ends in April 2027).
_run_parallel: Final[Callable[..., Any] | None] = getattr(dispatcher, "_run_parallel", None)
_restore_context: Final[Callable[..., None] | None] = getattr(dispatcher, "_restore_context", None)
SHARED_ASYNC_CONTEXT: Final = _run_parallel is not None

SEND: Final = Method("send", True, SHARED_ASYNC_CONTEXT)
SEND_ROBUST: Final = Method("send_robust", False, SHARED_ASYNC_CONTEXT)
ASEND: Final = Method("asend", True, SHARED_ASYNC_CONTEXT)
ASEND_ROBUST: Final = Method("asend_robust", False, SHARED_ASYNC_CONTEXT)
METHODS: Final = ("send", "send_robust", "asend", "asend_robust")

#: What ``open_firing`` returned for one firing.
Opened = FiringNode | UntracedFiring | DroppedFiring | Count | None


# --------------------------------------------------------------------------------------------
# The four replacements. Each starts with Django's own fast path, unchanged.


def send(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        if running.captures:
            record_empty(self, sender, named, SEND)
        return []
    sync_receivers, async_receivers = self._live_receivers(sender)
    firing = open_firing(self, sender, named, SEND, sync_receivers, async_receivers)
    started_ns = now() if isinstance(firing, list) else 0  # a Count: timed here
    error: BaseException | None = None
    try:
        responses = []
        if not isinstance(firing, FiringNode):  # Django's loop
            for receiver in sync_receivers:
                response = receiver(signal=self, sender=sender, **named)
                responses.append((receiver, response))
        elif firing.calls_untracked:  # no call of its own: Django's loop, failures noted
            for index, receiver in enumerate(sync_receivers):
                try:
                    response = receiver(signal=self, sender=sender, **named)
                except BaseException as exc:
                    firing.untracked_call_failed(index, exc)
                    raise
                responses.append((receiver, response))
            firing.entered = (1 << len(sync_receivers)) - 1  # every one of them ran
        else:
            for index, receiver in enumerate(sync_receivers):
                call = firing.enter(index)
                try:
                    response = receiver(signal=self, sender=sender, **named)
                except BaseException as exc:
                    firing.leave(call, exc)
                    raise
                firing.leave(call)
                responses.append((receiver, response))
        if async_receivers:
            responses.extend(
                async_to_sync(_send_async_group)(
                    firing, self, sender, named, async_receivers, len(sync_receivers)
                )
            )
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        if isinstance(firing, list):
            firing[0] += 1
            firing[1] += now() - started_ns
        elif firing is not None:
            firing.finish(error)


def send_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        if running.captures:
            record_empty(self, sender, named, SEND_ROBUST)
        return []
    sync_receivers, async_receivers = self._live_receivers(sender)
    firing = open_firing(self, sender, named, SEND_ROBUST, sync_receivers, async_receivers)
    started_ns = now() if isinstance(firing, list) else 0  # a Count: timed here
    error: BaseException | None = None
    try:
        responses = []
        if not isinstance(firing, FiringNode):  # Django's loop
            for receiver in sync_receivers:
                try:
                    response = receiver(signal=self, sender=sender, **named)
                except Exception as err:
                    self._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                    responses.append((receiver, err))
                else:
                    responses.append((receiver, response))
        elif firing.calls_untracked:  # no call of its own: Django's loop, failures noted
            for index, receiver in enumerate(sync_receivers):
                try:
                    response = receiver(signal=self, sender=sender, **named)
                except Exception as err:
                    try:
                        self._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                    finally:
                        firing.untracked_call_failed(index, err, handled=True)
                    responses.append((receiver, err))
                except BaseException as exc:
                    firing.untracked_call_failed(index, exc)
                    raise
                else:
                    responses.append((receiver, response))
            firing.entered = (1 << len(sync_receivers)) - 1  # every one of them ran
        else:
            for index, receiver in enumerate(sync_receivers):
                call = firing.enter(index)
                try:
                    response = receiver(signal=self, sender=sender, **named)
                except Exception as err:
                    try:
                        self._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                    finally:
                        firing.leave(call, err, handled=True)
                    responses.append((receiver, err))
                except BaseException as exc:
                    firing.leave(call, exc)
                    raise
                else:
                    firing.leave(call)
                    responses.append((receiver, response))
        if async_receivers:
            responses.extend(
                async_to_sync(_send_robust_async_group)(
                    firing, self, sender, named, async_receivers, len(sync_receivers)
                )
            )
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        if isinstance(firing, list):
            firing[0] += 1
            firing[1] += now() - started_ns
        elif firing is not None:
            firing.finish(error)


async def asend(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        if running.captures:
            record_empty(self, sender, named, ASEND)
        return []
    sync_receivers, async_receivers = self._live_receivers(sender)
    firing = open_firing(self, sender, named, ASEND, sync_receivers, async_receivers)
    started_ns = now() if isinstance(firing, list) else 0  # a Count: timed here
    error: BaseException | None = None
    try:
        if sync_receivers:
            sync_send = sync_to_async(_sync_group)(firing, self, sender, named, sync_receivers)
        else:
            sync_send = _no_responses()
        if _run_parallel is not None:
            responses = await sync_send
            coroutines = [
                receiver(signal=self, sender=sender, **named) for receiver in async_receivers
            ]
            if isinstance(firing, FiringNode):
                async_responses = await _run_parallel_traced(
                    firing, len(sync_receivers), *coroutines
                )
            else:
                async_responses = await _run_parallel(*coroutines)
        else:  # Django 5.2 and 6.0
            responses, async_responses = await asyncio.gather(
                sync_send,
                asyncio.gather(
                    *_tasks(firing, self, sender, named, async_receivers, len(sync_receivers))
                    if isinstance(firing, FiringNode)
                    else (
                        receiver(signal=self, sender=sender, **named)
                        for receiver in async_receivers
                    )
                ),
            )
        responses.extend(zip(async_receivers, async_responses))
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        if isinstance(firing, list):
            firing[0] += 1
            firing[1] += now() - started_ns
        elif firing is not None:
            firing.finish(error)


async def asend_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        if running.captures:
            record_empty(self, sender, named, ASEND_ROBUST)
        return []
    sync_receivers, async_receivers = self._live_receivers(sender)
    firing = open_firing(self, sender, named, ASEND_ROBUST, sync_receivers, async_receivers)
    started_ns = now() if isinstance(firing, list) else 0  # a Count: timed here
    error: BaseException | None = None
    try:
        if sync_receivers:
            sync_send = sync_to_async(_sync_group_robust)(
                firing, self, sender, named, sync_receivers
            )
        else:
            sync_send = _no_responses()
        offset = len(sync_receivers)
        if _run_parallel is not None:
            responses = await sync_send
            async_responses = await _run_parallel(
                *(
                    _asend_and_wrap_exception(firing, offset + index, self, receiver, sender, named)
                    for index, receiver in enumerate(async_receivers)
                )
            )
        else:  # Django 5.2 and 6.0
            responses, async_responses = await asyncio.gather(
                sync_send,
                asyncio.gather(
                    *(
                        _asend_and_wrap_exception(
                            firing, offset + index, self, receiver, sender, named
                        )
                        for index, receiver in enumerate(async_receivers)
                    )
                ),
            )
        responses.extend(zip(async_receivers, async_responses))
        return responses
    except BaseException as exc:
        error = exc
        raise
    finally:
        if isinstance(firing, list):
            firing[0] += 1
            firing[1] += now() - started_ns
        elif firing is not None:
            firing.finish(error)


# --------------------------------------------------------------------------------------------
# Receiver groups run elsewhere: in sync_to_async's thread, or as async tasks. Each keeps the
# frames Django has around the receiver: one function for the sync group (Django's
# ``sync_send``), nothing for a gathered coroutine, ``run`` for _run_parallel's tasks, and
# ``asend_and_wrap_exception`` for the robust methods' async receivers.


def _sync_group(
    firing: Opened, signal: Signal, sender: Any, named: dict[str, Any], receivers: list[Any]
) -> list[tuple[Any, Any]]:
    """``asend()``'s sync receivers (Django's ``sync_send``), run by ``sync_to_async``."""
    responses = []
    if not isinstance(firing, FiringNode):  # Django's loop
        for receiver in receivers:
            response = receiver(signal=signal, sender=sender, **named)
            responses.append((receiver, response))
        return responses
    for index, receiver in enumerate(receivers):
        call = firing.enter(index)
        try:
            response = receiver(signal=signal, sender=sender, **named)
        except BaseException as exc:
            firing.leave(call, exc)
            raise
        firing.leave(call)
        responses.append((receiver, response))
    return responses


def _sync_group_robust(
    firing: Opened, signal: Signal, sender: Any, named: dict[str, Any], receivers: list[Any]
) -> list[tuple[Any, Any]]:
    """``asend_robust()``'s sync receivers (Django's ``sync_send``), run by ``sync_to_async``."""
    responses = []
    if not isinstance(firing, FiringNode):  # Django's loop
        for receiver in receivers:
            try:
                response = receiver(signal=signal, sender=sender, **named)
            except Exception as err:
                signal._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
                responses.append((receiver, err))
            else:
                responses.append((receiver, response))
        return responses
    for index, receiver in enumerate(receivers):
        call = firing.enter(index)
        try:
            response = receiver(signal=signal, sender=sender, **named)
        except Exception as err:
            try:
                signal._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
            finally:
                firing.leave(call, err, handled=True)
            responses.append((receiver, err))
        except BaseException as exc:
            firing.leave(call, exc)
            raise
        else:
            firing.leave(call)
            responses.append((receiver, response))
    return responses


async def _no_responses() -> list[tuple[Any, Any]]:
    return []


async def _asend_and_wrap_exception(
    firing: Opened,
    index: int,
    signal: Signal,
    receiver: Any,
    sender: Any,
    named: dict[str, Any],
) -> Any:
    """One async receiver of a robust method: Django's ``asend_and_wrap_exception``."""
    traced = firing if isinstance(firing, FiringNode) else None
    call = traced.enter(index, not traced.shared_context) if traced is not None else None
    try:
        response = await receiver(signal=signal, sender=sender, **named)
    except Exception as err:
        try:
            signal._log_robust_failure(receiver, err)  # type: ignore[attr-defined]
        finally:
            if traced is not None:
                traced.leave(call, err, handled=True)
        return err
    except BaseException as exc:
        if traced is not None:
            traced.leave(call, exc)
        raise
    if traced is not None:
        traced.leave(call)
    return response


def _tasks(
    firing: FiringNode,
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    receivers: Sequence[Any],
    offset: int,
) -> list[asyncio.Task[Any]]:
    """One traced task per async receiver, for ``asyncio.gather`` (Django 5.2 and 6.0)."""
    loop = asyncio.get_running_loop()
    tasks = []
    for index, receiver in enumerate(receivers):
        coroutine = receiver(signal=signal, sender=sender, **named)
        task = firing.create_task(loop, offset + index, coroutine)
        # What gather() does to the tasks it creates: a task destroyed while pending (its loop
        # closed) is not reported.
        task._log_destroy_pending = False  # type: ignore[attr-defined]
        tasks.append(task)
    return tasks


async def _send_async_group(
    firing: Opened,
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    receivers: Sequence[Any],
    offset: int,
) -> zip[tuple[Any, Any]]:
    """``send()``'s async receivers, run by ``async_to_sync`` (Django's inner ``asend``)."""
    if _run_parallel is not None:
        coroutines = [receiver(signal=signal, sender=sender, **named) for receiver in receivers]
        if isinstance(firing, FiringNode):
            async_responses = await _run_parallel_traced(firing, offset, *coroutines)
        else:
            async_responses = await _run_parallel(*coroutines)
    elif isinstance(firing, FiringNode):  # Django 5.2 and 6.0
        async_responses = await asyncio.gather(
            *_tasks(firing, signal, sender, named, receivers, offset)
        )
    else:
        async_responses = await asyncio.gather(
            *(receiver(signal=signal, sender=sender, **named) for receiver in receivers)
        )
    return zip(receivers, async_responses)


async def _send_robust_async_group(
    firing: Opened,
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    receivers: Sequence[Any],
    offset: int,
) -> zip[tuple[Any, Any]]:
    """``send_robust()``'s async receivers, run by ``async_to_sync`` (Django's ``asend``)."""
    wrapped = (
        _asend_and_wrap_exception(firing, offset + index, signal, receiver, sender, named)
        for index, receiver in enumerate(receivers)
    )
    if _run_parallel is not None:
        async_responses = await _run_parallel(*wrapped)
    else:  # Django 5.2 and 6.0
        async_responses = await asyncio.gather(*wrapped)
    return zip(receivers, async_responses)


async def _run_parallel_traced(firing: FiringNode, offset: int, *coros: Any) -> list[Any]:
    """Django 6.1's ``_run_parallel``, with each receiver call bracketed inside ``run``.

    (Django 6.1 runs on Python 3.12+: TaskGroup and BaseExceptionGroup are there.)

    Same tasks, same shared context, same frame (``run``) between the task and the
    receiver's coroutine; the errors raised and the context restored as Django does.
    """
    assert _restore_context is not None
    context = contextvars.copy_context()

    if len(coros) == 0:
        return []

    async def run(i: int, coro: Any) -> None:
        call = firing.enter(offset + i, not firing.shared_context)
        try:
            results[i] = await coro
        except BaseException as exc:
            firing.leave(call, exc)
            raise
        firing.leave(call)

    try:
        async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined]
            results: list[Any] = [None] * len(coros)
            for i, coro in enumerate(coros):
                tg.create_task(run(i, coro), context=context)
        return results
    except BaseExceptionGroup as exception_group:  # type: ignore[name-defined]  # noqa: F821
        if len(exception_group.exceptions) == 1:
            raise exception_group.exceptions[0]  # noqa: B904  (as Django raises it)
        raise
    finally:
        _restore_context(context=context)


# --------------------------------------------------------------------------------------------
# Installing and removing the patch.

_REPLACEMENTS: Final[dict[str, Any]] = {
    "send": send,
    "send_robust": send_robust,
    "asend": asend,
    "asend_robust": asend_robust,
}

#: Signal's own methods, saved when the patch goes in, put back when it comes out.
_originals: Final[dict[str, Any]] = {}


def patch() -> None:
    """Replace the four sending methods on ``Signal`` (idempotent; caller holds state.lock)."""
    if _originals:
        return
    _originals.update({name: Signal.__dict__[name] for name in METHODS})
    for name in METHODS:
        setattr(Signal, name, _REPLACEMENTS[name])


def unpatch() -> None:
    """Put ``Signal``'s own methods back exactly (idempotent; caller holds state.lock)."""
    if not _originals:
        return
    for name in METHODS:
        setattr(Signal, name, _originals[name])
    _originals.clear()


def is_patched() -> bool:
    return bool(_originals)


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
