"""Plain records of what the dispatcher did: one per firing, one per receiver call.

Records hold names, labels, numbers and times only, never the signal, sender, receiver or
kwargs objects themselves (a test capture may opt in to those through ``objects``). They are
what the debug-toolbar panel and the test API read, so both work without any OpenTelemetry SDK.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signal_tracing.origins import SendSite


class Outcome(str, enum.Enum):
    """How a receiver call (or a whole firing) ended."""

    OK = "ok"
    #: The exception propagated to the code that sent the signal.
    RAISED = "raised"
    #: ``send_robust()`` / ``asend_robust()`` caught the exception and returned it.
    HANDLED = "handled"
    #: An earlier receiver raised during ``send()``, so this one never ran.
    NOT_RUN = "not_run"
    #: An async receiver's task was cancelled (a sibling raised, or the request was dropped).
    CANCELLED = "cancelled"
    #: Still running (only seen on records read while the firing is in progress).
    RUNNING = "running"


class Policy(str, enum.Enum):
    """What the tracer does with a signal's firings."""

    SPAN = "span"
    COUNT = "count"
    OFF = "off"


class SentObjects:
    """The live objects of a firing, kept only for test captures that ask for them."""

    __slots__ = ("kwargs", "sender", "signal")

    def __init__(self, signal: Any, sender: Any, kwargs: dict[str, Any]) -> None:
        self.signal = signal
        self.sender = sender
        self.kwargs = kwargs


class ReceiverCall:
    """One receiver called for one firing."""

    __slots__ = (
        "children",
        "dispatch",
        "end_ns",
        "error_message",
        "error_type",
        "file_path",
        "is_async",
        "line_number",
        "outcome",
        "receiver_name",
        "start_ns",
    )

    def __init__(
        self,
        dispatch: DispatchRecord,
        receiver_name: str,
        file_path: str | None,
        line_number: int | None,
        is_async: bool,
    ) -> None:
        self.dispatch = dispatch
        self.receiver_name = receiver_name
        self.file_path = file_path
        self.line_number = line_number
        self.is_async = is_async
        self.outcome = Outcome.RUNNING
        self.error_type: str | None = None
        self.error_message: str | None = None
        self.start_ns = 0
        self.end_ns = 0
        #: Firings sent while this receiver ran, in start order.
        self.children: list[DispatchRecord] = []

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)

    def __repr__(self) -> str:
        return f"<ReceiverCall {self.receiver_name} {self.outcome.value}>"


class DispatchRecord:
    """One firing of a signal: ``send``, ``send_robust``, ``asend`` or ``asend_robust``."""

    __slots__ = (
        "attributes",
        "calls",
        "children",
        "depth",
        "end_ns",
        "in_atomic_block",
        "method",
        "objects",
        "only_django_receivers",
        "outcome",
        "parent_call",
        "parent_dispatch",
        "policy",
        "receiver_count",
        "reentrant",
        "send_site",
        "sender_label",
        "signal_name",
        "signal_path",
        "span_id",
        "start_ns",
        "trace_id",
    )

    def __init__(
        self,
        signal_name: str,
        signal_path: str,
        sender_label: str,
        method: str,
        policy: Policy,
        depth: int,
        reentrant: bool,
        parent_call: ReceiverCall | None,
    ) -> None:
        self.signal_name = signal_name
        self.signal_path = signal_path
        self.sender_label = sender_label
        self.method = method
        self.policy = policy
        self.depth = depth
        self.reentrant = reentrant
        #: The receiver call this firing was sent from, if any.
        self.parent_call = parent_call
        #: The firing this one is nested in: ``parent_call.dispatch``, or the firing itself
        #: when it was sent from an async receiver Django ran in a context shared with others.
        self.parent_dispatch = parent_call.dispatch if parent_call is not None else None
        self.outcome = Outcome.RUNNING
        self.receiver_count = 0
        #: Allow-listed, privacy-safe kwargs (the same values the span carries).
        self.attributes: dict[str, Any] = {}
        self.calls: list[ReceiverCall] = []
        #: Firings nested inside this one that no single receiver call can own: those sent
        #: from async receivers that Django runs concurrently in one shared context.
        self.children: list[DispatchRecord] = []
        self.start_ns = 0
        self.end_ns = 0
        #: Hex ids of the span that represents this firing, when one was recorded.
        self.trace_id: str | None = None
        self.span_id: str | None = None
        self.objects: SentObjects | None = None
        #: Where the firing came from: the first frame of the app's on the way to send().
        self.send_site: SendSite | None = None
        #: Model signals: whether they ran inside ``transaction.atomic()`` on their ``using``
        #: database; ``None`` for other signals.
        self.in_atomic_block: bool | None = None
        #: Every receiver it ran is Django's own and rides on the firing (``DJANGO_RECEIVERS``
        #: ``"attributes"``): plumbing such as the test client's ``template_rendered``
        #: receiver, never a signal storm.
        self.only_django_receivers = False

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)

    @property
    def not_run_count(self) -> int:
        return sum(1 for call in self.calls if call.outcome is Outcome.NOT_RUN)

    def chain(self) -> list[DispatchRecord]:
        """Return the firings that led to this one, outermost first, ending with self."""
        chain = [self]
        parent = self.parent_dispatch
        while parent is not None:
            chain.append(parent)
            parent = parent.parent_dispatch
        chain.reverse()
        return chain

    def walk(self) -> Iterator[DispatchRecord]:
        """Yield this firing and every firing nested inside it, in start order."""
        yield self
        nested = [child for call in self.calls for child in call.children] + self.children
        nested.sort(key=lambda record: record.start_ns)
        for child in nested:
            yield from child.walk()

    def __repr__(self) -> str:
        return f"<DispatchRecord {self.signal_name} sender={self.sender_label} {self.method}>"


class CountRecord:
    """Firings of a count-policy signal for one sender, aggregated."""

    __slots__ = ("count", "sender_label", "signal_name", "signal_path", "total_ns")

    def __init__(self, signal_name: str, signal_path: str, sender_label: str) -> None:
        self.signal_name = signal_name
        self.signal_path = signal_path
        self.sender_label = sender_label
        self.count = 0
        self.total_ns = 0

    def __repr__(self) -> str:
        return f"<CountRecord {self.signal_name} sender={self.sender_label} x{self.count}>"
