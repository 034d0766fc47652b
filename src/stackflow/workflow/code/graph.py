"""The history of a code execution as a graph a UI can draw like an ASL workflow.

Every operation of a code workflow (step, sleep, event wait, child execution, patch marker) is
one node, in program order (its operation index, ``details["step"]``). Operations that were in
flight at the same time -- their intervals from the entering event (``TaskStateEntered``,
``WaitStateEntered``, ``EventWaitStarted``, ``ChildStarted``) to the ending one overlap, as the
steps of one ``step.map`` or of ``submit`` + ``gather`` -- form a *parallel group*: a ``parallel``
node listing its members, drawn side by side, with an edge from the node before the group to
each member and from each member to the node after it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackflow.store.base import HistoryEvent

#: Event that starts an operation -> node kind.
_ENTERING = {
    "TaskStateEntered": "step",
    "WaitStateEntered": "sleep",
    "EventWaitStarted": "event",
    "ChildStarted": "child",
    "StepPatched": "patch",
}

#: Final status of the execution by the event that ends it.
_ENDINGS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}

_OPEN = float("inf")


@dataclass
class _Op:
    index: int
    kind: str
    label: str
    start: int
    end: float = _OPEN
    status: str = "running"
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    batch: int | None = None


def _apply(op: _Op, event: HistoryEvent) -> None:
    """Update an operation with one of its later events."""
    details = event.details
    kind = event.type
    if kind == "TaskFailed":
        if details.get("final", True):
            op.status = "failed"
            op.extra.update(error=details.get("error"), cause=details.get("cause"))
        else:
            op.status = "retrying"
            op.attempts += 1
    elif kind in ("TaskSucceeded", "EventReceived", "ChildSucceeded", "WaitStateExited"):
        op.status = "succeeded"
    elif kind == "EventTimedOut":
        op.status = "succeeded"
        op.extra["timed_out"] = True
    elif kind == "ChildFailed":
        op.status = "failed"
        op.extra.update(error=details.get("error"), cause=details.get("cause"))
    if kind in (
        "TaskStateExited",
        "WaitStateExited",
        "EventReceived",
        "EventTimedOut",
        "ChildSucceeded",
        "ChildFailed",
    ):
        op.end = event.id


def _operations(events: list[HistoryEvent]) -> tuple[list[_Op], str]:
    """Return the operations in program order and the execution's status."""
    ops: dict[int, _Op] = {}
    status = "RUNNING"
    for event in events:
        if event.type in _ENDINGS:
            status = _ENDINGS[event.type]
        elif event.type == "ExecutionRedriven":
            status = "RUNNING"
        index = event.details.get("step")
        if not isinstance(index, int):
            continue
        kind = _ENTERING.get(event.type)
        if kind is not None:
            name = str(event.details.get("name", kind))
            op = _Op(index, kind, name, event.id)
            if kind == "patch":
                op.status, op.end = "succeeded", event.id
            if kind == "child":
                op.extra["child_id"] = event.details.get("child_id")
            batch = event.details.get("batch")
            if isinstance(batch, int):
                op.batch = batch
            if kind in ("sleep", "event") and event.details.get("due") is not None:
                op.extra["due"] = event.details.get("due")
            ops[index] = op
        elif index in ops:
            _apply(ops[index], event)
    ordered = [ops[i] for i in sorted(ops)]
    if status in ("FAILED", "ABORTED", "TIMED_OUT"):
        for op in ordered:  # cut short by the end of the execution
            if op.status in ("running", "retrying"):
                op.status = "aborted"
    return ordered, status


def _units(ops: list[_Op]) -> list[list[_Op]]:
    """Split operations (in program order) into parallel groups and single operations.

    Steps started together (``step.map``, consecutive ``step.submit``) carry the same ``batch``
    in their TaskStateEntered event; histories without it fall back to overlapping intervals.
    """
    if any(op.batch is not None for op in ops):
        batched: list[list[_Op]] = []
        for op in ops:
            if op.batch is not None and batched and batched[-1][0].batch == op.batch:
                batched[-1].append(op)
            else:
                batched.append([op])
        return batched
    units: list[list[_Op]] = []
    reach = -1.0  # latest end among the operations of the current unit
    for op in ops:
        if units and op.start < reach:
            units[-1].append(op)
            reach = max(reach, op.end)
        else:
            units.append([op])
            reach = op.end
    return units


