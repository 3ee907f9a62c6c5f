"""The chain of running nodes: depth, re-entrancy, the innermost scope, the span budget."""

from __future__ import annotations

from signal_tracing.nesting import Budget, Node, Scope, depth_and_reentrancy, innermost_scope


class Firing(Node):
    def __init__(self, parent: Node | None, key: tuple[int, int]) -> None:
        super().__init__(parent, None)
        self.key = key

    def firing_key(self) -> tuple[int, int] | None:
        return self.key


def test_depth_counts_the_enclosing_firings_and_spots_the_same_signal_and_sender() -> None:
    scope = Scope("request", "GET /", None)
    outer = Firing(scope, (1, 2))
    call = Node(outer, None)
    inner = Firing(call, (3, 4))
    assert depth_and_reentrancy(None, (1, 2)) == (0, False)
    assert depth_and_reentrancy(scope, (1, 2)) == (0, False)
    assert depth_and_reentrancy(call, (3, 4)) == (1, False)
    assert depth_and_reentrancy(inner, (1, 2)) == (2, True)


def test_the_innermost_scope_is_found_through_firings_and_calls() -> None:
    outer = Scope("test", "test_x", None)
    inner = Scope("command", "manage.py migrate", None, parent=outer)
    call = Node(Firing(inner, (1, 2)), None)
    assert innermost_scope(call) is inner
    assert innermost_scope(Node(None, None)) is None
    assert innermost_scope(None) is None


def test_the_budget_lives_on_the_outermost_scope_and_nested_scopes_share_it() -> None:
    outer = Scope("test", "test_x", None)
    inner = Scope("request", "GET /", None, parent=outer)
    call = Node(Firing(inner, (1, 2)), None)
    assert call.root is outer
    assert inner.root is outer
    assert [call.take_span_slot(2) for _ in range(3)] == [True, True, False]
    assert (outer.spans_started, outer.spans_dropped) == (2, 1)
    assert inner.spans_started == 0


def test_no_scope_means_no_budget_and_zero_means_no_cap() -> None:
    firing = Firing(None, (1, 2))
    assert all(firing.take_span_slot(1) for _ in range(5))
    budget = Budget(None, None)
    assert all(budget.take(0) for _ in range(5))
    assert budget.spans_started == 5


def test_plain_nodes_are_neither_firings_nor_calls() -> None:
    node = Node(None, None)
    assert node.firing_key() is None
    assert node.current_call() is None
    assert node.counts is None
