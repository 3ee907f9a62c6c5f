"""One firing's bookkeeping: its record, its span, and the bracket around each receiver call.

The patched ``send*()`` methods (``_dispatch``) call :func:`open_firing` once they have the live
receivers. A firing of a counted signal (pre_init, post_init: once per row loaded) that nothing
records gets its signal and sender's :data:`Count` on the enclosing span, found from a plan
cached per signal, and nothing else. Any other firing goes the long way: the signal's lifecycle
hook, if any, then ``routing`` decides what it needs, and it gets what brackets its receivers:
a :class:`FiringNode` (records and spans), an :class:`UntracedFiring` (a count a recording
sees too, a hook's closing half), a :class:`DroppedFiring` (a root firing its sampler
dropped), or ``None`` (nothing: Django's own loop). ``enter``/``leave``
bracket each receiver call and ``finish`` ends the firing. Every one of these returns before a
receiver runs, so none adds a frame between sender and receiver.

Nothing here raises into the application: a failure is logged once
(``state.report_tracer_failure``) and the firing goes on untraced.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import Sequence
from typing import Any, Final, NamedTuple, Protocol, TypeAlias

from django.dispatch import Signal
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from signal_tracing import attributes as attrs
from signal_tracing import call_counts, spans
from signal_tracing.attributes import kwargs_attributes, matches_any, template_name
from signal_tracing.caches import BoundedCache
from signal_tracing.conf import Config
from signal_tracing.nesting import Budget, Node, Scope, current_node
from signal_tracing.origins import SendSite, send_site
from signal_tracing.recording import Recording, active_recordings
from signal_tracing.records import DispatchRecord, Outcome, Policy, ReceiverCall, SentObjects
from signal_tracing.routing import (
    MAX_SIGNALS,
    Action,
    FiringPlan,
    ReceiverFacts,
    Route,
    cached_signal_facts,
    firing_plan,
    route,
    sender_facts,
    signal_facts,
)
from signal_tracing.spans import SpanEmitter
from signal_tracing.state import report_tracer_failure, running
from signal_tracing.storms import StormTable
from signal_tracing.transactions import in_atomic_block

now: Final = time.perf_counter_ns
_INTERNAL: Final = SpanKind.INTERNAL


class Method(NamedTuple):
    """One of ``Signal``'s four sending methods, as the firing needs to know it."""

    name: str
    #: A single receiver's span may be the firing's span too (``send``, ``asend``).
    merges_single_receiver: bool
    #: Django runs this firing's async receivers concurrently in one shared context.
    shares_async_context: bool


# --------------------------------------------------------------------------------------------
# Firing hooks: lifecycle scopes (the request span) open before a firing's receivers run and
# close after them, whatever the signal's policy.


class FiringHook(Protocol):
    """Called around every firing of one signal that has receivers."""

    def before(self, signal: Signal, sender: Any, named: dict[str, Any], method: str) -> Any:
        """Run before the receivers; the return value is passed to :meth:`after`."""

    def after(self, state: Any, error: BaseException | None) -> None:
        """Run after the receivers (``error`` is what propagated, if anything)."""


_hooks: Final[dict[int, FiringHook]] = {}


def set_hook(signal: Signal, hook: FiringHook | None) -> None:
    """Install (or with ``None`` remove) the hook around ``signal``'s firings."""
    if hook is None:
        _hooks.pop(id(signal), None)
    else:
        _hooks[id(signal)] = hook


def has_hooks() -> bool:
    return bool(_hooks)


def _hook_after(hook: FiringHook, state: Any, error: BaseException | None) -> None:
    try:
        hook.after(state, error)
    except Exception:
        report_tracer_failure(f"the {type(hook).__name__} hook")


# --------------------------------------------------------------------------------------------
# The prologue.