def _node(op: _Op, group: str | None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": f"op-{op.index}",
        "label": op.label,
        "kind": op.kind,
        "status": op.status,
        "attempts": op.attempts,
        "step": op.index,
        "group": group,
        "first_event": op.start,
        "last_event": None if op.end == _OPEN else int(op.end),
    }
    node.update(op.extra)
    return node


def _group_status(members: list[_Op]) -> str:
    statuses = {m.status for m in members}
    for status in ("failed", "aborted", "retrying", "running"):
        if status in statuses:
            return status
    return "succeeded"


def history_graph(events: list[HistoryEvent]) -> dict[str, Any]:
    """Return the graph of a code execution's history.

    Args:
        events: The execution's history events, in order.

    Returns:
        ``{"type": "code", "status", "nodes", "edges"}``. ``status`` is the execution's status
        as the history shows it (``RUNNING`` until an ending event). ``nodes`` holds, in this
        order: a ``start`` node; one node per operation in program order with ``id``
        (``op-INDEX``), ``label`` (step name, ``sleep``, event name, child workflow or change
        id), ``kind`` (``step``, ``sleep``, ``event``, ``child`` or ``patch``), ``status``
        (``succeeded``, ``failed``, ``running``, ``retrying``, or ``aborted`` when the
        execution ended while it was in flight), ``attempts``, ``step`` (the operation index),
        ``group`` (its parallel group's id or None), ``first_event``/``last_event`` (history
        ids; ``last_event`` None while in flight) and, where they apply, ``error``/``cause``,
        ``child_id``, ``due`` and ``timed_out``; a ``parallel`` node (``id`` ``group-N``,
        ``members``, ``label`` the members' common name or ``parallel``) for each set of
        operations in flight together, placed before its members; and an ``end`` node whose
        status is the execution's (lowercase). ``edges`` (``{"from", "to"}``) link the nodes in
        program order: into and out of every member of a group, never to the group node.
    """
    ops, status = _operations(events)
    nodes: list[dict[str, Any]] = [
        {"id": "start", "label": "Start", "kind": "start", "status": "succeeded"}
    ]
    edges: list[dict[str, str]] = []
    previous = ["start"]
    groups = 0
    for unit in _units(ops):
        group = None
        if len(unit) > 1:
            groups += 1
            group = f"group-{groups}"
            labels = {op.label for op in unit}
            nodes.append(
                {
                    "id": group,
                    "label": labels.pop() if len(labels) == 1 else "parallel",
                    "kind": "parallel",
                    "status": _group_status(unit),
                    "members": [f"op-{op.index}" for op in unit],
                    "steps": [op.index for op in unit],
                }
            )
        current = []
        for op in unit:
            node = _node(op, group)
            nodes.append(node)
            current.append(node["id"])
        edges += [{"from": a, "to": b} for a in previous for b in current]
        previous = current
    nodes.append({"id": "end", "label": "End", "kind": "end", "status": status.lower()})
    edges += [{"from": a, "to": "end"} for a in previous]
    return {"type": "code", "status": status, "nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------------------- ASL


@dataclass
class _State:
    name: str
    kind: str
    parent: str | None
    branch: int | None
    first: int
    entries: int = 0
    exits: int = 0
    last_event: int | None = None


def _scopes(document: dict[str, Any]) -> dict[str, tuple[str | None, int | None]]:
    """Return state name -> (enclosing Parallel/Map state, branch index) for a definition."""
    found: dict[str, tuple[str | None, int | None]] = {}

    def walk(states: Any, parent: str | None, branch: int | None) -> None:
        if not isinstance(states, dict):
            return
        for name, state in states.items():
            found.setdefault(name, (parent, branch))
            if not isinstance(state, dict):
                continue
            for number, sub in enumerate(state.get("Branches") or []):
                if isinstance(sub, dict):
                    walk(sub.get("States"), name, number)
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict):
                walk(processor.get("States"), name, 0)

    walk(document.get("States"), None, None)
    return found


