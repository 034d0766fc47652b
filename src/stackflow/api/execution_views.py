"""The JSON of one execution for a UI: its record, per-state status and laid-out graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackflow.graph.asl_graph import box_size, definition_graph
from stackflow.graph.asl_status import state_statuses
from stackflow.graph.layout import Edge, Graph, Node, layout
from stackflow.views import execution_graph, parsed_definition, record_json

if TYPE_CHECKING:
    from stackflow.engine import Engine
    from stackflow.store.base import ExecutionRecord, HistoryEvent

__all__ = ["execution_detail", "execution_layout", "is_code"]

#: Node status of a state the execution has not entered.
NOT_STARTED = "not_started"


def is_code(record: ExecutionRecord) -> bool:
    """Return True for an execution of a ``@workflow`` Python function (not ASL).

    Args:
        record: The execution.
    """
    from stackflow.workflow.code.run import code_ref

    return code_ref(record.definition) is not None


def _document(record: ExecutionRecord) -> dict[str, Any]:
    document = parsed_definition(record.definition)
    return document if isinstance(document, dict) else {}


def execution_detail(engine: Engine, record: ExecutionRecord) -> dict[str, Any]:
    """Return ``GET /executions/{id}``: the record with its definition and state statuses.

    Args:
        engine: The engine.
        record: The execution.

    Returns:
        :func:`~stackflow.views.record_json` (full) plus ``version``, ``type`` (``asl`` or
        ``code``), ``children`` (status counts of child executions) and ``states`` (state name to
        status details, :func:`~stackflow.graph.asl_status.state_statuses`; {} for code).
    """
    events = engine.history(record.execution_id)
    code = is_code(record)
    return {
        **record_json(record, full=True),
        "version": record.version,
        "type": "code" if code else "asl",
        "children": engine.store.count_children(record.execution_id),
        "states": {} if code else state_statuses(events, _document(record)),
    }


def execution_layout(record: ExecutionRecord, events: list[HistoryEvent]) -> dict[str, Any]:
    """Return ``GET /executions/{id}/graph``: the graph to draw, each node with its status.

    For an ASL execution, the definition's laid-out graph
    (:func:`~stackflow.graph.asl_graph.definition_graph`) whose state nodes carry ``status``
    (``not_started`` when never entered), ``entries``, ``attempts``, ``retries`` and ``error``.
    For a code execution, the history graph (one node per operation) laid out the same way.

    Args:
        record: The execution.
        events: Its history.
    """
    if is_code(record):
        graph = _layout_history(execution_graph(record.definition, events))
        return {"execution": record.execution_id, "type": "code", "graph": graph}
    document = _document(record)
    states = state_statuses(events, document)
    graph = definition_graph(document)
    for node in graph["nodes"]:
        name = node.get("name")
        if node["kind"] in ("start", "end", "branch", "processor") or name is None:
            continue
        state = states.get(name)
        node["status"] = state["status"] if state else NOT_STARTED
        if state:
            node.update(
                entries=state["entries"],
                attempts=state["attempts"],
                retries=state["retries"],
                error=state["error"],
            )
    for node in graph["nodes"]:
        if node["kind"] == "start":
            node["status"] = "succeeded"
        elif node["kind"] == "end":
            node["status"] = record.status.lower() if record.status != "RUNNING" else NOT_STARTED
    return {
        "execution": record.execution_id,
        "type": "asl",
        "status": record.status,
        "graph": graph,
    }


def _layout_history(history: dict[str, Any]) -> dict[str, Any]:
    """Lay out a code execution's history graph (parallel group nodes are left out)."""
    nodes = [n for n in history["nodes"] if n["kind"] != "parallel"]
    graph = Graph(
        [Node(n["id"], *box_size(str(n["label"]), n["kind"])) for n in nodes],
        [Edge(e["from"], e["to"]) for e in history["edges"]],
    )
    layout(graph)
    placed = {node.id: node for node in graph.nodes}
    out_nodes = []
    for data in nodes:
        box = placed[data["id"]]
        out_nodes.append({**data, "x": box.x, "y": box.y, "width": box.width, "height": box.height})
    edges = [
        {
            "id": f"e{number}",
            "from": edge.source,
            "to": edge.target,
            "kind": "next",
            "points": [[x, y] for x, y in edge.points],
        }
        for number, edge in enumerate(graph.edges)
    ]
    return {
        "width": graph.width,
        "height": graph.height,
        "status": history["status"],
        "nodes": out_nodes,
        "edges": edges,
    }
