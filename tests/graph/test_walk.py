"""Tests of the pure parallel-walk scheduler."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackflow.graph.walk import Walk, WalkError


def test_independent_nodes_are_ready_together_in_declaration_order() -> None:
    walk = Walk({"b": [], "a": [], "c": ["a", "b"]})
    assert walk.ready() == ["b", "a"]
    walk.start("b")
    walk.start("a")
    assert walk.ready() == []
    assert walk.succeeded("a") == []
    assert walk.succeeded("b") == ["c"]
    walk.start("c")
    assert not walk.done
    walk.succeeded("c")
    assert walk.done
    assert walk.failures == []


def test_failure_skips_dependents_but_independent_branches_continue() -> None:
    walk = Walk({"a": [], "b": ["a"], "c": ["b"], "x": [], "y": ["x"]})
    for node in walk.ready():
        walk.start(node)
    assert walk.failed("a") == {"b", "c"}
    assert walk.ready() == []
    assert not walk.done
    assert walk.succeeded("x") == ["y"]
    walk.start("y")
    walk.succeeded("y")
    assert walk.done
    assert walk.failures == ["a"]
    assert walk.skipped == {"b": "a", "c": "a"}
    assert walk.succeeded_nodes == ["x", "y"]


def test_diamond_waits_for_every_dependency() -> None:
    walk = Walk({"top": [], "l": ["top"], "r": ["top"], "bottom": ["l", "r"]})
    walk.start("top")
    assert walk.succeeded("top") == ["l", "r"]
    walk.start("l")
    walk.start("r")
    walk.succeeded("l")
    assert walk.ready() == []
    walk.failed("r")
    assert walk.skipped == {"bottom": "r"}
    assert walk.done


def test_dependencies_only_named_as_needs_become_nodes() -> None:
    walk = Walk({"a": ["ghost"]})
    assert walk.ready() == ["ghost"]
    assert set(walk.nodes) == {"a", "ghost"}


def test_misuse_is_refused() -> None:
    walk = Walk({"a": [], "b": ["a"]})
    with pytest.raises(WalkError):
        walk.start("b")
    with pytest.raises(WalkError):
        walk.succeeded("a")
    walk.start("a")
    with pytest.raises(WalkError):
        walk.start("a")


def test_skip_marks_the_node_and_its_dependents() -> None:
    walk = Walk({"a": [], "b": ["a"], "c": []})
    assert walk.skip("a") == {"a", "b"}
    assert walk.ready() == ["c"]
    assert walk.skipped == {"a": "a", "b": "a"}


@given(
    st.lists(st.sets(st.integers(min_value=0, max_value=11), max_size=4), min_size=1, max_size=12),
    st.sets(st.integers(min_value=0, max_value=11)),
)
def test_walk_respects_dependencies_and_terminates(raw: list[set[int]], failing: set[int]) -> None:
    # node i may only depend on nodes < i, so the graph is acyclic
    deps = {str(i): [str(j) for j in needs if j < i] for i, needs in enumerate(raw)}
    walk = Walk(deps)
    finished: set[str] = set()
    steps = 0
    while not walk.done:
        steps += 1
        assert steps < 1000
        ready = walk.ready()
        assert ready, "a walk that is not done must have ready nodes when nothing runs"
        node = ready[0]
        assert all(need in finished for need in deps[node])
        walk.start(node)
        if int(node) in failing:
            walk.failed(node)
        else:
            walk.succeeded(node)
            finished.add(node)
    for node, cause in walk.skipped.items():
        assert cause in walk.failures
        assert node not in finished
    assert set(walk.failures) | set(walk.skipped) | finished == set(deps)