def open_firing(
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    method: Method,
    sync_receivers: Sequence[Any],
    async_receivers: Sequence[Any],
) -> FiringNode | UntracedFiring | DroppedFiring | Count | None:
    """Return what brackets this firing's receivers, or ``None`` to run them as Django does.

    A :data:`Count` (a list) is this signal and sender's count on the enclosing span: the
    caller times the receivers and adds the firing to it (see ``_dispatch``).
    """
    # A counted firing happens once per row of every queryset (pre_init, post_init): its
    # signal's plan (made when the long way first counts it) and the count on the enclosing
    # span, before anything else. What this cannot settle (a recording, a test capture, a
    # hook, a signal that is not counted) goes the long way.
    plan = None
    try:
        signal_id = id(signal)
        plan = _plans.get(signal_id)
        if (
            plan is not None
            and plan.config is running.config
            and plan.signal() is signal
            and (sync_receivers or async_receivers)
            and not running.captures
            and not _recordings_now()
            and signal_id not in _hooks
        ):
            node = _node_now()
            while node is not None and node.span is None:
                node = node.parent
            if node is None or node.sampled_out:
                # No span to count on (or one sampled out, which nobody reads) and nothing
                # records: Django's loop alone.
                return None
            counts = node.counts
            if counts is not None:
                count = counts.get((signal_id, id(sender)))
                if count is not None:  # the sender is alive, so its id still names it
                    return count
            return _new_count(node, signal, sender)
    except Exception:
        report_tracer_failure("counting a firing")  # and the long way decides
    # Any other firing, when nothing records, counts receiver calls or hooks it, is settled
    # here if it can be, as the long way (``route`` then ``start_firing``) would settle it,
    # from what that left: under a sampled-out span, whatever the signal, Django's loop
    # alone; for a span-policy signal, its signal's and sender's facts and the plan of its
    # shape, which goes straight to ``start_firing`` with the node and OpenTelemetry context
    # read here. Anything else (a first firing, an excluded sender, another policy...) goes
    # the long way.
    try:
        if (
            plan is None
            and not running.captures
            and (not _hooks or signal_id not in _hooks)
            and not _recordings_now()
            and call_counts.active is None
        ):
            node = _node_now()
            context = _otel_context_now()
            if node is not None and node.otel_context is context:
                sampled_out = node.sampled_out
                if sampled_out is None:
                    sampled_out = SpanEmitter.parent_is_sampled_out(node)
            elif context is spans.dropped_context():  # a dropped root firing's
                sampled_out = True
            elif context:  # a span of someone else's may be current
                span_context = trace.get_current_span(context).get_span_context()
                sampled_out = span_context.is_valid and not span_context.trace_flags.sampled
            else:  # nothing at all is current
                sampled_out = False
            if sampled_out:
                return None
            facts = cached_signal_facts(signal_id)
            emitter = running.emitter
            if (
                facts is not None
                and facts.policy is _SPAN
                and emitter is not None
                and facts.ref() is signal
            ):
                entry = facts.none_sender if sender is None else facts.senders.get(id(sender))
                if (
                    entry is not None
                    and (sender is None or (entry.ref is not None and entry.ref() is sender))
                    and not entry.excluded
                ):
                    shape = entry.plans.get(method.name)
                    if shape is not None and (
                        # The commonest shape, one function, checked inline (FiringPlan.fits).
                        (
                            (only := shape.only_ref) is not None
                            and shape.config is running.config
                            and len(sync_receivers) == 1
                            and not async_receivers
                            and only() is sync_receivers[0]
                        )
                        or (only is None and shape.fits(sync_receivers, async_receivers))
                    ):
                        span = None
                        if (
                            node is None
                            and shape.spans
                            and not (shape.lean or shape.hidden)
                            and "template" not in named
                        ):
                            # A root firing: its sampler decides first, as in start_firing.
                            span = emitter.tracer.start_span(
                                shape.span_name, context, _INTERNAL, shape.signal.attributes
                            )
                            if not span.is_recording():
                                return DroppedFiring(span, context)
                        return start_firing(
                            None,
                            signal,
                            sender,
                            named,
                            method,
                            sync_receivers,
                            async_receivers,
                            shape,
                            node,
                            context,
                            span,
                            emitter,
                        )
    except Exception:
        report_tracer_failure("routing")  # and the long way decides
    hook = _hooks.get(id(signal)) if _hooks else None
    hook_state = None
    if hook is not None:
        try:
            hook_state = hook.before(signal, sender, named, method.name)
        except Exception:
            report_tracer_failure(f"the {type(hook).__name__} hook")
            hook = None
    if sync_receivers or async_receivers:
        decided = route(signal, sender)
        action = decided.action
        if action is Action.COUNT:
            if plan is None or plan.config is not running.config or plan.signal() is not signal:
                _plan(signal)  # the next firing is counted the short way
            return UntracedFiring(hook, hook_state, signal, sender)
        if action is Action.TRACE:
            firing = start_firing(
                decided, signal, sender, named, method, sync_receivers, async_receivers
            )
            if firing is not None:
                firing.hook = hook
                firing.hook_state = hook_state
                return firing
    elif running.captures:
        # No live receivers for this sender, found the slow way: Django's sender cache had no
        # entry yet (the first instance of a model), or the signal does not cache. The fast
        # path would have returned at once, so nothing is counted: only a test capture
        # records it, as it records the fast path's empty firings.
        record_empty(signal, sender, named, method)
    if hook is None:
        return None
    return UntracedFiring(hook, hook_state, None, None)


