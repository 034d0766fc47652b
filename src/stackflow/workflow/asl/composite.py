"""Parallel and Map: states that run nested state machines in child frames or child executions.

A Parallel state spawns one frame per branch. An inline Map spawns one frame per item, at most
``MaxConcurrency`` at a time. A Distributed Map asks the runtime to start one child execution per
item (the ``StartChild`` command) and tolerates failures up to its thresholds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from stackflow.errors import (
    STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RUNTIME,
    PathNotFoundError,
    WorkflowFailure,
)
from stackflow.types import JSON
from stackflow.workflow.asl import dataflow, distributed, jsonpath
from stackflow.workflow.asl.execstate import (
    CHILDREN,
    CHILDREN_DONE,
    ITEMS,
    ITERATION,
    START,
    WRITING,
    CancelTask,
    ExecState,
    Frame,
    ReadItems,
    StartChild,
    WriteResults,
)
from stackflow.workflow.asl.jsonata_query import template_expression, unexpected_type_cause
from stackflow.workflow.asl.machine import branch_key, processor_key
from stackflow.workflow.asl.payload import compact_json

if TYPE_CHECKING:
    from stackflow.workflow.asl.interpreter import Interpreter


# --------------------------------------------------------------------------------- entry


def enter_parallel(
    interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict
) -> None:
    """Compute the branch input of a Parallel state and start its branches."""
    from stackflow.workflow.asl.simple_states import state_arguments

    ctx = interp.maybe_context(st, frame)
    frame.data["args"] = state_arguments(interp, st, frame, state, ctx)
    frame.phase = START
    start(interp, st, frame, now)


def enter_map(interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict) -> None:
    """Compute the items and limits of a Map state and start its iterations."""
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    data = frame.data
    reader = "ItemReader" in state
    items: Any = None
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(raw, ctx)
        if reader:
            pass
        elif "Items" in state:
            items = dataflow.jsonata_value(state["Items"], states, variables, "Items")
            _check_items(items, state["Items"])
        else:
            items = raw
            if not isinstance(items, list):
                raise WorkflowFailure(
                    STATES_QUERY_EVALUATION_ERROR,
                    f"Map state input must be an array but was: {compact_json(items)}",
                )
        data["effective"] = raw
        data["max"] = _jsonata_int(state, "MaxConcurrency", states, variables, 0)
        data["tol_count"] = _jsonata_int(state, "ToleratedFailureCount", states, variables, 0)
        data["tol_pct"] = _jsonata_int(state, "ToleratedFailurePercentage", states, variables, 0)
    else:
        effective = dataflow.select_path(
            raw, state.get("InputPath", "$"), context=ctx, variables=variables
        )
        if reader:
            pass
        elif "Items" in state:
            items = state["Items"]
        else:
            items = dataflow.select_path(
                effective, state.get("ItemsPath", "$"), context=ctx, variables=variables
            )
        if not reader and not isinstance(items, list):
            raise WorkflowFailure(
                STATES_RUNTIME,
                f"Map state input must be an array but was: {compact_json(items)}",
            )
        data["effective"] = effective
        data["max"] = _limit(state, "MaxConcurrency", effective, ctx, variables, int)
    if data["max"] == 0 and distributed.is_distributed(state):
        data["max"] = distributed.DEFAULT_DISTRIBUTED_CONCURRENCY
    if reader:
        frame.phase = ITEMS
        st.commands.append(distributed.read_command(interp, st, frame, state))
        return
    items_ready(interp, st, frame, now, items)


def items_ready(interp: Interpreter, st: ExecState, frame: Frame, now: float, items: Any) -> None:
    """Start the Map once its items are known (after the ItemReader, for a Distributed Map)."""
    state = interp.machine.state(frame.scope, frame.state)
    frame.token = None
    if not isinstance(items, list):
        raise WorkflowFailure(
            STATES_RUNTIME, f"Map state input must be an array but was: {compact_json(items)}"
        )
    frame.data["items"] = distributed.batch(interp, st, frame, state, items)
    frame.phase = START
    start(interp, st, frame, now)


def _check_items(items: JSON, template: Any) -> None:
    if not isinstance(items, list):
        expression = template_expression(template)
        cause = unexpected_type_cause(expression, "Items", "array", items)
        raise WorkflowFailure(STATES_QUERY_EVALUATION_ERROR, cause)


# --------------------------------------------------------------------------------- (re)start


def start(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """Start (or restart after a retry) the branches or iterations of the frame's state."""
    state = interp.machine.state(frame.scope, frame.state)
    data = frame.data
    data["children"] = []
    if state["Type"] == "Parallel":
        interp.emit(st, frame, "ParallelStateStarted", now, {})
        branches = state.get("Branches") or []
        data["results"] = [None] * len(branches)
        data["remaining"] = len(branches)
        frame.phase = CHILDREN
        if not branches:
            frame.phase = CHILDREN_DONE
            interp.schedule(st, frame)
        for i in range(len(branches)):
            key = branch_key(frame.scope, frame.state, i)
            child = interp.new_frame(
                st, frame, key, i, interp.machine.scopes[key].start_at, data["args"]
            )
            data["children"].append(child.id)
        return
    interp.emit(st, frame, "MapStateStarted", now, {"length": len(data["items"])})
    if not interp.is_jsonata(frame, state):
        _tolerance(interp, st, frame, state)
    count = len(data["items"])
    data["results"] = [None] * count
    data["next_item"] = 0
    data["running"] = 0
    data["done"] = 0
    data["failures"] = 0
    frame.phase = CHILDREN
    if distributed.is_distributed(state):
        interp.emit(st, frame, "MapRunStarted", now, {})
    if count == 0:
        frame.phase = CHILDREN_DONE
        interp.schedule(st, frame)
        return
    _fill(interp, st, frame, now)