def asl_history_graph(events: list[HistoryEvent], document: dict[str, Any]) -> dict[str, Any]:
    """Return the graph of an ASL execution's history, in the shape of :func:`history_graph`.

    Nodes are the states entered (``*StateEntered``/``*StateExited`` events; a state entered
    several times -- a loop, a Map's iterations -- is one node whose ``attempts`` counts the
    entries), in the order they were first entered. The definition tells which Parallel branch
    or Map item processor a state belongs to: such states carry ``parent`` (the Parallel or Map
    state) and ``branch`` (the branch index; 0 for a Map's item processor), and the edges go from
    the Parallel/Map node to the first state of each branch and from the last state of each
    branch to the node after the Parallel/Map (branches side by side).

    Args:
        events: The execution's history events, in order.
        document: The parsed ASL definition.

    Returns:
        ``{"type": "asl", "status", "nodes", "edges"}`` with ``start`` and ``end`` nodes; a
        state node has ``id`` (``state:NAME``), ``label``, ``kind`` (the state type, lowercase),
        ``status`` (``succeeded`` when every entry exited, ``running`` while one is in flight,
        ``failed``/``aborted`` when the execution ended while it was), ``attempts``, ``parent``,
        ``branch``, ``first_event`` and ``last_event``.
    """
    scopes = _scopes(document)
    states: dict[str, _State] = {}
    status = "RUNNING"
    for event in events:
        if event.type in _ENDINGS:
            status = _ENDINGS[event.type]
        elif event.type == "ExecutionRedriven":
            status = "RUNNING"
        name = event.details.get("name")
        if not isinstance(name, str):
            continue
        for suffix in ("StateEntered", "StateExited"):
            if event.type.endswith(suffix) and len(event.type) > len(suffix):
                kind = event.type[: -len(suffix)].lower()
                parent, branch = scopes.get(name, (None, None))
                state = states.setdefault(name, _State(name, kind, parent, branch, event.id))
                if suffix == "StateEntered":
                    state.entries += 1
                else:
                    state.exits += 1
                state.last_event = event.id
    ended = {"FAILED": "failed", "ABORTED": "aborted", "TIMED_OUT": "aborted"}
    nodes: list[dict[str, Any]] = [
        {"id": "start", "label": "Start", "kind": "start", "status": "succeeded"}
    ]
    for state in states.values():
        in_flight = state.entries > state.exits
        nodes.append(
            {
                "id": f"state:{state.name}",
                "label": state.name,
                "kind": state.kind,
                "status": (ended.get(status, "running") if in_flight else "succeeded"),
                "attempts": state.entries,
                "parent": state.parent,
                "branch": state.branch,
                "first_event": state.first,
                "last_event": state.last_event,
            }
        )
    nodes.append({"id": "end", "label": "End", "kind": "end", "status": status.lower()})
    edges: list[dict[str, str]] = []

    def members(parent: str | None, branch: int | None) -> list[_State]:
        return [s for s in states.values() if (s.parent, s.branch) == (parent, branch)]

    def chain(scope: list[_State], previous: list[str]) -> list[str]:
        for state in scope:
            node = f"state:{state.name}"
            edges.extend({"from": p, "to": node} for p in previous)
            branches = sorted({s.branch or 0 for s in states.values() if s.parent == state.name})
            lasts: list[str] = []
            for number in branches:
                lasts += chain(members(state.name, number), [node])
            previous = lasts or [node]
        return previous

    for last in chain(members(None, None), ["start"]):
        edges.append({"from": last, "to": "end"})
    return {"type": "asl", "status": status, "nodes": nodes, "edges": edges}