# --------------------------------------------------------------------------------------------
# Counted firings: each adds one to its signal and sender's count on the enclosing span.

#: One signal and sender's count on a node's span: [firings, total ns, signal name, sender
#: label or None if the sender is excluded] (``Node.counts``). ``_dispatch`` adds to it.
Count: TypeAlias = list[Any]


class CountPlan:
    """That one signal's firings are counted, under one configuration."""

    __slots__ = ("config", "signal")

    def __init__(self, signal: Signal, config: Config) -> None:
        self.signal = weakref.ref(signal)
        self.config = config


#: id(signal) -> its plan, for counted signals only: any other signal pays one lookup.
_plans: Final[BoundedCache[int, CountPlan]] = BoundedCache(MAX_SIGNALS)
# Bound once: looking a ContextVar's ``get`` up on every counted firing makes a method object.
_recordings_now: Final = active_recordings.get
_node_now: Final = current_node.get
_otel_context_now: Final = otel_context.get_current
_SPAN: Final = Policy.SPAN


def _plan(signal: Signal) -> None:
    """Plan ``signal``'s next firings if they are counted under the configuration in force."""
    try:
        # Checked against that configuration itself: route() may have decided from facts
        # cached under the one before.
        config = running.config
        if config.policy_for(signal, signal_facts(signal).path) is Policy.COUNT:
            _plans.put(id(signal), CountPlan(signal, config))
    except Exception:
        report_tracer_failure("planning a firing")


def _new_count(node: Node, signal: Signal, sender: Any) -> Count | None:
    """Start the count of ``signal`` and ``sender`` on ``node``'s span (``None`` if broken)."""
    try:
        facts = signal_facts(signal)
        label, excluded = sender_facts(facts, sender)
        count: Count = [0, 0, facts.name, None if excluded else label]
        counts = node.counts
        if counts is None:
            counts = node.counts = {}
        counts[id(signal), id(sender)] = count
        return count
    except Exception:
        report_tracer_failure("counting")
        return None


# --------------------------------------------------------------------------------------------
# Untraced firings: a count that a recording also sees, or a hook's closing half.


class UntracedFiring:
    """A firing whose receivers run as Django runs them, with work after them.

    Either it is counted (``signal`` is set: the count-policy path, once per row loaded, so
    kept short), or a lifecycle hook must close what it opened, or both.
    """

    __slots__ = ("hook", "hook_state", "node", "otel_token", "sender", "signal", "started_ns")

    def __init__(
        self, hook: FiringHook | None, hook_state: Any, signal: Signal | None, sender: Any
    ) -> None:
        self.hook = hook
        self.hook_state = hook_state
        self.signal = signal
        self.sender = sender
        self.otel_token: object | None = None
        if signal is not None:
            self.node = current_node.get()
            self.started_ns = now()

    def finish(self, error: BaseException | None) -> None:
        if self.signal is not None:
            add_count(self.node, self.signal, self.sender, now() - self.started_ns)
        if self.otel_token is not None:
            spans.detach(self.otel_token)
        if self.hook is not None:
            _hook_after(self.hook, self.hook_state, error)


def add_count(node: Node | None, signal: Signal, sender: Any, elapsed_ns: int) -> None:
    """Count one firing of a count-policy signal on the enclosing span and recordings.

    Guarded like all tracer code: an error here must never replace what the receivers raised.
    """
    try:
        recordings = active_recordings.get()
        # Counts go to the innermost node that has a span.
        target = node
        while target is not None and target.span is None:
            target = target.parent
        if target is not None:
            counts = target.counts
            # The sender is alive, so its id still names it.
            entry = counts.get((id(signal), id(sender))) if counts is not None else None
            if entry is None:
                entry = _new_count(target, signal, sender)
            if entry is not None:
                entry[0] += 1
                entry[1] += elapsed_ns
        if recordings:
            facts = signal_facts(signal)
            label, excluded = sender_facts(facts, sender)
            if not excluded:
                for recording in recordings:
                    recording.add_count(facts.name, facts.path, label, elapsed_ns)
    except Exception:
        report_tracer_failure("counting")


# --------------------------------------------------------------------------------------------
# Traced firings.