def _tolerance(interp: Interpreter, st: ExecState, frame: Frame, state: dict) -> None:
    """Evaluate ToleratedFailureCount/Percentage(Path) (after MapStateStarted, as AWS does)."""
    data = frame.data
    effective = data["effective"]
    ctx = interp.maybe_context(st, frame)
    variables = interp.variables(st, frame)
    data["tol_count"] = _limit(state, "ToleratedFailureCount", effective, ctx, variables, int)
    data["tol_pct"] = _limit(state, "ToleratedFailurePercentage", effective, ctx, variables, float)
    if data["tol_count"] < 0:
        raise WorkflowFailure(STATES_RUNTIME, "ToleratedFailureCount cannot be negative.")
    if not 0 <= data["tol_pct"] <= 100:
        raise WorkflowFailure(
            STATES_RUNTIME, "ToleratedFailurePercentage must be between 0 and 100."
        )


def _fill(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """Start iterations until MaxConcurrency are running or every item has started."""
    state = interp.machine.state(frame.scope, frame.state)
    data = frame.data
    items = data["items"]
    limit = data["max"] or len(items)
    as_children = distributed.is_distributed(state)
    key = processor_key(frame.scope, frame.state, state)
    while data["next_item"] < len(items) and data["running"] < limit:
        index = data["next_item"]
        data["next_item"] += 1
        data["running"] += 1
        item_input = _item_input(interp, st, frame, state, index, items[index])
        if as_children:
            token = interp.new_token(st, frame, "c")
            data.setdefault("child_index", {})[token] = index
            st.commands.append(_child_command(interp, st, frame, state, token, item_input))
        else:
            scope = interp.machine.scopes[key]
            child = interp.new_frame(st, frame, key, index, scope.start_at, item_input)
            child.phase = ITERATION
            data["children"].append(child.id)


def _child_command(
    interp: Interpreter, st: ExecState, frame: Frame, state: dict, token: str, item_input: JSON
) -> StartChild:
    """Return the command that starts the child execution of one Distributed Map item."""
    key = processor_key(frame.scope, frame.state, state)
    definition = dict(state.get("ItemProcessor") or state.get("Iterator") or {})
    definition.pop("ProcessorConfig", None)
    definition.setdefault("QueryLanguage", interp.machine.scopes[key].query_language)
    index = frame.data.get("child_index", {}).get(token, 0)
    name = f"{distributed.children_prefix(st, frame)}{index}:{token}"
    return StartChild(token, definition, item_input, name)


def resume_io(interp: Interpreter, st: ExecState, frame: Frame) -> ReadItems | WriteResults:
    """Return the ItemReader or ResultWriter command a recovered Distributed Map waits for."""
    state = interp.machine.state(frame.scope, frame.state)
    token = frame.token
    st.pending.pop(token or "", None)
    if frame.phase == ITEMS:
        return distributed.read_command(interp, st, frame, state)
    return distributed.write_command(interp, st, frame, state)


def resume_children(interp: Interpreter, st: ExecState, frame: Frame) -> list[StartChild]:
    """Return the commands for a Distributed Map's children that were started and not finished.

    The runtime attaches to a child that already exists instead of starting it again.
    """
    state = interp.machine.state(frame.scope, frame.state)
    items = frame.data.get("items") or []
    commands = []
    for token, index in frame.data.get("child_index", {}).items():
        item_input = _item_input(interp, st, frame, state, index, items[index])
        commands.append(_child_command(interp, st, frame, state, token, item_input))
    return commands


def _item_input(
    interp: Interpreter, st: ExecState, frame: Frame, state: dict, index: int, item: JSON
) -> JSON:
    jsonata = interp.is_jsonata(frame, state)
    if "ItemSelector" not in state and (jsonata or "Parameters" not in state):
        return item
    variables = interp.variables(st, frame)
    ctx = interp.context(st, frame, {"Map": {"Item": {"Index": index, "Value": item}}})
    if jsonata:
        states = dataflow.jsonata_states(frame.input, ctx)
        return dataflow.jsonata_value(state["ItemSelector"], states, variables, "ItemSelector")
    selector = state.get("ItemSelector", state.get("Parameters"))
    if selector is None:
        return item
    field = "ItemSelector" if "ItemSelector" in state else "Parameters"
    return dataflow.evaluate_template(
        selector, frame.data["effective"], context=ctx, variables=variables, field=field
    )


def iteration_started(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """Emit MapIterationStarted for an inline iteration frame, then enter its first state."""
    parent = st.frames[frame.parent] if frame.parent is not None else None
    name = parent.state if parent is not None else ""
    interp.emit(st, frame, "MapIterationStarted", now, {"name": name, "index": frame.index})
    frame.phase = "enter"
    interp.schedule(st, frame)


# --------------------------------------------------------------------------------- children


def child_succeeded(
    interp: Interpreter, st: ExecState, parent: Frame, child: Frame, output: JSON, now: float
) -> None:
    """Record a branch's or iteration's output in its parent frame."""
    data = parent.data
    data["results"][child.index] = output
    if child.id in data["children"]:
        data["children"].remove(child.id)
    state = interp.machine.state(parent.scope, parent.state)
    if state["Type"] == "Parallel":
        data["remaining"] -= 1
        if data["remaining"] == 0:
            parent.phase = CHILDREN_DONE
            interp.schedule(st, parent)
        return
    event = interp.emit(
        st, child, "MapIterationSucceeded", now, {"name": parent.state, "index": child.index}
    )
    parent.last_event = event.id
    data["running"] -= 1
    data["done"] += 1
    _after_item(interp, st, parent, now)


def _after_item(interp: Interpreter, st: ExecState, parent: Frame, now: float) -> None:
    data = parent.data
    if data["done"] == len(data["items"]):
        parent.phase = CHILDREN_DONE
        interp.schedule(st, parent)
    else:
        _fill(interp, st, parent, now)


def child_failed(
    interp: Interpreter,
    st: ExecState,
    parent: Frame,
    child: Frame,
    error: str | None,
    cause: str | None,
    now: float,
) -> None:
    """A branch or iteration failed: the parent state fails with the same error."""
    data = parent.data
    if child.id in data.get("children", []):
        data["children"].remove(child.id)
    state = interp.machine.state(parent.scope, parent.state)
    if state["Type"] == "Map":
        event = interp.emit(
            st, child, "MapIterationFailed", now, {"name": parent.state, "index": child.index}
        )
        parent.last_event = event.id
    interp.state_failed(st, parent, error, cause, now)


def distributed_child_finished(
    interp: Interpreter,
    st: ExecState,
    frame: Frame,
    token: str,
    status: str,
    output: JSON,
    error: str | None,
    cause: str | None,
) -> None:
    """Record the end of a Distributed Map child execution."""
    data = frame.data
    index = data.get("child_index", {}).pop(token, None)
    if index is None:
        return
    now = st.start_time if not st.events else st.events[-1].timestamp
    data["running"] -= 1
    data["done"] += 1
    keep = "ResultWriter" not in interp.machine.state(frame.scope, frame.state)
    if status == "SUCCEEDED":
        data["results"][index] = output if keep else None
    else:
        data["failures"] += 1
        data["results"][index] = {"Error": error, "Cause": cause}
        if _exceeds_tolerance(data):
            interp.emit(st, frame, "MapRunFailed", now, {"error": error, "cause": cause})
            _cancel_children(st, frame)
            interp.state_failed(
                st,
                frame,
                STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
                now,
            )
            return
    _after_item(interp, st, frame, now)


def _exceeds_tolerance(data: dict) -> bool:
    failures = data["failures"]
    total = len(data["items"])
    if failures <= data["tol_count"]:
        return False
    return not (total and failures * 100.0 / total <= data["tol_pct"])


def children_done(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """Every branch or iteration ended: complete the state with the collected results."""
    from stackflow.workflow.asl.simple_states import finish_with_result

    state = interp.machine.state(frame.scope, frame.state)
    if state["Type"] == "Map":
        if distributed.is_distributed(state):
            interp.emit(st, frame, "MapRunSucceeded", now, {})
            if isinstance(state.get("ResultWriter"), dict):
                frame.phase = WRITING
                st.commands.append(distributed.write_command(interp, st, frame, state))
                return
        interp.emit(st, frame, "MapStateSucceeded", now, {})
    results = frame.data["results"]
    finish_with_result(interp, st, frame, state, results)


def results_written(
    interp: Interpreter, st: ExecState, frame: Frame, now: float, output: JSON
) -> None:
    """Complete a Distributed Map with the ResultWriter's output (its manifest reference)."""
    from stackflow.workflow.asl.simple_states import finish_with_result

    frame.token = None
    interp.emit(st, frame, "MapStateSucceeded", now, {})
    state = interp.machine.state(frame.scope, frame.state)
    finish_with_result(interp, st, frame, state, output)


def abort_children(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """Stop every branch or iteration still running under ``frame`` (recursively)."""
    data = frame.data
    children = data.get("children") or []
    state = interp.machine.state(frame.scope, frame.state)
    for child_id in list(children):
        child = st.frames.get(child_id)
        if child is None:
            continue
        _abort_frame(interp, st, child, now)
        if state["Type"] == "Map":
            interp.emit(
                st, child, "MapIterationAborted", now, {"name": frame.state, "index": child.index}
            )
    if children:
        data["children"] = []
    _cancel_children(st, frame)


def _abort_frame(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    if frame.data.get("children"):
        abort_children(interp, st, frame, now)
    for token in (frame.token, frame.data.get("timeout_token")):
        if token is not None and token in st.pending:
            del st.pending[token]
            if token.startswith("k"):
                st.commands.append(CancelTask(token))
    st.frames.pop(frame.id, None)


def _cancel_children(st: ExecState, frame: Frame) -> None:
    for token in list(frame.data.get("child_index", {})):
        st.pending.pop(token, None)
        st.commands.append(CancelTask(token))
    frame.data["child_index"] = {}


# --------------------------------------------------------------------------------- helpers


def _limit(state: dict, field: str, data: JSON, ctx: JSON, variables: Any, kind: type) -> Any:
    if field in state:
        return state[field]
    path = state.get(field + "Path")
    if path is None:
        return kind(0)
    try:
        value = jsonpath.evaluate_path(path, data, context=ctx, variables=variables)
    except PathNotFoundError:
        raise WorkflowFailure(
            STATES_RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}Path' could not be found in "
            f"the input '{compact_json(data)}'",
        ) from None
    converted = _convert(value, kind)
    if converted is None:
        kind_name = "integer" if kind is int else "float"
        shown = value if isinstance(value, str) else compact_json(value)
        raise WorkflowFailure(
            STATES_RUNTIME,
            f'The {field}Path field refers to value "{shown}" which is not a valid '
            f"{kind_name}: {path}",
        )
    return converted


def _convert(value: JSON, kind: type) -> Any:
    if isinstance(value, bool):
        return None
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return None
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _jsonata_int(state: dict, field: str, states: dict, variables: Any, default: int) -> Any:
    if field not in state:
        return default
    value = state[field]
    if isinstance(value, str):
        value = dataflow.jsonata_value(value, states, variables, field)
    return value
