"""Routing: what one firing needs, decided from cached facts about its signal and sender.

:func:`route` answers for every firing that has receivers: run it as Django does
(:attr:`Action.PLAIN`), count it on the enclosing span (:attr:`Action.COUNT`), or record it and
maybe span it (:attr:`Action.TRACE`). The facts it decides from (a signal's name and policy, a
sender's label and exclusion, a receiver's identity) are cached in bounded caches, emptied when
the configuration changes.

A traced firing then asks :func:`firing_plan` for what every firing of its shape (signal,
sender, method, receivers) needs: its receivers' facts, whether its span is merged, the span's
name and the attributes that do not change from one firing to the next. A plan is kept on the
sender's facts and used again only for the same configuration and the same receivers, checked
by identity at each firing, so connecting or disconnecting a receiver, or changing the setting,
is seen at the next firing. Plans hold weak references to receivers, never the receivers.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import types
import weakref
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from django.dispatch import Signal
from opentelemetry import context as otel_context

from signal_tracing import attributes as attrs
from signal_tracing import call_counts
from signal_tracing.attributes import kwargs_extractors, matches_any
from signal_tracing.caches import BoundedCache
from signal_tracing.conf import Config
from signal_tracing.naming import ReceiverIdentity, receiver_identity, registry, sender_label
from signal_tracing.nesting import current_node
from signal_tracing.recording import active_recordings
from signal_tracing.records import Policy
from signal_tracing.state import report_tracer_failure, running
from signal_tracing.transactions import TRANSACTION_SIGNALS

#: Signals created on the fly (one per object, say) must not grow the caches forever.
MAX_SIGNALS: Final = 4096
MAX_SENDERS_PER_SIGNAL: Final = 4096
MAX_SENDER_LABELS: Final = 4096
MAX_RECEIVERS: Final = 4096


class Action(enum.Enum):
    """What a firing needs."""

    #: Nothing: its receivers run exactly as Django runs them.
    PLAIN = "plain"
    #: A count (and the time taken) on the enclosing span and in recordings.
    COUNT = "count"
    #: A record for the recordings, and spans when ``Route.spans_wanted``.
    TRACE = "trace"


class SignalFacts:
    """Per-signal facts worth caching: its names, its policy, and facts about its senders."""

    __slots__ = (
        "attributes",
        "count_route",
        "kwargs",
        "name",
        "none_sender",
        "path",
        "plans",
        "policy",
        "ref",
        "senders",
        "writes_rows",
    )

    def __init__(self, signal: Signal, config: Config) -> None:
        self.ref = weakref.ref(signal)
        self.name, self.path = registry.name_of(signal)
        self.policy = config.policy_for(signal, self.path)
        #: What records this signal's keyword arguments (built-in ones by identity).
        self.kwargs = kwargs_extractors(signal, config.record_kwargs)
        self.attributes = {attrs.SIGNAL_NAME: self.name, attrs.SIGNAL_PATH: self.path}
        #: A model signal naming the database it wrote to (``transactions``).
        self.writes_rows = id(signal) in TRANSACTION_SIGNALS
        #: id(sender) -> what is known about that sender (senders that can be weakly
        #: referenced); ``sender=None``, the commonest literal, has an entry of its own.
        self.senders: BoundedCache[int, SenderFacts] = BoundedCache(MAX_SENDERS_PER_SIGNAL)
        self.none_sender: SenderFacts | None = None
        #: Sender label -> method name -> the plan of the last traced firing of that shape. A
        #: plan depends on the sender's label only, so the senders sharing a label (every
        #: instance of a class, a string sent each time anew) share one: a new sender per
        #: firing builds no plan, and the cache of senders holds no plan of its own.
        self.plans: BoundedCache[str, dict[str, FiringPlan]] = BoundedCache(MAX_SENDERS_PER_SIGNAL)
        #: The same for every counted firing of this signal: built once.
        self.count_route = Route(Action.COUNT, self, "", False)


class Route(NamedTuple):
    """What :func:`route` decided for one firing."""

    action: Action
    #: None for :attr:`Action.PLAIN`.
    signal: SignalFacts | None
    #: The sender's label (empty unless the firing is traced).
    sender_label: str
    #: Whether the firing may start spans (tracing is on and the parent is not sampled out).
    spans_wanted: bool
    #: Where a traced firing's plans are kept (None: worked out for this firing only).
    sender: SenderFacts | None = None


PLAIN_ROUTE: Final = Route(Action.PLAIN, None, "", False)
_SPAN: Final = Policy.SPAN
_OFF: Final = Policy.OFF


class SenderFacts:
    """Per-(signal, sender) facts: the label, its exclusion, the two routes of a traced firing
    (without and with spans), built once rather than per firing, and its firing plans."""

    __slots__ = ("excluded", "label", "plans", "ref", "traced_routes")

    def __init__(
        self, ref: weakref.ref[Any] | None, label: str, excluded: bool, facts: SignalFacts
    ) -> None:
        self.ref = ref
        self.label = label
        self.excluded = excluded
        self.traced_routes = (
            Route(Action.TRACE, facts, label, False, self),
            Route(Action.TRACE, facts, label, True, self),
        )
        #: Method name -> the plan of the last firing sent with it (shared by the senders
        #: with this label: ``SignalFacts.plans``).
        plans = facts.plans.get(label)
        self.plans: dict[str, FiringPlan] = (
            plans if plans is not None else facts.plans.put(label, {})
        )


class ReceiverFacts:
    """Per-receiver facts worth caching: its identity, exclusion and span attributes."""

    __slots__ = ("attributes", "excluded", "identity", "rides_on_firing")

    def __init__(self, identity: ReceiverIdentity, config: Config) -> None:
        self.identity = identity
        self.excluded = matches_any(identity.name, config.exclude_receivers)
        #: Defined by Django itself, and DJANGO_RECEIVERS gives it no span of its own: its
        #: name goes on the firing's span instead.
        self.rides_on_firing = config.django_receivers != "span" and defined_by_django(
            identity.name
        )
        self.attributes: dict[str, Any] = {attrs.CODE_FUNCTION_NAME: identity.name}
        if identity.file_path is not None:
            self.attributes[attrs.CODE_FILE_PATH] = identity.file_path
        if identity.line_number is not None:
            self.attributes[attrs.CODE_LINE_NUMBER] = identity.line_number


class FiringPlan:
    """What every firing of one shape needs, worked out once.

    The shape is the signal, the sender (its label), the method, the configuration and the
    receivers; :meth:`fits` tells whether another firing has the same shape. Nothing here
    changes once built, so threads and tasks share plans freely.
    """

    __slots__ = (
        "calls_untracked",
        "config",
        "django_attributes",
        "facts",
        "head_attributes",
        "hidden",
        "lean",
        "merged",
        "method_name",
        "only_django_receivers",
        "only_ref",
        "receiver_attributes",
        "refs",
        "riding",
        "sender_label",
        "signal",
        "span_name",
        "spans",
        "sync_count",
        "visible",
    )

    def __init__(
        self,
        signal: SignalFacts,
        sender_label: str,
        method_name: str,
        merges_single_receiver: bool,
        sync_receivers: Sequence[Any],
        async_receivers: Sequence[Any],
        config: Config,
    ) -> None:
        self.signal = signal
        self.sender_label = sender_label
        self.method_name = method_name
        self.config = config
        receivers = [*sync_receivers, *async_receivers]
        self.sync_count = len(sync_receivers)
        self.facts = tuple(receiver_facts(receiver) for receiver in receivers)
        #: A weak reference per receiver that is its own facts' key (a function, most
        #: receivers): the next firing's receivers are compared with these by identity. None
        #: for a bound method (a new object at every firing) and what cannot be referenced
        #: weakly: those are compared by their facts.
        self.refs = tuple(_weak_or_none(receiver) for receiver in receivers)
        self.only_ref = self.refs[0] if len(self.refs) == 1 and self.sync_count == 1 else None
        visible = riding = 0
        for fact in self.facts:
            if not fact.excluded:
                visible += 1
                if fact.rides_on_firing:
                    riding += 1
        self.visible = visible
        self.riding = riding
        #: Every receiver is hidden by EXCLUDE_RECEIVERS (the toolbar's own work, say).
        self.hidden = visible == 0 and bool(self.facts)
        #: Only Django's receivers, and DJANGO_RECEIVERS = "count": counted, not spanned.
        self.lean = 0 < riding == visible and config.django_receivers == "count"
        self.only_django_receivers = 0 < riding == visible
        #: Whether its firings may have a span at all.
        self.spans = visible > 0 and signal.policy is Policy.SPAN
        self.merged = (
            visible == 1 and not riding and config.merge_single_receiver and merges_single_receiver
        )
        #: No call gets a span of its own (merged, or every receiver rides on the firing).
        self.calls_untracked = self.merged or riding == visible == len(self.facts)
        self.span_name = _dispatch_span_name(signal.name, method_name)
        self.head_attributes: dict[str, Any] = {
            attrs.SIGNAL_NAME: signal.name,
            attrs.SIGNAL_PATH: signal.path,
            attrs.SIGNAL_SENDER: sender_label,
            attrs.SIGNAL_METHOD: method_name,
            attrs.SIGNAL_RECEIVERS: visible,
        }
        self.django_attributes: dict[str, Any] | None = None
        if riding:
            names = [
                fact.identity.name
                for fact in self.facts
                if fact.rides_on_firing and not fact.excluded
            ]
            self.django_attributes = {
                attrs.SIGNAL_RECEIVERS_DJANGO: names,
                attrs.SIGNAL_RECEIVERS_DJANGO_COUNT: len(names),
            }
        #: A merged span's receiver attributes (its code.* keys, async or not).
        self.receiver_attributes: dict[str, Any] | None = None
        if self.merged:
            for index, fact in enumerate(self.facts):
                if not fact.excluded:
                    self.span_name = _merged_span_name(signal.name, fact.identity.name)
                    self.receiver_attributes = dict(fact.attributes)
                    if index >= self.sync_count:
                        self.receiver_attributes[attrs.RECEIVER_ASYNC] = True
                    break

    def fits(self, sync_receivers: Sequence[Any], async_receivers: Sequence[Any]) -> bool:
        """Whether a firing with these receivers has this plan's shape (same config)."""
        if self.config is not running.config:
            return False
        only = self.only_ref
        if only is not None:  # the commonest shape: one function
            return len(sync_receivers) == 1 and not async_receivers and only() is sync_receivers[0]
        if len(sync_receivers) != self.sync_count:
            return False
        refs = self.refs
        if len(async_receivers) + self.sync_count != len(refs):
            return False
        index = 0
        for receivers in (sync_receivers, async_receivers):
            for receiver in receivers:
                ref = refs[index]
                if ref is not None:
                    if ref() is not receiver:
                        return False
                elif receiver_facts(receiver) is not self.facts[index]:
                    return False
                index += 1
        return True


