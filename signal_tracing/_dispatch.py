"""The patch on ``django.dispatch.Signal``: the only module that touches Django internals.

``send``, ``send_robust``, ``asend`` and ``asend_robust`` are replaced on the class (so every
instance, past and future, is covered) by functions that keep Django's fast path byte for byte
and, when a firing is traced, run Django's own receiver loop with a record (and span) around
each call. Originals are kept and put back exactly by :func:`release`.

Transparency rules followed here: receivers are called with exactly Django's arguments, in
Django's order and concurrency; results hold the original receiver objects; exceptions
propagate untouched (bare ``raise``); ``_log_robust_failure`` is called as Django calls it;
records never hold the signal, sender, receiver or kwargs objects (unless a test capture asks).
Tracer failures are logged once and the firing continues untraced.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final, Protocol

from asgiref.sync import async_to_sync, sync_to_async
from django.dispatch import Signal, dispatcher
from opentelemetry.trace import Span

from signal_tracing import attributes as attrs
from signal_tracing import spans
from signal_tracing.attributes import kwargs_attributes, matches_any, template_name
from signal_tracing.conf import Config
from signal_tracing.naming import ReceiverIdentity, receiver_identity, registry, sender_label
from signal_tracing.nesting import Node, current_node, depth_and_reentrancy
from signal_tracing.recording import Recording, active_recordings
from signal_tracing.records import DispatchRecord, Outcome, Policy, ReceiverCall, SentObjects
from signal_tracing.spans import SpanEmitter

logger = logging.getLogger("signal_tracing")

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


# --------------------------------------------------------------------------------------------
# State: who needs the patch, and with which configuration.


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.originals: dict[str, Any] = {}
        self.installed: dict[str, Any] | None = None
        self.emitter: SpanEmitter | None = None
        self.config = Config()
        #: Active test captures; while any exists, firings with no receivers are recorded too.
        self.captures = 0
        self.failures_logged: set[str] = set()


_state: Final = _State()


class _SignalInfo:
    """Per-signal facts worth caching: its names, its policy, and labels of its senders."""

    __slots__ = ("attributes", "name", "path", "policy", "ref", "senders")

    def __init__(self, signal: Signal, config: Config) -> None:
        self.ref = weakref.ref(signal)
        self.name, self.path = registry.name_of(signal)
        self.policy = config.policy_for(self.path)
        self.attributes = {attrs.SIGNAL_NAME: self.name, attrs.SIGNAL_PATH: self.path}
        # id(sender) -> (weakref to sender, label, excluded)
        self.senders: dict[int, tuple[weakref.ref[Any], str, bool]] = {}


_infos: dict[int, _SignalInfo] = {}
_SENDER_CACHE_LIMIT: Final = 4096


def _signal_info(signal: Signal) -> _SignalInfo:
    info = _infos.get(id(signal))
    if info is None or info.ref() is not signal:
        info = _infos[id(signal)] = _SignalInfo(signal, _state.config)
    return info


def _sender_facts(info: _SignalInfo, sender: Any) -> tuple[str, bool]:
    entry = info.senders.get(id(sender))
    if entry is not None and entry[0]() is sender:
        return entry[1], entry[2]
    label = sender_label(sender)
    excluded = _excluded_senders.get(label)
    if excluded is None:
        if len(_excluded_senders) >= _SENDER_CACHE_LIMIT:
            _excluded_senders.clear()
        excluded = _excluded_senders[label] = matches_any(label, _state.config.exclude_senders)
    try:
        reference = weakref.ref(sender)
    except TypeError:  # None, str, int...: cheap to label every time
        return label, excluded
    if len(info.senders) >= _SENDER_CACHE_LIMIT:
        info.senders.clear()
    info.senders[id(sender)] = (reference, label, excluded)
    return label, excluded


#: Sender label -> excluded by EXCLUDE_SENDERS (labels are low-cardinality by construction).
_excluded_senders: dict[str, bool] = {}


class _ReceiverFacts:
    """Per-receiver facts worth caching: its identity, exclusion and span attributes."""

    __slots__ = ("attributes", "excluded", "identity")

    def __init__(self, identity: ReceiverIdentity, config: Config) -> None:
        self.identity = identity
        self.excluded = matches_any(identity.name, config.exclude_receivers)
        self.attributes: dict[str, Any] = {attrs.CODE_FUNCTION_NAME: identity.name}
        if identity.file_path is not None:
            self.attributes[attrs.CODE_FILE_PATH] = identity.file_path
        if identity.line_number is not None:
            self.attributes[attrs.CODE_LINE_NUMBER] = identity.line_number


_receiver_facts_cache: dict[ReceiverIdentity, _ReceiverFacts] = {}


def _receiver_facts(receiver: Any) -> _ReceiverFacts:
    identity = receiver_identity(receiver)
    facts = _receiver_facts_cache.get(identity)
    if facts is None:
        if len(_receiver_facts_cache) >= _SENDER_CACHE_LIMIT:
            _receiver_facts_cache.clear()
        facts = _receiver_facts_cache[identity] = _ReceiverFacts(identity, _state.config)
    return facts


def report_tracer_failure(where: str) -> None:
    """Log a tracer-internal failure once per place; the application call goes on."""
    if where in _state.failures_logged:
        logger.debug("signal_tracing failed again in %s", where, exc_info=True)
        return
    _state.failures_logged.add(where)
    logger.warning(
        "signal_tracing failed in %s; the signal was sent normally but this firing's record "
        "is incomplete. Further failures here are logged at DEBUG level.",
        where,
        exc_info=True,
    )


# --------------------------------------------------------------------------------------------
# Routing: what to do with one firing.

_COUNT_POLICY: Final = Policy.COUNT
_PLAIN: Final = 0
_COUNT: Final = 1
_TRACE: Final = 2


def _route(signal: Signal, sender: Any) -> tuple[int, _SignalInfo | None, str, bool]:
    """Decide what to do with a firing: (mode, signal facts, sender label, spans wanted)."""
    try:
        info = _signal_info(signal)
        recordings = active_recordings.get()
        emitter = _state.emitter
        if _state.captures and any(recording.everything for recording in recordings):
            label, excluded = _sender_facts(info, sender)
            spans_wanted = (
                emitter is not None
                and not excluded
                and info.policy is Policy.SPAN
                and not emitter.parent_is_sampled_out()
            )
            return _TRACE, info, label, spans_wanted
        policy = info.policy
        if policy is Policy.OFF:
            return _PLAIN, None, "", False
        if policy is Policy.COUNT:
            # Counts land on an enclosing node of ours that has a span (which implies it is
            # sampled) or in a recording: with neither, there is nothing to do. This is the
            # per-row path of every queryset, so it avoids even the sampling check.
            if not recordings and current_node.get() is None:
                return _PLAIN, None, "", False
            return _COUNT, info, "", False
        label, excluded = _sender_facts(info, sender)
        if excluded:
            return _PLAIN, None, "", False
        spans_wanted = emitter is not None and not emitter.parent_is_sampled_out()
        if not recordings and not spans_wanted:
            return _PLAIN, None, "", False
        return _TRACE, info, label, spans_wanted
    except Exception:
        report_tracer_failure("routing")
        return _PLAIN, None, "", False


def _add_count(node: Node | None, signal: Signal, sender: Any, elapsed_ns: int) -> None:
    """Count one firing of a count-policy signal on the enclosing span and recordings."""
    try:
        # The innermost node with a span (Node.count_target, inlined: this runs per row).
        target = node
        while target is not None and target.span is None:
            target = target.parent
        if target is not None:
            counts = target.counts
            if counts is None:
                counts = target.counts = {}
            key = (id(signal), id(sender))
            entry = counts.get(key)
            if entry is not None:  # the sender is alive, so its id still names it
                entry[0] += 1
                entry[1] += elapsed_ns
            else:
                info = _signal_info(signal)
                label, excluded = _sender_facts(info, sender)
                counts[key] = [1, elapsed_ns, info.name, None if excluded else label]
        recordings = active_recordings.get()
        if recordings:
            info = _signal_info(signal)
            label, excluded = _sender_facts(info, sender)
            if not excluded:
                for recording in recordings:
                    recording.add_count(info.name, info.path, label, elapsed_ns)
    except Exception:
        report_tracer_failure("counting")


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
    started = _now()
    try:
        return _send_plain(signal, sender, named)
    finally:
        elapsed_ns = _now() - started
        # The common case, inlined (this runs once per row loaded): the innermost node with a
        # span already counts this signal and sender, and no recording wants it.
        target = node
        while target is not None and target.span is None:
            target = target.parent
        counts = target.counts if target is not None else None
        entry = counts.get((id(signal), id(sender))) if counts and not recordings else None
        if entry is not None:
            entry[0] += 1
            entry[1] += elapsed_ns
        else:
            _add_count(node, signal, sender, elapsed_ns)


_now: Final = time.perf_counter_ns


# --------------------------------------------------------------------------------------------
# A traced firing.


class _Call(Node):
    """The node of one running receiver call."""

    __slots__ = ("call", "node_token", "otel_token", "owns_span")

    def __init__(self, parent: Node, span: Span | None, call: ReceiverCall | None) -> None:
        super().__init__(parent, span)
        self.call = call
        self.node_token: Any = None
        self.otel_token: Any = None
        self.owns_span = False

    def current_call(self) -> ReceiverCall | None:
        return self.call


class _Firing(Node):
    """The node of one traced firing; enters and leaves its receiver calls."""

    __slots__ = (
        "broken",
        "facts",
        "handled_errors",
        "key",
        "merged",
        "node_token",
        "otel_token",
        "record",
        "record_messages",
        "recordings",
        "shared_context",
        "sync_count",
    )

    def __init__(self, parent: Node | None, key: tuple[int, int], record: DispatchRecord) -> None:
        super().__init__(parent, None)
        self.key = key
        self.record = record
        self.facts: list[_ReceiverFacts] = []
        self.merged = False
        self.shared_context = False
        self.broken = False
        self.handled_errors = 0
        self.node_token: Any = None
        self.otel_token: Any = None
        self.recordings: tuple[Recording, ...] = ()
        self.record_messages = False
        self.sync_count = 0

    def firing_key(self) -> tuple[int, int] | None:
        return self.key

    def current_call(self) -> ReceiverCall | None:
        return None

    def enter(self, index: int, attach: bool = True) -> _Call | None:
        if self.broken:
            return None
        try:
            fact = self.facts[index]
            if fact.excluded:
                return None
            is_async = index >= self.sync_count
            record: ReceiverCall | None = None
            if self.recordings:  # records of calls are only read by recordings
                identity = fact.identity
                record = ReceiverCall(
                    self.record, identity.name, identity.file_path, identity.line_number, is_async
                )
                self.record.calls.append(record)
            span: Span | None = None
            owns_span = False
            if self.span is not None:
                if self.merged:
                    span = self.span
                elif self.take_span_slot(_state.config.max_spans_per_trace):
                    span = self._start_receiver_span(fact, is_async)
                    owns_span = True
            frame = _Call(self, None if self.merged else span, record)
            frame.owns_span = owns_span
            if attach:
                frame.node_token = current_node.set(frame)
                if span is not None:
                    frame.otel_token = spans.attach(span)
            if record is not None:
                record.start_ns = time.perf_counter_ns()
            return frame
        except Exception:
            self.broken = True
            report_tracer_failure("entering a receiver call")
            return None

    def _start_receiver_span(self, fact: _ReceiverFacts, is_async: bool) -> Span:
        assert _state.emitter is not None
        attributes = fact.attributes
        if is_async:
            attributes = {**attributes, attrs.RECEIVER_ASYNC: True}
        return _state.emitter.start(
            attrs.RECEIVER_SPAN_NAME.format(receiver=fact.identity.name), attributes, self.span
        )

    def leave(self, frame: _Call | None, error: BaseException | None, handled: bool) -> None:
        if frame is None:
            return
        try:
            outcome = Outcome.OK
            if error is not None:
                outcome = Outcome.HANDLED if handled else _failure_outcome(error)
                if handled:
                    self.handled_errors += 1
            call = frame.call
            if call is not None:
                call.end_ns = time.perf_counter_ns()
                call.outcome = outcome
                if error is not None:
                    call.error_type = f"{type(error).__module__}.{type(error).__qualname__}"
            span = frame.span if frame.owns_span else None
            if span is not None:
                spans.flush_node(frame)
                if error is not None:
                    spans.record_error(span, error, record_message=self.record_messages)
                    span.set_attribute(attrs.RECEIVER_OUTCOME, outcome.value)
                span.end()
            elif self.merged and error is not None and self.span is not None:
                spans.record_error(self.span, error, record_message=self.record_messages)
        except Exception:
            self.broken = True
            report_tracer_failure("leaving a receiver call")
        finally:
            _reset_tokens(frame)

    def skipped(self, indexes: range) -> None:
        """Record receivers that never ran because an earlier one raised in ``send()``."""
        try:
            for index in indexes:
                fact = self.facts[index]
                if fact.excluded:
                    continue
                identity = fact.identity
                is_async = index >= self.sync_count
                call = ReceiverCall(
                    self.record, identity.name, identity.file_path, identity.line_number, is_async
                )
                call.outcome = Outcome.NOT_RUN
                self.record.calls.append(call)
        except Exception:
            report_tracer_failure("recording receivers not run")

    def finish(self, error: BaseException | None) -> None:
        try:
            record = self.record
            record.end_ns = time.perf_counter_ns()
            record.outcome = Outcome.OK if error is None else _failure_outcome(error)
            span = self.span
            if span is not None:
                not_run = record.not_run_count if error is not None else 0
                if not_run:
                    span.set_attribute(attrs.SIGNAL_RECEIVERS_NOT_RUN, not_run)
                if self.handled_errors:
                    span.set_attribute(attrs.SIGNAL_RECEIVERS_FAILED, self.handled_errors)
                if error is not None and not self.merged:
                    spans.record_error(span, error, record_message=self.record_messages)
                spans.flush_node(self)
                span.end()
        except Exception:
            report_tracer_failure("finishing a firing")
        finally:
            _reset_tokens(self)


def _failure_outcome(error: BaseException) -> Outcome:
    return Outcome.CANCELLED if isinstance(error, asyncio.CancelledError) else Outcome.RAISED


def _reset_tokens(node: _Call | _Firing) -> None:
    # Tokens are reset in the context that set them; a ValueError means the context changed
    # under us (a receiver switched contexts), and the value is then left as Django left it.
    if node.otel_token is not None:
        try:
            spans.detach(node.otel_token)
        except Exception:
            report_tracer_failure("restoring the OpenTelemetry context")
        node.otel_token = None
    if node.node_token is not None:
        try:
            current_node.reset(node.node_token)
        except Exception:
            report_tracer_failure("restoring the current firing")
        node.node_token = None


class _NullFiring:
    """Stands in for a firing the tracer could not set up: receivers run untraced."""

    shared_context = False

    def enter(self, index: int, attach: bool = True) -> None:
        return None

    def leave(self, frame: _Call | None, error: BaseException | None, handled: bool) -> None:
        return None

    def skipped(self, indexes: range) -> None:
        return None

    def finish(self, error: BaseException | None) -> None:
        return None


_NULL: Final = _NullFiring()


def _start(
    info: _SignalInfo,
    signal: Signal,
    sender: Any,
    label: str,
    method: str,
    named: dict[str, Any],
    sync_receivers: Sequence[Any],
    async_receivers: Sequence[Any],
    spans_wanted: bool,
) -> _Firing | _NullFiring:
    try:
        config = _state.config
        recordings = active_recordings.get()
        facts = [_receiver_facts(receiver) for receiver in sync_receivers]
        if async_receivers:
            facts += [_receiver_facts(receiver) for receiver in async_receivers]
        visible = len(facts)
        for fact in facts:
            if fact.excluded:
                visible -= 1
        template = named.get("template") if config.exclude_templates else None
        if (visible == 0 and facts) or (
            template is not None
            and matches_any(template_name(template) or "", config.exclude_templates)
        ):
            # Hidden (the toolbar's own work, say): only a test capture still wants it.
            if not any(recording.everything for recording in recordings):
                return _NULL
            spans_wanted = False
        parent = current_node.get()
        key = (id(signal), id(sender))
        depth, reentrant = depth_and_reentrancy(parent, key)
        record = DispatchRecord(
            info.name,
            info.path,
            label,
            method,
            info.policy,
            depth,
            reentrant,
            parent.current_call() if parent is not None else None,
        )
        record.receiver_count = visible
        if parent is not None:
            if record.parent_call is not None:
                record.parent_call.children.append(record)
            elif isinstance(parent, _Firing):  # sent from concurrent async receivers
                record.parent_dispatch = parent.record
                parent.record.children.append(record)
        record.attributes = (
            kwargs_attributes(named, config.max_attribute_length, config.record_kwargs)
            if named
            else {}
        )
        firing = _Firing(parent, key, record)
        firing.facts = facts
        firing.sync_count = len(sync_receivers)
        firing.recordings = recordings
        firing.record_messages = config.record_exception_messages
        firing.shared_context = SHARED_ASYNC_CONTEXT and len(async_receivers) > 1
        if (
            spans_wanted
            and visible
            and info.policy is Policy.SPAN
            and firing.take_span_slot(config.max_spans_per_trace)
        ):
            firing.merged = (
                visible == 1 and config.merge_single_receiver and method in _MERGING_METHODS
            )
            firing.span = _start_firing_span(firing, record, info)
            if recordings:
                span_ids = spans.ids(firing.span)
                if span_ids is not None:
                    record.trace_id, record.span_id = span_ids
        if firing.shared_context:
            # Concurrent receivers share one context on Django 6: none of them may make its
            # own call current, so whatever they send nests under the firing instead. In every
            # other case only our own code runs between receiver calls, and each call makes
            # itself current, so the firing itself never needs to be.
            firing.node_token = current_node.set(firing)
            if firing.span is not None:
                firing.otel_token = spans.attach(firing.span)
        if recordings:
            keep_objects = False
            for recording in recordings:
                recording.add(record)
                keep_objects = keep_objects or recording.keep_objects
            if keep_objects:
                record.objects = SentObjects(signal, sender, named)
        record.start_ns = time.perf_counter_ns()
        return firing
    except Exception:
        report_tracer_failure("starting a firing")
        return _NULL


_MERGING_METHODS: Final = frozenset({"send", "asend"})


def _start_firing_span(firing: _Firing, record: DispatchRecord, info: _SignalInfo) -> Span:
    attributes: dict[str, Any] = {
        **info.attributes,
        attrs.SIGNAL_SENDER: record.sender_label,
        attrs.SIGNAL_METHOD: record.method,
        attrs.SIGNAL_RECEIVERS: record.receiver_count,
        attrs.SIGNAL_DEPTH: record.depth,
    }
    if record.reentrant:
        attributes[attrs.SIGNAL_REENTRANT] = True
    if record.attributes:
        attributes.update(record.attributes)
    emitter = _state.emitter
    assert emitter is not None
    if firing.merged:
        index = next(index for index, fact in enumerate(firing.facts) if not fact.excluded)
        fact = firing.facts[index]
        attributes.update(fact.attributes)
        if index >= firing.sync_count:
            attributes[attrs.RECEIVER_ASYNC] = True
        name = attrs.MERGED_SPAN_NAME.format(signal=info.name, receiver=fact.identity.name)
    else:
        name = attrs.DISPATCH_SPAN_NAME.format(signal=info.name, method=record.method)
    return emitter.start(name, attributes)


def _record_empty(signal: Signal, sender: Any, named: dict[str, Any], method: str) -> None:
    """Record a firing that found no live receivers (test captures only)."""
    try:
        if not any(recording.everything for recording in active_recordings.get()):
            return
        info = _signal_info(signal)
        label = _sender_facts(info, sender)[0]
        firing = _start(info, signal, sender, label, method, named, (), (), False)
        firing.finish(None)
    except Exception:
        report_tracer_failure("recording a firing without receivers")


# --------------------------------------------------------------------------------------------
# The four replacements. Each starts with Django's own fast path, unchanged.


def send(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        return []
    hook = _hooks.get(id(self))
    if hook is not None:
        return _hooked(hook, _send_traced, self, sender, named, "send")
    # pre_init/post_init fire once per row loaded: their (count-policy) path is kept short.
    info = _infos.get(id(self))
    if (
        info is not None
        and info.policy is _COUNT_POLICY
        and not _state.captures
        and info.ref() is self
    ):
        return _send_counted(self, sender, named)
    return _send_traced(self, sender, named)


def _send_traced(self: Signal, sender: Any, named: dict[str, Any]) -> list[tuple[Any, Any]]:
    mode, info, label, spans_wanted = _route(self, sender)
    if mode == _PLAIN:
        return _send_plain(self, sender, named)
    assert info is not None
    if mode == _COUNT:
        return _send_counted(self, sender, named)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if _state.captures:
            _record_empty(self, sender, named, "send")
        return []
    firing = _start(
        info,
        self,
        sender,
        label,
        "send",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
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
    mode, info, label, spans_wanted = _route(self, sender)
    if mode == _PLAIN:
        return _state.originals["send_robust"](self, sender, **named)  # type: ignore[no-any-return]
    assert info is not None
    if mode == _COUNT:
        node = current_node.get()
        started = time.perf_counter_ns()
        try:
            return _state.originals["send_robust"](self, sender, **named)  # type: ignore[no-any-return]
        finally:
            _add_count(node, self, sender, time.perf_counter_ns() - started)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if _state.captures:
            _record_empty(self, sender, named, "send_robust")
        return []
    firing = _start(
        info,
        self,
        sender,
        label,
        "send_robust",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
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


async def _awaited(firing: _Firing | _NullFiring, index: int, awaitable: Awaitable[Any]) -> Any:
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
    mode, info, label, spans_wanted = _route(self, sender)
    if mode == _PLAIN:
        return await _state.originals["asend"](self, sender, **named)  # type: ignore[no-any-return]
    assert info is not None
    if mode == _COUNT:
        node = current_node.get()
        started = time.perf_counter_ns()
        try:
            return await _state.originals["asend"](self, sender, **named)  # type: ignore[no-any-return]
        finally:
            _add_count(node, self, sender, time.perf_counter_ns() - started)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if _state.captures:
            _record_empty(self, sender, named, "asend")
        return []
    firing = _start(
        info,
        self,
        sender,
        label,
        "asend",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
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
    mode, info, label, spans_wanted = _route(self, sender)
    if mode == _PLAIN:
        return await _state.originals["asend_robust"](self, sender, **named)  # type: ignore[no-any-return]
    assert info is not None
    if mode == _COUNT:
        node = current_node.get()
        started = time.perf_counter_ns()
        try:
            return await _state.originals["asend_robust"](self, sender, **named)  # type: ignore[no-any-return]
        finally:
            _add_count(node, self, sender, time.perf_counter_ns() - started)
    sync_receivers, async_receivers = self._live_receivers(sender)
    if not sync_receivers and not async_receivers:
        if _state.captures:
            _record_empty(self, sender, named, "asend_robust")
        return []
    firing = _start(
        info,
        self,
        sender,
        label,
        "asend_robust",
        named,
        sync_receivers,
        async_receivers,
        spans_wanted,
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
        report_tracer_failure(f"the {type(hook).__name__} hook")
        return False, None


def _hook_after(hook: FiringHook, state: Any, error: BaseException | None) -> None:
    try:
        hook.after(state, error)
    except Exception:
        report_tracer_failure(f"the {type(hook).__name__} hook")


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
        _record_empty(self, sender, named, "send")
        return []
    return send(self, sender, **named)


def capturing_send_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        _record_empty(self, sender, named, "send_robust")
        return []
    return send_robust(self, sender, **named)


async def capturing_asend(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        _record_empty(self, sender, named, "asend")
        return []
    return await asend(self, sender, **named)


async def capturing_asend_robust(self: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    if not self.receivers or self.sender_receivers_cache.get(sender) is NO_RECEIVERS:
        _record_empty(self, sender, named, "asend_robust")
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


_CAPTURING_REPLACEMENTS: Final[dict[str, Any]] = {
    "send": capturing_send,
    "send_robust": capturing_send_robust,
    "asend": capturing_asend,
    "asend_robust": capturing_asend_robust,
}


def _sync_patch() -> None:
    # Caller holds _state.lock.
    wanted = _state.emitter is not None or _state.captures > 0
    if not wanted:
        if _state.installed is not None:
            for name in METHODS:
                setattr(Signal, name, _state.originals[name])
            _state.installed = None
        return
    replacements = _CAPTURING_REPLACEMENTS if _state.captures else _REPLACEMENTS
    if _state.installed is replacements:
        return
    if _state.installed is None:
        _state.originals = {name: Signal.__dict__[name] for name in METHODS}
    for name in METHODS:
        setattr(Signal, name, replacements[name])
    _state.installed = replacements


def is_patched() -> bool:
    return _state.installed is not None


def is_tracing() -> bool:
    return _state.emitter is not None


def configure(config: Config) -> None:
    """Use ``config`` from now on (policies and names are recomputed lazily)."""
    with _state.lock:
        _state.config = config
        _infos.clear()
        _receiver_facts_cache.clear()
        _excluded_senders.clear()


def current_config() -> Config:
    return _state.config


def start_tracing(emitter: SpanEmitter, config: Config) -> None:
    with _state.lock:
        configure(config)
        _state.emitter = emitter
        _sync_patch()


def stop_tracing() -> None:
    with _state.lock:
        _state.emitter = None
        _sync_patch()


def acquire_capture() -> None:
    """Keep the patch installed and record firings without receivers until released."""
    with _state.lock:
        _state.captures += 1
        _sync_patch()


def release_capture() -> None:
    with _state.lock:
        _state.captures = max(_state.captures - 1, 0)
        _sync_patch()


def current_emitter() -> SpanEmitter | None:
    return _state.emitter