class CallNode(Node):
    """The node of one running receiver call."""

    __slots__ = ("call", "node_token", "otel_token", "owns_span", "rides_on_firing")

    def __init__(self, parent: Node, span: Span | None, call: ReceiverCall | None) -> None:
        super().__init__(parent, span)
        self.call = call
        self.node_token: Any = None
        self.otel_token: Any = None
        self.owns_span = False
        #: A receiver of Django's own, shown on the firing's span rather than one of its own.
        self.rides_on_firing = False

    def current_call(self) -> ReceiverCall | None:
        return self.call


class FiringNode(Node):
    """The node of one traced firing; enters and leaves its receiver calls."""

    __slots__ = (
        "broken",
        "calls_untracked",
        "emitter",
        "entered",
        "facts",
        "handled_errors",
        "hook",
        "hook_state",
        "key",
        "merged",
        "node_token",
        "otel_token",
        "plan",
        "record",
        "record_messages",
        "recordings",
        "send_site",
        "shared_context",
        "started_ns",
        "storm_table",
        "sync_count",
    )

    def __init__(
        self,
        parent: Node | None,
        key: tuple[int, int],
        plan: FiringPlan,
        emitter: SpanEmitter | None,
    ) -> None:
        super().__init__(parent, None)
        self.key = key
        self.plan = plan
        #: The firing's record: only when something reads it (a recording, receiver coverage).
        self.record: DispatchRecord | None = None
        self.facts = plan.facts
        self.sync_count = plan.sync_count
        self.send_site: SendSite | None = None
        #: When it started, for recordings and storm counts only (clock reads cost).
        self.started_ns = 0
        self.merged = False
        #: The async receivers run concurrently in one context (Django 6.1's _run_parallel).
        self.shared_context = False
        #: No node or span per receiver call: the firing's own span and node stay current
        #: for all its calls (merged, or only Django's receivers, and nothing records).
        self.calls_untracked = False
        self.broken = False
        self.handled_errors = 0
        #: Bit ``i`` is set once receiver ``i`` was entered (the others never ran).
        self.entered = 0
        self.node_token: Any = None
        self.otel_token: Any = None
        self.recordings: tuple[Recording, ...] = ()
        self.record_messages = False
        self.hook: FiringHook | None = None
        self.hook_state: Any = None
        #: Where this firing is counted for storms: its scope's table, if the scope has a span.
        self.storm_table: StormTable | None = None
        #: What starts this firing's spans, read once when it starts: a firing that started
        #: traced ends its spans even if tracing stops while its receivers run (a receiver of
        #: ``setting_changed`` may stop it), and one that started untraced stays so.
        self.emitter = emitter

    def firing_key(self) -> tuple[int, int] | None:
        return self.key

    def current_call(self) -> ReceiverCall | None:
        return None

    def enter(self, index: int, attach: bool = True) -> CallNode | None:
        """Start receiver ``index``'s call (made current unless ``attach`` is false)."""
        self.entered |= 1 << index
        if self.broken or self.calls_untracked:
            return None
        try:
            fact = self.facts[index]
            counts = call_counts.active
            if counts is not None:  # receiver coverage: excluded receivers count too
                counts.add(self.plan.signal.path, fact.identity)
            if fact.excluded:
                return None
            is_async = index >= self.sync_count
            record: ReceiverCall | None = None
            dispatch = self.record
            if self.recordings and dispatch is not None:  # only recordings read call records
                identity = fact.identity
                record = ReceiverCall(
                    dispatch, identity.name, identity.file_path, identity.line_number, is_async
                )
                dispatch.calls.append(record)
            span: Span | None = None
            owns_span = False
            if self.span is not None:
                if self.merged or fact.rides_on_firing:
                    span = self.span  # current while it runs: what it sends nests there
                elif self.take_span_slot(running.config.max_spans_per_trace):
                    span = self._start_receiver_span(fact, is_async)
                    owns_span = True
            call = CallNode(self, span if owns_span else None, record)
            call.owns_span = owns_span
            call.rides_on_firing = fact.rides_on_firing
            if attach:
                call.node_token = current_node.set(call)
                if span is not None:
                    call.otel_token = spans.attach(span, call)
            if record is not None:
                record.start_ns = now()
            return call
        except Exception:
            self.broken = True
            report_tracer_failure("entering a receiver call")
            return None

    def _start_receiver_span(self, fact: ReceiverFacts, is_async: bool) -> Span:
        attributes = fact.attributes
        if is_async:
            attributes = {**attributes, attrs.RECEIVER_ASYNC: True}
        assert self.emitter is not None  # set with self.span
        return self.emitter.start(
            attrs.RECEIVER_SPAN_NAME.format(receiver=fact.identity.name), attributes, self.span
        )

    def leave(
        self, call: CallNode | None, error: BaseException | None = None, handled: bool = False
    ) -> None:
        """End a receiver call; ``handled``: ``send_robust()`` caught ``error``."""
        if call is None:
            if error is not None and self.calls_untracked:
                self._untracked_call_failed(error, handled)
            return
        try:
            outcome = Outcome.OK
            if error is not None:
                outcome = Outcome.HANDLED if handled else _failure_outcome(error)
                if handled:
                    self.handled_errors += 1
            record = call.call
            if record is not None:
                record.end_ns = now()
                record.outcome = outcome
                if error is not None:
                    record.error_type = f"{type(error).__module__}.{type(error).__qualname__}"
            span = call.span if call.owns_span else None
            if span is not None:
                spans.flush_node(call)
                if error is not None:
                    spans.record_error(
                        span,
                        error,
                        record_message=self.record_messages,
                        max_length=running.config.max_attribute_length,
                    )
                    span.set_attribute(attrs.RECEIVER_OUTCOME, outcome.value)
                span.end()
            elif error is not None and self.span is not None:
                max_length = running.config.max_attribute_length
                if self.merged:
                    spans.record_error(
                        self.span,
                        error,
                        record_message=self.record_messages,
                        max_length=max_length,
                    )
                elif handled and call.rides_on_firing:
                    # No span of its own to mark; the firing did not fail (an error that
                    # propagates is recorded on the firing's span when it finishes).
                    spans.record_exception(
                        self.span,
                        error,
                        record_message=self.record_messages,
                        max_length=max_length,
                    )
        except Exception:
            self.broken = True
            report_tracer_failure("leaving a receiver call")
        finally:
            _reset_tokens(call)

    def untracked_call_failed(
        self, index: int, error: BaseException, handled: bool = False
    ) -> None:
        """Receiver ``index`` raised ``error``, in a firing none of whose calls is tracked
        (``calls_untracked``: the sending method ran it without ``enter``/``leave``)."""
        self.entered |= (2 << index) - 1  # it and every receiver before it ran
        self._untracked_call_failed(error, handled)

    def _untracked_call_failed(self, error: BaseException, handled: bool) -> None:
        # What leave() records for a merged or riding call, without a node for it.
        try:
            if handled:
                self.handled_errors += 1
            if self.span is None:
                return
            max_length = running.config.max_attribute_length
            if self.merged:
                spans.record_error(
                    self.span, error, record_message=self.record_messages, max_length=max_length
                )
            elif handled:
                spans.record_exception(
                    self.span, error, record_message=self.record_messages, max_length=max_length
                )
        except Exception:
            report_tracer_failure("leaving a receiver call")

    def create_task(
        self, loop: asyncio.AbstractEventLoop, index: int, coroutine: Any
    ) -> asyncio.Task[Any]:
        """Schedule async receiver ``index``'s coroutine as a task of its own, traced.

        The task copies the current context when it is created: the receiver call is made
        current just for that, so the receiver runs under it with no wrapper frame of ours
        (Django 5.2 and 6.0 gather the coroutines, a task each). The call is left when the
        task is done.
        """
        call = self.enter(index)
        try:
            task = loop.create_task(coroutine)
        finally:
            if call is not None:
                _reset_tokens(call)
        if call is not None:
            task.add_done_callback(functools.partial(self._task_done, call))
        return task

    def _task_done(self, call: CallNode, task: asyncio.Task[Any]) -> None:
        try:
            error = task.exception()
        except asyncio.CancelledError as cancelled:
            error = cancelled
        self.leave(call, error)

    def finish(self, error: BaseException | None) -> None:
        """End the firing (``error`` is what propagated to the sender, if anything)."""
        try:
            record = self.record
            table = self.storm_table
            if self.started_ns:
                ended_ns = now()
                if table is not None:
                    plan = self.plan
                    table.count(
                        plan.signal.name,
                        plan.signal.path,
                        plan.sender_label,
                        self.send_site,
                        ended_ns - self.started_ns,
                    )
                if record is not None:
                    record.end_ns = ended_ns
            if record is not None:
                if error is not None:
                    self._record_not_run()
                record.outcome = Outcome.OK if error is None else _failure_outcome(error)
            span = self.span
            if span is not None:
                if error is not None:
                    not_run = self._not_run_count()
                    if not_run:
                        span.set_attribute(attrs.SIGNAL_RECEIVERS_NOT_RUN, not_run)
                if self.handled_errors:
                    span.set_attribute(attrs.SIGNAL_RECEIVERS_FAILED, self.handled_errors)
                if error is not None and not self.merged:
                    spans.record_error(
                        span,
                        error,
                        record_message=self.record_messages,
                        max_length=running.config.max_attribute_length,
                    )
                if self.counts:
                    spans.flush_node(self)
                span.end()
        except Exception:
            report_tracer_failure("finishing a firing")
        finally:
            # _reset_tokens(self), inline.
            token = self.otel_token
            if token is not None:
                self.otel_token = None
                otel_context.detach(token)  # logs its own failure (opentelemetry.context)
            token = self.node_token
            if token is not None:
                self.node_token = None
                try:
                    current_node.reset(token)
                except Exception:
                    report_tracer_failure("restoring the current firing")
            if self.hook is not None:
                _hook_after(self.hook, self.hook_state, error)

    def _not_run_count(self) -> int:
        """How many receivers never ran because an earlier one raised."""
        entered = self.entered
        return sum(
            1
            for index, fact in enumerate(self.facts)
            if not (entered >> index & 1 or fact.excluded)
        )

    def _record_not_run(self) -> None:
        """Record the receivers that never ran because an earlier one raised."""
        entered = self.entered
        record = self.record
        assert record is not None  # the caller checked
        for index, fact in enumerate(self.facts):
            if entered >> index & 1 or fact.excluded:
                continue
            identity = fact.identity
            call = ReceiverCall(
                record,
                identity.name,
                identity.file_path,
                identity.line_number,
                index >= self.sync_count,
            )
            call.outcome = Outcome.NOT_RUN
            record.calls.append(call)