def firing_plan(
    decided: Route,
    method_name: str,
    merges_single_receiver: bool,
    sync_receivers: Sequence[Any],
    async_receivers: Sequence[Any],
) -> FiringPlan:
    """Return the plan of a traced firing (``decided`` by :func:`route`) of this shape."""
    entry = decided.sender
    if entry is not None:
        plan = entry.plans.get(method_name)
        if plan is not None and plan.fits(sync_receivers, async_receivers):
            return plan
    facts = decided.signal
    assert facts is not None  # a traced route
    plan = FiringPlan(
        facts,
        decided.sender_label,
        method_name,
        merges_single_receiver,
        sync_receivers,
        async_receivers,
        running.config,
    )
    if entry is not None:
        entry.plans[method_name] = plan
    return plan


def _weak_or_none(receiver: Any) -> weakref.ref[Any] | None:
    if isinstance(receiver, types.MethodType):
        return None
    try:
        return weakref.ref(receiver)
    except TypeError:
        return None


# Span names are few (signals x methods, signals x receivers): each is formatted once.
@functools.lru_cache(maxsize=4096)
def _merged_span_name(signal_name: str, receiver_name: str) -> str:
    return attrs.MERGED_SPAN_NAME.format(signal=signal_name, receiver=receiver_name)


@functools.lru_cache(maxsize=1024)
def _dispatch_span_name(signal_name: str, method_name: str) -> str:
    return attrs.DISPATCH_SPAN_NAME.format(signal=signal_name, method=method_name)


