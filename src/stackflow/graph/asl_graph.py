"""An Amazon States Language definition as a laid-out graph a web UI draws as SVG.

:func:`definition_graph` turns a parsed definition into boxes and polylines: one node per state,
``start`` and ``end`` nodes around the top level, Parallel branches and Map item processors as
lanes nested inside their state's box, and edges for ``Next``, Choice rules and ``Default``,
``Catch`` (marked ``dashed``) and the way out of terminal states. The layout comes from
:mod:`stackflow.graph.layout`, so the same definition always gives the same picture.

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stackflow.graph.layout import Edge, Graph, LayoutOptions, Node, layout

__all__ = ["StateScope", "box_size", "definition_graph", "node_id", "state_scopes"]

#: Size of a state's box.
_STATE_HEIGHT = 44.0
_MIN_WIDTH = 110.0
_MAX_WIDTH = 260.0
_CHAR_WIDTH = 7.5
#: Size of the start and end circles.
_TERMINAL_SIZE = 28.0
#: Longest edge label kept (longer ones end with an ellipsis).
_LABEL_LIMIT = 40


@dataclass(frozen=True)
class StateScope:
    """Where a state sits in a definition.

    Attributes:
        parent: The Parallel or Map state whose branch or item processor holds it, or None at
            the top level.
        branch: The branch index in that Parallel (0 for a Map's item processor), or None.
        state_type: The state's ``Type`` (``Task``, ``Choice``...; "" when missing).
    """

    parent: str | None
    branch: int | None
    state_type: str


def box_size(label: str, kind: str = "state") -> tuple[float, float]:
    """Return the ``(width, height)`` of a node: a circle for ``start``/``end``, else a box that
    fits its label.

    Args:
        label: The text shown in the node.
        kind: The node's kind (``start``, ``end``, or anything else for a box).
    """
    if kind in ("start", "end"):
        return _TERMINAL_SIZE, _TERMINAL_SIZE
    return min(_MAX_WIDTH, max(_MIN_WIDTH, len(label) * _CHAR_WIDTH + 40)), _STATE_HEIGHT


def node_id(state: str) -> str:
    """Return the graph node id of a state (``state:NAME``, as in the history graph).

    Args:
        state: The state name.
    """
    return f"state:{state}"


def _lanes_of(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the sub-machines (``{"StartAt", "States"}``) inside a Parallel or Map state."""
    if state.get("Type") == "Parallel":
        return [b for b in state.get("Branches") or [] if isinstance(b, Mapping)]
    if state.get("Type") == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")
        return [processor] if isinstance(processor, Mapping) else []
    return []


def _states_of(machine: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    states = machine.get("States")
    if isinstance(states, Mapping):
        for name, state in states.items():
            if isinstance(state, Mapping):
                yield str(name), state


def state_scopes(document: Mapping[str, Any]) -> dict[str, StateScope]:
    """Return every state of a definition (nested ones too) with where it sits.

    Args:
        document: The parsed definition.

    Returns:
        State name to :class:`StateScope`; a name used twice keeps its first (outermost) place.
    """
    found: dict[str, StateScope] = {}

    def walk(machine: Mapping[str, Any], parent: str | None, branch: int | None) -> None:
        for name, state in _states_of(machine):
            found.setdefault(name, StateScope(parent, branch, str(state.get("Type", ""))))
            for number, lane in enumerate(_lanes_of(state)):
                walk(lane, name, number)

    walk(document, None, None)
    return found


# ------------------------------------------------------------------------------ building


@dataclass
class _EdgeInfo:
    kind: str
    label: str | None
    scope: str | None


@dataclass
class _NodeInfo:
    name: str | None
    kind: str
    label: str
    parent: str | None
    branch: int | None
    extra: dict[str, Any]


class _Builder:
    """Collects layout nodes and edges plus what the JSON says about each."""

    def __init__(self) -> None:
        self.nodes: dict[str, _NodeInfo] = {}
        self.edges: dict[int, _EdgeInfo] = {}
        self.lanes: dict[str, Graph] = {}

    def machine(
        self, machine: Mapping[str, Any], scope: str | None, top: bool, parent: str | None
    ) -> Graph:
        """Return the graph of one state machine (the top level or a branch)."""
        states = dict(_states_of(machine))
        start_at = machine.get("StartAt")
        order = sorted(states, key=lambda name: name != start_at)  # StartAt first, stable
        graph = Graph([], [], id=scope or "")
        if top:
            graph.nodes.append(self._terminal("start", "Start"))
        for name in order:
            graph.nodes.append(self._state(name, states[name], scope, parent, start_at))
        if top and isinstance(start_at, str) and start_at in states:
            self._edge(graph, "start", node_id(start_at), "start", None, scope)
        for name in order:
            self._edges_of(graph, name, states[name], states, scope, top)
        if top:
            graph.nodes.append(self._terminal("end", "End"))
        return graph

    def _terminal(self, ident: str, label: str) -> Node:
        self.nodes[ident] = _NodeInfo(None, ident, label, None, None, {})
        return Node(ident, *box_size(label, ident))

    def _state(
        self,
        name: str,
        state: Mapping[str, Any],
        scope: str | None,
        parent: str | None,
        start_at: Any,
    ) -> Node:
        state_type = str(state.get("Type", ""))
        extra: dict[str, Any] = {
            "type": state_type,
            "start": name == start_at,
            "terminal": bool(state.get("End")) or state_type in ("Succeed", "Fail"),
        }
        for key, field_name in (("Comment", "comment"), ("Resource", "resource")):
            if isinstance(state.get(key), str):
                extra[field_name] = state[key]
        branch = None
        if scope is not None:
            branch = int(scope.rsplit(":", 1)[1]) if scope.startswith("branch:") else 0
        self.nodes[node_id(name)] = _NodeInfo(
            name, state_type.lower() or "state", name, scope or parent, branch, extra
        )
        node = Node(node_id(name), *box_size(name))
        for number, lane in enumerate(_lanes_of(state)):
            if state_type == "Parallel":
                lane_id, kind, label = f"branch:{name}:{number}", "branch", f"Branch {number + 1}"
            else:
                lane_id, kind, label = f"processor:{name}", "processor", "Item processor"
            self.nodes[lane_id] = _NodeInfo(None, kind, label, node_id(name), number, {})
            sub = self.machine(lane, lane_id, False, node_id(name))
            self.lanes[lane_id] = sub
            node.lanes.append(sub)
        return node

    def _edges_of(
        self,
        graph: Graph,
        name: str,
        state: Mapping[str, Any],
        states: Mapping[str, Any],
        scope: str | None,
        top: bool,
    ) -> None:
        source = node_id(name)

        def link(target: Any, kind: str, label: str | None) -> None:
            if isinstance(target, str) and target in states:
                self._edge(graph, source, node_id(target), kind, label, scope)

        if state.get("Type") == "Choice":
            for number, rule in enumerate(state.get("Choices") or []):
                if isinstance(rule, Mapping):
                    link(rule.get("Next"), "choice", _rule_label(rule, number))
            link(state.get("Default"), "default", "Default")
        else:
            link(state.get("Next"), "next", None)
        for catcher in state.get("Catch") or []:
            if isinstance(catcher, Mapping):
                errors = catcher.get("ErrorEquals")
                label = ", ".join(str(e) for e in errors) if isinstance(errors, list) else None
                link(catcher.get("Next"), "catch", _shorten(label) if label else None)
        if top and (state.get("End") or state.get("Type") in ("Succeed", "Fail")):
            self._edge(graph, source, "end", "end", None, scope)

    def _edge(
        self, graph: Graph, source: str, target: str, kind: str, label: str | None, scope: Any
    ) -> None:
        edge = Edge(source, target)
        graph.edges.append(edge)
        self.edges[id(edge)] = _EdgeInfo(kind, label, scope)


def _shorten(text: str) -> str:
    return text if len(text) <= _LABEL_LIMIT else text[: _LABEL_LIMIT - 1] + "…"


_OPERATORS = {
    "Equals": "==",
    "GreaterThan": ">",
    "GreaterThanEquals": ">=",
    "LessThan": "<",
    "LessThanEquals": "<=",
    "Matches": "matches",
}


def _rule_label(rule: Mapping[str, Any], number: int) -> str:
    """Return a short text for a Choice rule (its condition, or ``Rule N``)."""
    if isinstance(rule.get("Condition"), str):
        return _shorten(str(rule["Condition"]))
    if isinstance(rule.get("Comment"), str):
        return _shorten(str(rule["Comment"]))
    variable = rule.get("Variable")
    if isinstance(variable, str):
        for key, value in rule.items():
            if key in ("Variable", "Next", "Comment", "Assign", "Output"):
                continue
            operator = key.removesuffix("Path")
            for prefix in ("String", "Numeric", "Boolean", "Timestamp"):
                operator = operator.removeprefix(prefix)
            symbol = _OPERATORS.get(operator, key)
            shown = value if key.endswith("Path") else json.dumps(value)
            return _shorten(f"{variable} {symbol} {shown}")
    for combinator in ("And", "Or", "Not"):
        if combinator in rule:
            return f"{combinator} rule {number + 1}"
    return f"Rule {number + 1}"


# ------------------------------------------------------------------------------ JSON


def definition_graph(
    document: Mapping[str, Any], options: LayoutOptions | None = None
) -> dict[str, Any]:
    """Return a laid-out graph of an ASL definition, ready to draw.

    Args:
        document: The parsed definition (an invalid one gives what can be drawn of it).
        options: Layout spacing.

    Returns:
        ``{"width", "height", "nodes", "edges"}``. Nodes come parents first (draw in order):
        ``start`` and ``end`` circles (``kind`` ``start``/``end``); a node per state with ``id``
        ``state:NAME``, ``name``, ``label``, ``kind`` (the ASL type in lower case), ``type``,
        ``start`` (it is its machine's StartAt), ``terminal``, ``comment``/``resource`` when
        set, ``parent`` (the enclosing lane's id, or None) and ``branch``; and for every
        Parallel branch a ``branch`` node (``branch:STATE:N``) and for a Map a ``processor``
        node (``processor:STATE``) whose ``parent`` is the state. Each has ``x``, ``y``
        (top-left), ``width`` and ``height``. Edges have ``id``, ``from``, ``to``, ``kind``
        (``start``, ``next``, ``choice``, ``default``, ``catch``, ``end``), ``label``,
        ``dashed`` (Catch edges), ``back`` (it closes a loop), ``scope`` (the lane holding it,
        or None) and ``points`` (``[[x, y], ...]``).
    """
    builder = _Builder()
    graph = builder.machine(document, None, True, None)
    layout(graph, options)
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []

    def emit(current: Graph) -> None:
        for node in current.nodes:
            nodes.append(_node_json(node.id, builder.nodes[node.id], node.x, node.y, node))
            for lane in node.lanes:
                info = builder.nodes[lane.id]
                nodes.append(_node_json(lane.id, info, lane.x, lane.y, lane))
                emit(lane)
        for edge in current.edges:
            info_edge = builder.edges[id(edge)]
            edges.append(
                {
                    "id": f"e{len(edges)}",
                    "from": edge.source,
                    "to": edge.target,
                    "kind": info_edge.kind,
                    "label": info_edge.label,
                    "dashed": info_edge.kind == "catch",
                    "back": edge.back,
                    "scope": info_edge.scope,
                    "points": [[_round(x), _round(y)] for x, y in edge.points],
                }
            )

    emit(graph)
    return {
        "width": _round(graph.width),
        "height": _round(graph.height),
        "nodes": nodes,
        "edges": edges,
    }


def _node_json(
    ident: str, info: _NodeInfo, x: float, y: float, box: Node | Graph
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ident,
        "name": info.name,
        "label": info.label,
        "kind": info.kind,
        "parent": info.parent,
        "branch": info.branch,
        "x": _round(x),
        "y": _round(y),
        "width": _round(box.width),
        "height": _round(box.height),
    }
    data.update(info.extra)
    return data


def _round(value: float) -> float:
    return round(value, 1)
