"""One firing, traced: routing, records, spans and counts around each receiver call.

``_dispatch`` runs Django's receiver loops and calls in here at each step: :func:`route` says
what a firing needs (nothing, a count, or a record and span), :func:`start` sets up a
:class:`Firing`, whose ``enter``/``leave`` bracket each receiver call and ``finish`` ends it.
Nothing here raises into the application: a failure is logged once
(:func:`report_tracer_failure`) and the firing goes on untraced.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any, Final

from django.dispatch import Signal
from opentelemetry.trace import Span

from signal_tracing import attributes as attrs
from signal_tracing import spans
from signal_tracing.attributes import (
    kwargs_attributes,
    kwargs_extractors,
    matches_any,
    template_name,
)
from signal_tracing.conf import Config
from signal_tracing.naming import ReceiverIdentity, receiver_identity, registry, sender_label
from signal_tracing.nesting import Node, current_node, depth_and_reentrancy
from signal_tracing.recording import Recording, active_recordings
from signal_tracing.records import DispatchRecord, Outcome, Policy, ReceiverCall, SentObjects
from signal_tracing.spans import SpanEmitter

logger = logging.getLogger("signal_tracing")


class TracingState:
    """What the firings in this process are traced with."""

    def __init__(self) -> None:
        #: Set while instrumented; None means records only (test captures, the panel).
        self.emitter: SpanEmitter | None = None
        self.config = Config()
        #: Active test captures; while any exists, firings with no receivers are recorded too.
        self.captures = 0
        self.failures_logged: set[str] = set()


state: Final = TracingState()


class _SignalInfo:
    """Per-signal facts worth caching: its names, its policy, and labels of its senders."""

    __slots__ = ("attributes", "kwargs", "name", "path", "policy", "ref", "senders")

    def __init__(self, signal: Signal, config: Config) -> None:
        self.ref = weakref.ref(signal)
        self.name, self.path = registry.name_of(signal)
        self.policy = config.policy_for(signal, self.path)
        self.kwargs = kwargs_extractors(signal, config.record_kwargs)
        self.attributes = {attrs.SIGNAL_NAME: self.name, attrs.SIGNAL_PATH: self.path}
        # id(sender) -> (weakref to sender, label, excluded)
        self.senders: dict[int, tuple[weakref.ref[Any], str, bool]] = {}


infos: dict[int, _SignalInfo] = {}
_SENDER_CACHE_LIMIT: Final = 4096


def signal_info(signal: Signal) -> _SignalInfo:
    info = infos.get(id(signal))
    if info is None or info.ref() is not signal:
        if len(infos) >= _SENDER_CACHE_LIMIT:
            # Signals created on the fly (one per object, say) must not grow this forever;
            # the entries are cheap to rebuild.
            infos.clear()
        info = infos[id(signal)] = _SignalInfo(signal, state.config)
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
        excluded = _excluded_senders[label] = matches_any(label, state.config.exclude_senders)
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
        facts = _receiver_facts_cache[identity] = _ReceiverFacts(identity, state.config)
    return facts


def report_tracer_failure(where: str) -> None:
    """Log a tracer-internal failure once per place; the application call goes on."""
    if where in state.failures_logged:
        logger.debug("signal_tracing failed again in %s", where, exc_info=True)
        return
    state.failures_logged.add(where)
    logger.warning(
        "signal_tracing failed in %s; the signal was sent normally but this firing's record "
        "is incomplete. Further failures here are logged at DEBUG level.",
        where,
        exc_info=True,
    )


# --------------------------------------------------------------------------------------------
# Routing: what to do with one firing.

COUNT_POLICY: Final = Policy.COUNT
PLAIN: Final = 0
COUNT: Final = 1
TRACE: Final = 2


def route(signal: Signal, sender: Any) -> tuple[int, _SignalInfo | None, str, bool]:
    """Decide what to do with a firing: (mode, signal facts, sender label, spans wanted)."""
    try:
        info = signal_info(signal)
        recordings = active_recordings.get()
        emitter = state.emitter
        if state.captures and any(recording.everything for recording in recordings):
            label, excluded = _sender_facts(info, sender)
            spans_wanted = (
                emitter is not None
                and not excluded
                and info.policy is Policy.SPAN
                and not emitter.parent_is_sampled_out()
            )
            return TRACE, info, label, spans_wanted
        policy = info.policy
        if policy is Policy.OFF:
            return PLAIN, None, "", False
        if policy is Policy.COUNT:
            # Counts land on an enclosing node of ours that has a span (which implies it is
            # sampled) or in a recording: with neither, there is nothing to do. This is the
            # per-row path of every queryset, so it avoids even the sampling check.
            if not recordings and current_node.get() is None:
                return PLAIN, None, "", False
            return COUNT, info, "", False
        label, excluded = _sender_facts(info, sender)
        if excluded:
            return PLAIN, None, "", False
        spans_wanted = emitter is not None and not emitter.parent_is_sampled_out()
        if not recordings and not spans_wanted:
            return PLAIN, None, "", False
        return TRACE, info, label, spans_wanted
    except Exception:
        report_tracer_failure("routing")
        return PLAIN, None, "", False


def add_count(node: Node | None, signal: Signal, sender: Any, elapsed_ns: int) -> None:
    """Count one firing of a count-policy signal on the enclosing span and recordings."""
    try:
        # Counts go to the innermost node that has a span.
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
                info = signal_info(signal)
                label, excluded = _sender_facts(info, sender)
                counts[key] = [1, elapsed_ns, info.name, None if excluded else label]
        recordings = active_recordings.get()
        if recordings:
            info = signal_info(signal)
            label, excluded = _sender_facts(info, sender)
            if not excluded:
                for recording in recordings:
                    recording.add_count(info.name, info.path, label, elapsed_ns)
    except Exception:
        report_tracer_failure("counting")


now: Final = time.perf_counter_ns


class Call(Node):
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


class Firing(Node):
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

    def enter(self, index: int, attach: bool = True) -> Call | None:
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
                elif self.take_span_slot(state.config.max_spans_per_trace):
                    span = self._start_receiver_span(fact, is_async)
                    owns_span = True
            frame = Call(self, None if self.merged else span, record)
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
        assert state.emitter is not None
        attributes = fact.attributes
        if is_async:
            attributes = {**attributes, attrs.RECEIVER_ASYNC: True}
        return state.emitter.start(
            attrs.RECEIVER_SPAN_NAME.format(receiver=fact.identity.name), attributes, self.span
        )

    def leave(self, frame: Call | None, error: BaseException | None, handled: bool) -> None:
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
                    spans.record_error(
                        span,
                        error,
                        record_message=self.record_messages,
                        max_length=state.config.max_attribute_length,
                    )
                    span.set_attribute(attrs.RECEIVER_OUTCOME, outcome.value)
                span.end()
            elif self.merged and error is not None and self.span is not None:
                spans.record_error(
                    self.span,
                    error,
                    record_message=self.record_messages,
                    max_length=state.config.max_attribute_length,
                )
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
            if self.recordings:
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
                    spans.record_error(
                        span,
                        error,
                        record_message=self.record_messages,
                        max_length=state.config.max_attribute_length,
                    )
                spans.flush_node(self)
                span.end()
        except Exception:
            report_tracer_failure("finishing a firing")
        finally:
            _reset_tokens(self)


def _failure_outcome(error: BaseException) -> Outcome:
    return Outcome.CANCELLED if isinstance(error, asyncio.CancelledError) else Outcome.RAISED


def _reset_tokens(node: Call | Firing) -> None:
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


class NullFiring:
    """Stands in for a firing the tracer could not set up: receivers run untraced."""

    shared_context = False

    def enter(self, index: int, attach: bool = True) -> None:
        return None

    def leave(self, frame: Call | None, error: BaseException | None, handled: bool) -> None:
        return None

    def skipped(self, indexes: range) -> None:
        return None

    def finish(self, error: BaseException | None) -> None:
        return None


_NULL: Final = NullFiring()


def start(
    info: _SignalInfo,
    signal: Signal,
    sender: Any,
    label: str,
    method: str,
    named: dict[str, Any],
    sync_receivers: Sequence[Any],
    async_receivers: Sequence[Any],
    spans_wanted: bool,
    shared_context: bool = False,
) -> Firing | NullFiring:
    """Set up the record (and span) of a firing about to run its receivers; never raises.

    ``shared_context``: the async receivers run concurrently in one context (Django 6).
    """
    try:
        config = state.config
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
            elif isinstance(parent, Firing):  # sent from concurrent async receivers
                record.parent_dispatch = parent.record
                parent.record.children.append(record)
        record.attributes = (
            kwargs_attributes(named, info.kwargs, config.max_attribute_length) if named else {}
        )
        firing = Firing(parent, key, record)
        firing.facts = facts
        firing.sync_count = len(sync_receivers)
        firing.recordings = recordings
        firing.record_messages = config.record_exception_messages
        firing.shared_context = shared_context
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
            # Times are read by recordings only (spans keep their own): clock reads cost.
            record.start_ns = time.perf_counter_ns()
        return firing
    except Exception:
        report_tracer_failure("starting a firing")
        return _NULL


_MERGING_METHODS: Final = frozenset({"send", "asend"})


def _start_firing_span(firing: Firing, record: DispatchRecord, info: _SignalInfo) -> Span:
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
    emitter = state.emitter
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


def record_empty(signal: Signal, sender: Any, named: dict[str, Any], method: str) -> None:
    """Record a firing that found no live receivers (test captures only)."""
    try:
        if not any(recording.everything for recording in active_recordings.get()):
            return
        info = signal_info(signal)
        label = _sender_facts(info, sender)[0]
        firing = start(info, signal, sender, label, method, named, (), (), False)
        firing.finish(None)
    except Exception:
        report_tracer_failure("recording a firing without receivers")


def is_tracing() -> bool:
    return state.emitter is not None


def configure(config: Config) -> None:
    """Use ``config`` from now on (policies and names are recomputed lazily)."""
    state.config = config
    infos.clear()
    _receiver_facts_cache.clear()
    _excluded_senders.clear()


def current_config() -> Config:
    return state.config


def current_emitter() -> SpanEmitter | None:
    return state.emitter
