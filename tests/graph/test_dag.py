"""graph.dag: cycles, deterministic topological order, reverse edges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackflow.graph import find_cycle, reverse_dependencies, topological_order


def test_order_keeps_template_order_among_ready_nodes() -> None:
    deps = {"c": ["a"], "b": [], "a": [], "d": ["c", "b"]}
    assert topological_order(deps) == ["b", "a", "c", "d"]


def test_targets_only_named_as_dependencies_are_included() -> None:
    assert topological_order({"x": ["y"]}) == ["y", "x"]


def test_cycle_is_whole_and_closed() -> None:
    deps = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    assert find_cycle(deps) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None
    with pytest.raises(ValueError, match="a -> b -> c -> a"):
        topological_order(deps)


def test_reverse_dependencies() -> None:
    assert reverse_dependencies({"a": ["b"], "c": ["b"], "b": []}) == {
        "a": set(),
        "b": {"a", "c"},
        "c": set(),
    }


@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), max_size=40))
def test_order_respects_every_edge_of_acyclic_graphs(edges: list[tuple[int, int]]) -> None:
    deps: dict[str, list[str]] = {}
    for a, b in edges:
        if a > b:  # edges only from higher to lower numbers: acyclic
            deps.setdefault(str(a), []).append(str(b))
    order = topological_order(deps)
    position = {node: i for i, node in enumerate(order)}
    assert len(order) == len(position)
    for node, targets in deps.items():
        for target in targets:
            assert position[target] < position[node]
    assert find_cycle(deps) is None
