"""Directed acyclic graphs given as ``node -> nodes it depends on``.

Deterministic: ties are broken by the order in which nodes appear in the mapping (the template
order), so plans and applies are reproducible.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping


def _nodes(deps: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {node: list(targets) for node, targets in deps.items()}
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, [])
    return graph


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Find a dependency cycle.

    Args:
        deps: Each node's dependencies (nodes only named as targets are leaves).

    Returns:
        The whole cycle with its first node repeated at the end (e.g. ``[a, b, a]``), or None
        when the graph is acyclic.
    """
    graph = _nodes(deps)
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    for start in graph:
        if state.get(start):
            continue
        path: list[str] = [start]
        stack: list[Iterable[str]] = [iter(graph[start])]
        state[start] = 1
        while stack:
            advanced = False
            for target in stack[-1]:
                mark = state.get(target)
                if mark == 1:
                    return [*path[path.index(target) :], target]
                if mark is None:
                    state[target] = 1
                    path.append(target)
                    stack.append(iter(graph[target]))
                    advanced = True
                    break
            if not advanced:
                state[path.pop()] = 2
                stack.pop()
    return None


def topological_order(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Order nodes so that every node comes after all of its dependencies.

    Args:
        deps: Each node's dependencies.

    Returns:
        Every node once; among nodes that are ready at the same time, the one that appears
        first in ``deps`` comes first.

    Raises:
        ValueError: If the graph has a cycle (the message names the whole cycle).
    """
    graph = _nodes(deps)
    rank = {node: i for i, node in enumerate(graph)}
    waiting = {node: len(set(targets)) for node, targets in graph.items()}
    dependents = reverse_dependencies(graph)
    ready = [(rank[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for dependent in dependents.get(node, ()):
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, (rank[dependent], dependent))
    if len(order) != len(graph):
        cycle = find_cycle(graph) or []
        raise ValueError(f"circular dependency: {' -> '.join(cycle)}")
    return order


def reverse_dependencies(deps: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """Invert the edges: for each node, the nodes that depend on it.

    Args:
        deps: Each node's dependencies.

    Returns:
        ``{node: {dependents}}`` for every node (empty sets for nodes nothing depends on).
    """
    result: dict[str, set[str]] = {node: set() for node in _nodes(deps)}
    for node, targets in deps.items():
        for target in targets:
            result[target].add(node)
    return result