def _failure_outcome(error: BaseException) -> Outcome:
    return Outcome.CANCELLED if isinstance(error, asyncio.CancelledError) else Outcome.RAISED


def _reset_tokens(node: CallNode | FiringNode) -> None:
    # Tokens are reset in the context that set them; a ValueError means the context changed
    # under us (a receiver switched contexts), and the value is then left as Django left it.
    if node.otel_token is not None:
        spans.detach(node.otel_token)  # logs its own failure (opentelemetry.context)
        node.otel_token = None
    if node.node_token is not None:
        try:
            current_node.reset(node.node_token)
        except Exception:
            report_tracer_failure("restoring the current firing")
        node.node_token = None


class DroppedFiring:
    """A root firing its sampler dropped: nothing is recorded, and no span or node of ours.

    The dropped span stays current while the receivers run, so that what they send (through
    us or another instrumentation) knows at once that the trace is dropped. No node of ours
    is made current (a context variable set and reset cost as much as the span's own): our
    firings beneath it read "sampled out" from the OpenTelemetry context, which they read
    anyway, and the context it made current is noted (``spans.dropped_context``) so that
    they know without asking OpenTelemetry. Whatever made its tracer not record it (the
    sampler, or no SDK at all), nothing beneath it is recorded either. With no node of ours
    current, count-policy firings under it have nowhere to go (``routing.route``), and a
    scope opened beneath it (a command called from a receiver) is a root of its own.
    """

    __slots__ = ("hook", "hook_state", "otel_token")

    def __init__(self, span: Span, context: otel_context.Context | None) -> None:
        self.hook: FiringHook | None = None
        self.hook_state: Any = None
        # spans.attach, inline, on the context that was current (None: read it again).
        attached = trace.set_span_in_context(span, context)
        spans.dropped_context = weakref.ref(attached)
        self.otel_token = otel_context.attach(attached)

    def finish(self, error: BaseException | None) -> None:
        otel_context.detach(self.otel_token)  # logs its own failure (opentelemetry.context)
        if self.hook is not None:
            _hook_after(self.hook, self.hook_state, error)