_PARTIAL: Final = "functools.partial("


def defined_by_django(receiver_name: str) -> bool:
    """Whether a receiver's module is ``django`` or under ``django.`` (partials unwrapped)."""
    while receiver_name.startswith(_PARTIAL):
        receiver_name = receiver_name[len(_PARTIAL) :]
    return receiver_name.startswith("django.")


_signals: Final[BoundedCache[int, SignalFacts]] = BoundedCache(MAX_SIGNALS)
#: id(signal) -> its facts if cached (check ``facts.ref() is signal``): bound once, for the
#: firings that read it inline.
cached_signal_facts: Final = _signals.get
#: Sender label -> excluded by EXCLUDE_SENDERS (labels are low-cardinality by construction).
_excluded_labels: Final[BoundedCache[str, bool]] = BoundedCache(MAX_SENDER_LABELS)
_receivers: Final[BoundedCache[ReceiverIdentity, ReceiverFacts]] = BoundedCache(MAX_RECEIVERS)
#: id(receiver) -> (weak reference to it, its facts).
_receivers_by_object: Final[BoundedCache[int, tuple[weakref.ref[Any], ReceiverFacts]]] = (
    BoundedCache(MAX_RECEIVERS)
)


def signal_facts(signal: Signal) -> SignalFacts:
    facts = _signals.get(id(signal))
    if facts is None or facts.ref() is not signal:
        facts = _signals.put(id(signal), SignalFacts(signal, running.config))
    return facts


