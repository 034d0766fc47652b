"""A pure scheduler for a parallel walk over a dependency graph, with upstream-failure skipping.

The caller owns the threads: it asks :meth:`Walk.ready` for nodes whose dependencies all
succeeded, marks each one started, and reports its outcome. When a node fails, every node that
depends on it (directly or transitively) is skipped, while independent branches keep going, so a
failed walk reports only its root causes (``failures``) and, apart, what they prevented
(``skipped``). The model is terraform's ``dag.Walker``; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_PENDING = "pending"
_RUNNING = "running"
_SUCCEEDED = "succeeded"
_FAILED = "failed"
_SKIPPED = "skipped"


class WalkError(ValueError):
    """A node was reported in a state that does not allow it (e.g. finished twice)."""


class Walk:
    """Schedule a walk over ``deps`` (node -> the nodes it needs first).

    Nodes are the keys of ``deps`` plus every node named only as a dependency. Their order (for
    :meth:`ready`) is the order of first appearance, keys first, so a template's order is kept.

    Args:
        deps: For each node, the nodes that must succeed before it may start.
    """

    def __init__(self, deps: Mapping[str, Iterable[str]]) -> None:
        self._needs: dict[str, frozenset[str]] = {}
        for node, needs in deps.items():
            self._needs[node] = frozenset(needs)
        for needs in list(self._needs.values()):
            for need in needs:
                self._needs.setdefault(need, frozenset())
        self._order = {node: index for index, node in enumerate(self._needs)}
        self._dependents: dict[str, set[str]] = {node: set() for node in self._needs}
        for node, needs in self._needs.items():
            for need in needs:
                self._dependents[need].add(node)
        self._state = dict.fromkeys(self._needs, _PENDING)
        self._waiting = {node: len(needs) for node, needs in self._needs.items()}
        self._ready = {node for node, count in self._waiting.items() if count == 0}
        self._failures: list[str] = []
        self._skipped: dict[str, str] = {}

    @property
    def nodes(self) -> list[str]:
        """Every node of the walk, in order of first appearance."""
        return list(self._needs)

    def ready(self) -> list[str]:
        """Return the nodes whose dependencies all succeeded and that have not started yet."""
        return sorted(self._ready, key=self._order.__getitem__)

    def start(self, node: str) -> None:
        """Mark ``node`` as running.

        Raises:
            WalkError: ``node`` is not ready.
        """
        if node not in self._ready:
            raise WalkError(f"{node!r} is not ready to start (state {self._state.get(node)})")
        self._ready.discard(node)
        self._state[node] = _RUNNING

    def succeeded(self, node: str) -> list[str]:
        """Mark ``node`` as succeeded and return the nodes that became ready because of it.

        Raises:
            WalkError: ``node`` is not running.
        """
        self._finish(node, _SUCCEEDED)
        newly: list[str] = []
        for dependent in self._dependents[node]:
            if self._state[dependent] != _PENDING:
                continue
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0:
                self._ready.add(dependent)
                newly.append(dependent)
        return sorted(newly, key=self._order.__getitem__)

    def failed(self, node: str) -> set[str]:
        """Mark ``node`` as a root-cause failure and skip everything downstream of it.

        Returns:
            The nodes newly skipped because of this failure.

        Raises:
            WalkError: ``node`` is not running.
        """
        self._finish(node, _FAILED)
        self._failures.append(node)
        return self._skip_downstream(node)

    def skip(self, node: str, because: str | None = None) -> set[str]:
        """Skip a node that has not started (and everything downstream of it).

        Args:
            node: A pending (not running, not finished) node.
            because: The node whose failure caused this (default: ``node`` itself).

        Returns:
            Every node newly skipped, ``node`` included.
        """
        if self._state.get(node) != _PENDING:
            raise WalkError(f"{node!r} cannot be skipped (state {self._state.get(node)})")
        self._state[node] = _SKIPPED
        self._ready.discard(node)
        self._skipped[node] = because or node
        return {node} | self._skip_downstream(node, because or node)

    def _finish(self, node: str, state: str) -> None:
        if self._state.get(node) != _RUNNING:
            raise WalkError(f"{node!r} is not running (state {self._state.get(node)})")
        self._state[node] = state

    def _skip_downstream(self, node: str, cause: str | None = None) -> set[str]:
        root = cause or node
        newly: set[str] = set()
        stack = list(self._dependents[node])
        while stack:
            current = stack.pop()
            if self._state[current] != _PENDING:
                continue
            self._state[current] = _SKIPPED
            self._ready.discard(current)
            self._skipped[current] = root
            newly.add(current)
            stack.extend(self._dependents[current])
        return newly

    @property
    def done(self) -> bool:
        """True when no node is pending, ready or running."""
        return all(state in (_SUCCEEDED, _FAILED, _SKIPPED) for state in self._state.values())

    @property
    def running(self) -> list[str]:
        """Nodes started and not yet reported."""
        return [node for node, state in self._state.items() if state == _RUNNING]

    @property
    def failures(self) -> list[str]:
        """Root-cause failures, in the order they were reported."""
        return list(self._failures)

    @property
    def skipped(self) -> dict[str, str]:
        """Skipped nodes, each mapped to the failed node that caused the skip."""
        return dict(self._skipped)

    @property
    def succeeded_nodes(self) -> list[str]:
        """Nodes that succeeded, in order of first appearance."""
        return [node for node, state in self._state.items() if state == _SUCCEEDED]

    def state(self, node: str) -> str:
        """Return ``pending``, ``running``, ``succeeded``, ``failed`` or ``skipped``."""
        return self._state[node]