def start_firing(
    decided: Route | None,
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    method: Method,
    sync_receivers: Sequence[Any],
    async_receivers: Sequence[Any],
    plan: FiringPlan | None = None,
    parent: Node | None = None,
    context: otel_context.Context | None = None,
    span: Span | None = None,
    emitter: SpanEmitter | None = None,
) -> FiringNode | UntracedFiring | DroppedFiring | None:
    """Set up the span (and record) of a traced firing; ``None`` if it is hidden or broken.

    What every firing of its shape needs comes from its plan (``routing.firing_plan``). A
    firing that runs only Django's own receivers is counted instead under the lean
    ``DJANGO_RECEIVERS = "count"`` (an :class:`UntracedFiring`), except in a test capture
    or a receiver-coverage run. A firing gets a record only when something reads records: a
    recording (the panel, a test capture) or receiver coverage.

    ``open_firing``'s common case passes the ``plan`` that fits, instead of what ``route``
    ``decided``, once it found that nothing records or counts and that spans are wanted;
    then ``parent`` is the current node, ``context`` the current OpenTelemetry context,
    ``emitter`` the one it read (read once: tracing may stop meanwhile, see
    ``FiringNode.emitter``), and a root firing's ``span`` the one its sampler recorded.
    """
    try:
        if plan is None:
            assert decided is not None
            entry = decided.sender
            plan = entry.plans.get(method.name) if entry is not None else None
            if plan is not None and (only := plan.only_ref) is not None:
                # The commonest shape, one function, checked inline (as FiringPlan.fits does).
                if not (
                    plan.config is running.config
                    and len(sync_receivers) == 1
                    and not async_receivers
                    and only() is sync_receivers[0]
                ):
                    plan = None
            elif plan is not None and not plan.fits(sync_receivers, async_receivers):
                plan = None
            if plan is None:
                plan = firing_plan(
                    decided,
                    method.name,
                    method.merges_single_receiver,
                    sync_receivers,
                    async_receivers,
                )
            recordings = active_recordings.get()
            # Receiver coverage counts every call in enter(): no shortcut below may skip it.
            counting = call_counts.active is not None
            spans_wanted = decided.spans_wanted
            parent = current_node.get()
            emitter = running.emitter  # read once (see FiringNode.emitter)
        else:
            recordings = ()
            counting = False
            spans_wanted = True
        config = plan.config
        if plan.lean and not counting and not any(recording.everything for recording in recordings):
            return UntracedFiring(None, None, signal, sender)
        spans_possible = plan.spans and spans_wanted and emitter is not None
        template = named.get("template") if config.exclude_templates else None
        if plan.hidden or (
            template is not None
            and matches_any(template_name(template) or "", config.exclude_templates)
        ):
            # Hidden (the toolbar's own work, say): only a test capture or receiver coverage
            # still wants it.
            if not counting and not any(recording.everything for recording in recordings):
                return None
            spans_possible = False
        if span is None and spans_possible and parent is None and not recordings and not counting:
            # A root firing (no request, command or test of ours around it): its sampler
            # decides now, before anything else is built, so that a dropped firing costs no
            # more than the span its sampler dropped. The sampler sees the span's name and
            # the signal's name and path; the other attributes are set once it records.
            assert emitter is not None  # spans_possible
            span = emitter.tracer.start_span(
                plan.span_name, context, _INTERNAL, plan.signal.attributes
            )
            if not span.is_recording():
                return DroppedFiring(span, context)
        key = (id(signal), id(sender))
        # nesting.depth_and_reentrancy, inline: only firing nodes have a key.
        depth = 0
        reentrant = False
        node = parent
        while node is not None:
            if type(node) is FiringNode:
                depth += 1
                if node.key == key:
                    reentrant = True
            node = node.parent
        firing = FiringNode(parent, key, plan, emitter)
        firing.recordings = recordings
        firing.record_messages = config.record_exception_messages
        firing.shared_context = method.shares_async_context and len(async_receivers) > 1
        site = None
        atomic = None
        if spans_possible or recordings:
            # Read only for a firing someone looks at: one its sampler kept (or may keep), or
            # one a recording holds.
            site = firing.send_site = send_site(signal)
            if plan.signal.writes_rows:
                atomic = in_atomic_block(signal, named)
            if spans_possible and not plan.only_django_receivers and config.storm_threshold:
                # storm_table(), inline: the innermost scope, if it has a span.
                scope = parent
                while scope is not None and not isinstance(scope, Scope):
                    scope = scope.parent
                if scope is not None and scope.span is not None:
                    table = scope.storms
                    if table is None:
                        table = scope.storms = StormTable(config.storm_threshold)
                    firing.storm_table = table
        record = None
        kwargs = None
        if recordings or counting:
            record = firing.record = _new_record(plan, depth, reentrant, parent)
            kwargs = record.attributes = (
                kwargs_attributes(named, plan.signal.kwargs, config.max_attribute_length)
                if named
                else {}
            )
            record.send_site = site
            record.in_atomic_block = atomic
            record.only_django_receivers = plan.only_django_receivers
        early = span is not None
        if early or (
            spans_possible
            and (
                not isinstance(root := firing.root, Budget) or root.take(config.max_spans_per_trace)
            )
        ):
            firing.merged = plan.merged
            # The span's attributes: the plan's, and what this firing adds.
            attributes = plan.head_attributes.copy()
            attributes[attrs.SIGNAL_DEPTH] = depth
            if reentrant:
                attributes[attrs.SIGNAL_REENTRANT] = True
            if plan.django_attributes is not None:
                attributes.update(plan.django_attributes)
            if kwargs is not None:
                attributes.update(kwargs)
            elif named:  # straight into the span's attributes: no record holds them
                limit = config.max_attribute_length
                for extract in plan.signal.kwargs:
                    extract(named, limit, attributes)
            if site is not None:
                shown = config.send_site_attributes
                if shown == "compact":
                    attributes.update(site.compact_attributes)
                elif shown == "full":
                    attributes.update(site.full_attributes)
            if atomic is not None:
                attributes[attrs.IN_ATOMIC_BLOCK] = atomic
            if plan.receiver_attributes is not None:
                attributes.update(plan.receiver_attributes)
            if early:
                assert span is not None
                span.set_attributes(attributes)
            else:
                assert emitter is not None  # spans_possible
                # SpanEmitter.start, inline: under the current span (the request's, or the
                # call's that sent it).
                span = emitter.tracer.start_span(plan.span_name, context, _INTERNAL, attributes)
                if record is not None and recordings:
                    span_ids = spans.ids(span)
                    if span_ids is not None:
                        record.trace_id, record.span_id = span_ids
            firing.span = span
        firing.calls_untracked = (
            span is not None and not recordings and not counting and plan.calls_untracked
        )
        if firing.shared_context or firing.calls_untracked:
            # Concurrent receivers share one context: none of them may make its own call
            # current, so whatever they send nests under the firing instead. The same when
            # no call of this firing gets a span or a record of its own: the firing's span
            # and node are current for all of them, set once. Otherwise only our own code
            # runs between receiver calls, and each call makes itself current, so the firing
            # itself never needs to be.
            firing.node_token = current_node.set(firing)
            if span is not None:
                # spans.attach, inline (once per traced firing).
                attached = firing.otel_context = trace.set_span_in_context(span, context)
                firing.otel_token = otel_context.attach(attached)
        if recordings and record is not None:
            # A recording full to its max_firings only counts the firing: then nothing may
            # hold on to the record (no parent link, no receiver-call records).
            keeping = tuple(recording for recording in recordings if recording.add(record))
            firing.recordings = keeping
            if keeping:
                if record.parent_call is not None:
                    record.parent_call.children.append(record)
                elif record.parent_dispatch is not None:
                    record.parent_dispatch.children.append(record)
                if any(recording.keep_objects for recording in keeping):
                    record.objects = SentObjects(signal, sender, named)
        if firing.recordings or firing.storm_table is not None:
            # Times are read by recordings and storm counts only (spans keep their own):
            # clock reads cost.
            firing.started_ns = now()
            if record is not None:
                record.start_ns = firing.started_ns
        return firing
    except Exception:
        report_tracer_failure("starting a firing")
        return None


def _new_record(
    plan: FiringPlan, depth: int, reentrant: bool, parent: Node | None
) -> DispatchRecord:
    record = DispatchRecord(
        plan.signal.name,
        plan.signal.path,
        plan.sender_label,
        plan.method_name,
        plan.signal.policy,
        depth,
        reentrant,
        parent.current_call() if parent is not None else None,
    )
    record.receiver_count = plan.visible
    if record.parent_call is None and isinstance(parent, FiringNode):
        # Sent from concurrent async receivers: nested in the firing, not in one call.
        record.parent_dispatch = parent.record
    return record


def record_empty(signal: Signal, sender: Any, named: dict[str, Any], method: Method) -> None:
    """Record a firing that found no live receivers (test captures only)."""
    try:
        if not any(recording.everything for recording in active_recordings.get()):
            return
        facts = signal_facts(signal)
        label = sender_facts(facts, sender)[0]
        decided = Route(Action.TRACE, facts, label, False)
        firing = start_firing(decided, signal, sender, named, method, (), ())
        if firing is not None:
            firing.finish(None)
    except Exception:
        report_tracer_failure("recording a firing without receivers")