def sender_facts(facts: SignalFacts, sender: Any) -> tuple[str, bool]:
    """Return the sender's label and whether ``EXCLUDE_SENDERS`` excludes it."""
    entry = _sender_entry(facts, sender)
    return entry.label, entry.excluded


def _sender_entry(facts: SignalFacts, sender: Any) -> SenderFacts:
    entry = facts.senders.get(id(sender))
    if entry is not None and entry.ref is not None and entry.ref() is sender:
        return entry
    if sender is None and facts.none_sender is not None:
        return facts.none_sender
    label = sender_label(sender)
    excluded = _excluded_labels.get(label)
    if excluded is None:
        excluded = _excluded_labels.put(label, matches_any(label, running.config.exclude_senders))
    key = id(sender)
    try:
        reference = _SenderRef(sender, _forget_sender)
    except TypeError:  # None, str, int...: cheap to label every time
        entry = SenderFacts(None, label, excluded, facts)
        if sender is None:
            facts.none_sender = entry
        return entry
    reference.senders = facts.senders
    reference.key = key
    return facts.senders.put(key, SenderFacts(reference, label, excluded, facts))


class _SenderRef(weakref.ref):  # type: ignore[type-arg]
    """A sender's weak reference that knows its cache entry, to take it out when it dies."""

    __slots__ = ("key", "senders")
    senders: BoundedCache[int, SenderFacts]
    key: int


