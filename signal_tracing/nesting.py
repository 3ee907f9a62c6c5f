"""What is running in this context: the chain of scopes, firings and receiver calls.

A contextvar holds the innermost :class:`Node`; each node points to its parent. Firings use the
chain for their depth, re-entrancy and parent record; count-policy signals add their counts to
the innermost node that owns a span. When the outermost node is a :class:`Scope` (a request,
command, test or start-up from ``lifecycle``), it carries the trace's span budget
(``MAX_SPANS_PER_TRACE``); firings outside any scope have none.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from signal_tracing.records import ReceiverCall
    from signal_tracing.storms import StormTable


class Node:
    """A running scope, firing or receiver call."""

    __slots__ = ("_root", "counts", "otel_context", "parent", "sampled_out", "span")

    def __init__(self, parent: Node | None, span: Span | None) -> None:
        self.parent = parent
        self.span = span
        #: The OpenTelemetry context this node made current (``spans.attach``), and whether
        #: its span is sampled out (worked out when first asked): while that context is still
        #: the current one, a firing learns whether it may start spans from these two.
        self.otel_context: object | None = None
        self.sampled_out: bool | None = None
        # None for the outermost node: a reference to itself would make every request's
        # root a reference cycle, left for the garbage collector to find.
        self._root: Node | None = parent.root if parent is not None else None
        #: Count-policy firings under this node: (id(signal), id(sender)) ->
        #: [firings, total ns, signal name, sender label or None if the sender is excluded].
        #: Keyed by ids so that the per-row path does no naming; names are taken once.
        self.counts: dict[tuple[int, int], list[Any]] | None = None

    @property
    def root(self) -> Node:
        """The outermost node of this chain (this node, when it is the outermost)."""
        root = self._root
        return self if root is None else root

    # The span budget lives on the root node, when it is a Budget; without one, no limit.
    def take_span_slot(self, limit: int) -> bool:
        root = self._root
        if root is None:
            root = self
        if isinstance(root, Budget):
            return root.take(limit)
        return True

    def firing_key(self) -> tuple[int, int] | None:
        return None

    def current_call(self) -> ReceiverCall | None:
        return None


class Budget(Node):
    """A root node counting the spans started beneath it, to enforce MAX_SPANS_PER_TRACE."""

    __slots__ = ("spans_dropped", "spans_started")

    def __init__(self, parent: Node | None, span: Span | None) -> None:
        super().__init__(parent, span)
        self.spans_started = 0
        self.spans_dropped = 0

    def take(self, limit: int) -> bool:
        if limit and self.spans_started >= limit:
            self.spans_dropped += 1
            return False
        self.spans_started += 1
        return True


class Scope(Budget):
    """A request, management command, test or start-up: the root of one trace."""

    __slots__ = ("kind", "name", "storms")

    def __init__(self, kind: str, name: str, span: Span | None, parent: Node | None = None) -> None:
        super().__init__(parent, span)
        self.kind = kind
        self.name = name
        #: The firings beneath it, counted per send site (signal_tracing.storms). A scope
        #: nested in another (a command called from a test) shares that one's root, and so
        #: its span budget.
        self.storms: StormTable | None = None


current_node: Final[contextvars.ContextVar[Node | None]] = contextvars.ContextVar(
    "signal_tracing_current_node", default=None
)


def depth_and_reentrancy(node: Node | None, key: tuple[int, int]) -> tuple[int, bool]:
    """Return how many firings enclose ``node`` and whether one has the same signal+sender."""
    depth = 0
    reentrant = False
    while node is not None:
        node_key = node.firing_key()
        if node_key is not None:
            depth += 1
            if node_key == key:
                reentrant = True
        node = node.parent
    return depth, reentrant


def innermost_scope(node: Node | None) -> Scope | None:
    while node is not None:
        if isinstance(node, Scope):
            return node
        node = node.parent
    return None