def _forget_sender(reference: _SenderRef) -> None:
    """A sender died: drop its facts now rather than when its signal's cache fills up.

    A sender made per firing (an instance, say) would otherwise leave up to
    ``MAX_SENDERS_PER_SIGNAL`` dead entries per signal behind, how many depending on how often
    the allocator hands out a new address. An entry is only dropped if it is still this
    reference's (the cache may have been emptied and refilled since).
    """
    senders = reference.senders
    entry = senders.get(reference.key)
    if entry is not None and entry.ref is reference:
        senders.pop(reference.key, None)


def receiver_facts(receiver: Any) -> ReceiverFacts:
    # Plain functions (most receivers) are looked up by identity first; a bound method is a
    # new object at every firing (Django dereferences a WeakMethod), so it goes by its name.
    by_object = not isinstance(receiver, types.MethodType)
    if by_object:
        entry = _receivers_by_object.get(id(receiver))
        if entry is not None and entry[0]() is receiver:
            return entry[1]
    identity = receiver_identity(receiver)
    facts = _receivers.get(identity)
    if facts is None:
        facts = _receivers.put(identity, ReceiverFacts(identity, running.config))
    if by_object:
        with contextlib.suppress(TypeError):  # not weakly referenceable: named every time
            _receivers_by_object.put(id(receiver), (weakref.ref(receiver), facts))
    return facts


def route(signal: Signal, sender: Any) -> Route:
    """Decide what a firing that has receivers needs; never raises."""
    try:
        # The common case inline (signal_facts, _sender_entry, parent_is_sampled_out): this
        # runs for every firing that has receivers.
        facts = _signals.get(id(signal))
        if facts is None or facts.ref() is not signal:
            facts = signal_facts(signal)
        recordings = active_recordings.get()
        emitter = running.emitter
        if running.captures and (
            call_counts.active is not None or any(recording.everything for recording in recordings)
        ):
            # A test capture records every firing in full, whatever its policy; receiver
            # coverage (which holds a capture too) counts every receiver call.
            entry = _sender_entry(facts, sender)
            spans_wanted = (
                emitter is not None
                and not entry.excluded
                and facts.policy is Policy.SPAN
                and not emitter.parent_is_sampled_out(current_node.get())
            )
            return entry.traced_routes[spans_wanted]
        policy = facts.policy
        if policy is not _SPAN:
            if policy is _OFF:
                return PLAIN_ROUTE
            # COUNT. Counts land on an enclosing node of ours that has a span (which implies
            # it is sampled) or in a recording: with neither, there is nothing to do. This is
            # the per-row path of every queryset, so it avoids even the sampling check. Nor
            # has a sampled-out node without a span or a parent (a root scope its sampler
            # dropped); nor a root firing its sampler dropped, which sets no node
            # (firings.DroppedFiring).
            if not recordings:
                node = current_node.get()
                if node is None or (
                    node.sampled_out is True and node.span is None and node.parent is None
                ):
                    return PLAIN_ROUTE
            return facts.count_route
        # Sampled out and nothing records: decided before the sender is even looked at.
        if emitter is None:
            spans_wanted = False
        else:
            node = current_node.get()
            if (
                node is not None
                and node.sampled_out is not None
                and node.otel_context is otel_context.get_current()
            ):
                spans_wanted = not node.sampled_out  # as parent_is_sampled_out would answer
            else:
                spans_wanted = not emitter.parent_is_sampled_out(node)
        if not recordings and not spans_wanted:
            return PLAIN_ROUTE
        if sender is None and facts.none_sender is not None:
            entry = facts.none_sender
        else:
            cached = facts.senders.get(id(sender))
            if cached is not None and cached.ref is not None and cached.ref() is sender:
                entry = cached
            else:
                entry = _sender_entry(facts, sender)
        if entry.excluded:
            return PLAIN_ROUTE
        return entry.traced_routes[spans_wanted]
    except Exception:
        report_tracer_failure("routing")
        return PLAIN_ROUTE


def clear_caches() -> None:
    """Forget every cached fact (the configuration changed: policies and exclusions too)."""
    _signals.clear()
    _excluded_labels.clear()
    _receivers.clear()
    _receivers_by_object.clear()
