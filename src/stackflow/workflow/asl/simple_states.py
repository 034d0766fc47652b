"""Steps of the states that run within one frame: Pass, Choice, Wait, Succeed, Fail, Task.

Each function takes the interpreter, the execution state, the frame and the time, computes what
the state does, and leaves the frame in its next phase. Map and Parallel live in ``composite``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from stackflow.errors import (
    STATES_DATA_LIMIT_EXCEEDED,
    STATES_NO_CHOICE_MATCHED,
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RUNTIME,
    PathNotFoundError,
    WorkflowFailure,
)
from stackflow.types import JSON
from stackflow.workflow.asl import choice, composite, dataflow, jsonpath, timestamps
from stackflow.workflow.asl.execstate import EXIT, START, TASK, TIMER, ExecState, Frame, RunTask
from stackflow.workflow.asl.execstate import StartTimer as StartTimerCommand
from stackflow.workflow.asl.jsonata_query import json_type_name
from stackflow.workflow.asl.payload import compact_json
from stackflow.workflow.asl.tokens import make_task_token

if TYPE_CHECKING:
    from stackflow.workflow.asl.interpreter import Interpreter

#: Longest Wait Step Functions accepts (seconds); longer waits fail with States.Runtime.
MAX_WAIT_SECONDS = 2**31 - 1


def enter(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """Run the entry work of the frame's current state."""
    state = interp.machine.state(frame.scope, frame.state)
    handler = _ENTER[state["Type"]]
    handler(interp, st, frame, now, state)


def _exit_with(interp: Interpreter, st: ExecState, frame: Frame, out: JSON, **extra: Any) -> None:
    limit = interp.payload_limit
    if limit is not None and isinstance(out, (dict, list, str)) and _size(out) > limit:
        raise WorkflowFailure(
            STATES_DATA_LIMIT_EXCEEDED,
            f"The state/task '{frame.state}' returned a result with a size exceeding the "
            "maximum number of bytes service limit.",
        )
    frame.data["out"] = out
    frame.data.update(extra)
    frame.phase = EXIT
    interp.schedule(st, frame)


# --------------------------------------------------------------------------------- Pass


def _pass(interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict) -> None:
    raw = frame.input
    variables = interp.variables(st, frame)
    if interp.is_jsonata(frame, state):
        ctx = interp.maybe_context(st, frame)
        states = dataflow.jsonata_states(raw, ctx)
        out = raw
        if "Output" in state:
            out = dataflow.jsonata_value(state["Output"], states, variables, "Output")
        assign = dataflow.assign_jsonata(state.get("Assign"), states, variables)
        _exit_with(interp, st, frame, out, assign=assign)
        return
    ctx = interp.maybe_context(st, frame)
    effective = dataflow.select_path(
        raw, state.get("InputPath", "$"), context=ctx, variables=variables
    )
    if "Parameters" in state:
        effective = dataflow.evaluate_template(
            state["Parameters"], effective, context=ctx, variables=variables, field="Parameters"
        )
    result = state.get("Result", effective)
    assign = dataflow.assign_jsonpath(state.get("Assign"), result, context=ctx, variables=variables)
    out = dataflow.merge_result(raw, state.get("ResultPath", "$"), result)
    out = dataflow.select_path(out, state.get("OutputPath", "$"), context=ctx, variables=variables)
    _exit_with(interp, st, frame, out, assign=assign)


# --------------------------------------------------------------------------------- Choice


def _choice(interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict) -> None:
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(raw, ctx)
        for index, rule in enumerate(state.get("Choices") or []):
            field = f"Choices/{index}/Condition"
            matched = dataflow.jsonata_value(rule.get("Condition"), states, variables, field)
            if not isinstance(matched, bool):
                raise WorkflowFailure(
                    STATES_QUERY_EVALUATION_ERROR,
                    f"The JSONata expression '{_strip(rule.get('Condition'))}' specified for the "
                    f"field 'Condition' returned an unexpected result type. Expected 'boolean', "
                    f"but was '{json_type_name(matched)}' for value: {compact_json(matched)}",
                )
            if matched:
                _jsonata_choice_exit(interp, st, frame, rule, states, variables, rule["Next"])
                return
        default = state.get("Default")
        if default is None:
            raise _no_choice()
        _jsonata_choice_exit(interp, st, frame, state, states, variables, default)
        return
    effective = dataflow.select_path(
        raw, state.get("InputPath", "$"), context=ctx, variables=variables
    )
    target: str | None = None
    assign_block: Any = state.get("Assign")
    for rule in state.get("Choices") or []:
        if choice.evaluate_rule(rule, effective, context=ctx, variables=variables):
            target = rule["Next"]
            assign_block = rule.get("Assign")
            break
    if target is None:
        target = state.get("Default")
        if target is None:
            raise _no_choice()
    assign = dataflow.assign_jsonpath(assign_block, effective, context=ctx, variables=variables)
    out = dataflow.select_path(
        effective, state.get("OutputPath", "$"), context=ctx, variables=variables
    )
    _exit_with(interp, st, frame, out, assign=assign, next=target)


def _jsonata_choice_exit(
    interp: Interpreter,
    st: ExecState,
    frame: Frame,
    holder: dict,
    states: dict,
    variables: Any,
    target: str,
) -> None:
    out = frame.input
    if "Output" in holder:
        out = dataflow.jsonata_value(holder["Output"], states, variables, "Output")
    assign = dataflow.assign_jsonata(holder.get("Assign"), states, variables)
    _exit_with(interp, st, frame, out, assign=assign, next=target)


def _no_choice() -> WorkflowFailure:
    return WorkflowFailure(STATES_NO_CHOICE_MATCHED, "No Matches!")


# --------------------------------------------------------------------------------- Wait


def _wait(interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict) -> None:
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    assign: dict[str, JSON] = {}
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(raw, ctx)
        if "Seconds" in state:
            seconds = dataflow.jsonata_value(state["Seconds"], states, variables, "Seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                raise WorkflowFailure(
                    STATES_QUERY_EVALUATION_ERROR,
                    f"The Seconds field must be a non-negative integer: {compact_json(seconds)}",
                )
            due = now + seconds
        else:
            stamp = dataflow.jsonata_value(state.get("Timestamp"), states, variables, "Timestamp")
            parsed = timestamps.parse_timestamp(stamp) if isinstance(stamp, str) else None
            if parsed is None:
                raise WorkflowFailure(
                    STATES_QUERY_EVALUATION_ERROR,
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                    f"date-time format string: {stamp}",
                )
            due = parsed.timestamp()
        out = raw
        if "Output" in state:
            out = dataflow.jsonata_value(state["Output"], states, variables, "Output")
        assign = dataflow.assign_jsonata(state.get("Assign"), states, variables)
    else:
        effective = dataflow.select_path(
            raw, state.get("InputPath", "$"), context=ctx, variables=variables
        )
        due = _jsonpath_due(state, effective, ctx, variables, now)
        assign = dataflow.assign_jsonpath(
            state.get("Assign"), effective, context=ctx, variables=variables
        )
        out = dataflow.select_path(
            effective, state.get("OutputPath", "$"), context=ctx, variables=variables
        )
    if due - now > MAX_WAIT_SECONDS:
        raise WorkflowFailure(STATES_RUNTIME, "Wait state delay is too long.")
    frame.data["out"] = out
    frame.data["assign"] = assign
    frame.phase = TIMER
    frame.token = interp.new_token(st, frame, "w")
    frame.data["due"] = max(due, now)
    st.commands.append(StartTimerCommand(frame.token, frame.data["due"]))


def _jsonpath_due(state: dict, data: JSON, ctx: JSON, variables: Any, now: float) -> float:
    if "Seconds" in state:
        return now + float(state["Seconds"])
    if "Timestamp" in state:
        parsed = timestamps.parse_timestamp(state["Timestamp"])
        return parsed.timestamp() if parsed is not None else now
    if "SecondsPath" in state:
        path = state["SecondsPath"]
        value = _path_value(path, data, ctx, variables, "SecondsPath")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not value.is_integer())
        ):
            raise WorkflowFailure(
                STATES_RUNTIME,
                "The SecondsPath parameter cannot be parsed as a long value: "
                f"{path} == {_plain(value)}",
            )
        if value < 0:
            raise WorkflowFailure(
                STATES_RUNTIME,
                f"The SecondsPath parameter references a negative value: {path} == {_plain(value)}",
            )
        return now + float(value)
    path = state.get("TimestampPath", "$")
    value = _path_value(path, data, ctx, variables, "TimestampPath")
    parsed = timestamps.parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        raise WorkflowFailure(
            STATES_RUNTIME,
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            f"date-time format string: {path} == {_plain(value)}",
        )
    return parsed.timestamp()


# --------------------------------------------------------------------------------- Succeed, Fail


def _succeed(interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict) -> None:
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    if interp.is_jsonata(frame, state):
        out = raw
        if "Output" in state:
            states = dataflow.jsonata_states(raw, ctx)
            out = dataflow.jsonata_value(state["Output"], states, variables, "Output")
    else:
        out = dataflow.select_path(
            raw, state.get("InputPath", "$"), context=ctx, variables=variables
        )
        out = dataflow.select_path(
            out, state.get("OutputPath", "$"), context=ctx, variables=variables
        )
    _exit_with(interp, st, frame, out)


def _fail(interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict) -> None:
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    error: Any = state.get("Error")
    cause: Any = state.get("Cause")
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(raw, ctx)
        if isinstance(error, str):
            error = dataflow.jsonata_value(error, states, variables, "Error")
        if isinstance(cause, str):
            cause = dataflow.jsonata_value(cause, states, variables, "Cause")
    else:
        if "ErrorPath" in state:
            error = _fail_path(state["ErrorPath"], raw, ctx, variables, "ErrorPath")
        if "CausePath" in state:
            cause = _fail_path(state["CausePath"], raw, ctx, variables, "CausePath")
    if cause is None and error is None:
        cause = ""
    interp.frame_failed(
        st,
        frame,
        None if error is None else str(error),
        None if cause is None else str(cause),
        now,
    )


def _fail_path(path: str, data: JSON, ctx: JSON, variables: Any, field: str) -> JSON:
    from stackflow.workflow.asl import intrinsics

    if intrinsics.is_intrinsic(path):
        return intrinsics.evaluate_intrinsic(path, data, context=ctx, variables=variables)
    try:
        return jsonpath.evaluate_path(path, data, context=ctx, variables=variables)
    except PathNotFoundError:
        raise WorkflowFailure(
            STATES_RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}' could not be found in the "
            f"input '{compact_json(data)}'",
        ) from None


# --------------------------------------------------------------------------------- Task


def _task(interp: Interpreter, st: ExecState, frame: Frame, now: float, state: dict) -> None:
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(raw, ctx)
        timeout = _jsonata_seconds(state, "TimeoutSeconds", states, variables)
        heartbeat = _jsonata_seconds(state, "HeartbeatSeconds", states, variables)
    else:
        timeout = _jsonpath_seconds(state, "TimeoutSeconds", raw, ctx, variables)
        heartbeat = _jsonpath_seconds(state, "HeartbeatSeconds", raw, ctx, variables)
    frame.data["timeout"] = timeout
    frame.data["heartbeat"] = heartbeat
    frame.phase = START
    schedule_task(interp, st, frame, now)


def _task_arguments(interp: Interpreter, st: ExecState, frame: Frame, state: dict) -> JSON:
    """Evaluate the task's arguments for this attempt (they may hold ``$$.Task.Token``)."""
    ctx = None
    if interp.machine.uses_context(frame.scope, frame.state):
        ctx = interp.context(st, frame, task_context(st, frame))
    return state_arguments(interp, st, frame, state, ctx)


def state_arguments(
    interp: Interpreter, st: ExecState, frame: Frame, state: dict, ctx: JSON
) -> JSON:
    """Evaluate what a Task or Parallel state hands on: ``Arguments`` (JSONata), or
    ``InputPath`` then ``Parameters`` (JSONPath); the raw input when they are absent."""
    raw = frame.input
    variables = interp.variables(st, frame)
    if interp.is_jsonata(frame, state):
        if "Arguments" not in state:
            return raw
        states = dataflow.jsonata_states(raw, ctx)
        return dataflow.jsonata_value(state["Arguments"], states, variables, "Arguments")
    effective = dataflow.select_path(
        raw, state.get("InputPath", "$"), context=ctx, variables=variables
    )
    if "Parameters" not in state:
        return effective
    return dataflow.evaluate_template(
        state["Parameters"], effective, context=ctx, variables=variables, field="Parameters"
    )


def task_context(st: ExecState, frame: Frame) -> dict[str, Any]:
    """Return the ``Task`` member of the context object for the frame's pending task."""
    token = frame.token
    return {"Task": {"Token": make_task_token(st.execution_id, token)}} if token else {}


def schedule_task(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """Dispatch the frame's task (first run or a retry) and arm its timeout and heartbeat."""
    state = interp.machine.state(frame.scope, frame.state)
    resource = state["Resource"]
    data = frame.data
    frame.token = interp.new_token(st, frame, "k")
    data["args"] = _task_arguments(interp, st, frame, state)
    timeout = data.get("timeout")
    interp.emit(
        st,
        frame,
        "TaskScheduled",
        now,
        {"resource": resource, "parameters": data["args"], "timeoutInSeconds": timeout},
    )
    interp.emit(st, frame, "TaskStarted", now, {"resource": resource})
    frame.phase = TASK
    st.commands.append(task_command(interp, st, frame))
    if timeout:
        data["timeout_token"] = interp.new_token(st, frame, "o")
        data["timeout_due"] = now + float(timeout)
        st.commands.append(StartTimerCommand(data["timeout_token"], data["timeout_due"]))
    arm_heartbeat(interp, st, frame, now)


def arm_heartbeat(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    """(Re)start the heartbeat timer of a waiting task that has HeartbeatSeconds."""
    data = frame.data
    heartbeat = data.get("heartbeat")
    if not heartbeat:
        return
    old = data.get("heartbeat_token")
    if old is not None:
        st.pending.pop(old, None)
    data["heartbeat_token"] = interp.new_token(st, frame, "h")
    data["heartbeat_due"] = now + float(heartbeat)
    st.commands.append(StartTimerCommand(data["heartbeat_token"], data["heartbeat_due"]))


def task_command(interp: Interpreter, st: ExecState, frame: Frame) -> RunTask:
    """Return the command that runs the frame's pending task (also used to resume it)."""
    state = interp.machine.state(frame.scope, frame.state)
    data = frame.data
    context = None
    if interp.machine.uses_context(frame.scope, frame.state):
        context = interp.context(st, frame, task_context(st, frame))
    return RunTask(
        frame.token or "",
        state["Resource"],
        data.get("args"),
        context,
        data.get("timeout"),
        data.get("heartbeat"),
    )


def task_result(interp: Interpreter, st: ExecState, frame: Frame, now: float, result: JSON) -> None:
    """Complete a Task state with its task's result."""
    state = interp.machine.state(frame.scope, frame.state)
    finish_with_result(interp, st, frame, state, result)


def finish_with_result(
    interp: Interpreter, st: ExecState, frame: Frame, state: dict, result: JSON
) -> None:
    """Apply ResultSelector/ResultPath/OutputPath (or Output) and Assign, then exit the state."""
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(raw, ctx, result=result)
        out = result
        if "Output" in state:
            out = dataflow.jsonata_value(state["Output"], states, variables, "Output")
        assign = dataflow.assign_jsonata(state.get("Assign"), states, variables)
        _exit_with(interp, st, frame, out, assign=assign)
        return
    if "ResultSelector" in state:
        result = dataflow.evaluate_template(
            state["ResultSelector"],
            result,
            context=ctx,
            variables=variables,
            field="ResultSelector",
        )
    assign = dataflow.assign_jsonpath(state.get("Assign"), result, context=ctx, variables=variables)
    out = dataflow.merge_result(raw, state.get("ResultPath", "$"), result)
    out = dataflow.select_path(out, state.get("OutputPath", "$"), context=ctx, variables=variables)
    _exit_with(interp, st, frame, out, assign=assign)


def caught(
    interp: Interpreter,
    st: ExecState,
    frame: Frame,
    now: float,
    catcher: dict,
    error: str | None,
    cause: str | None,
) -> None:
    """Leave a state through a matching Catch: compute the output and go to its Next."""
    state = interp.machine.state(frame.scope, frame.state)
    error_output: dict[str, JSON] = {"Error": error, "Cause": cause}
    if cause is None:
        error_output = {"Error": error}
    raw = frame.input
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(raw, ctx, error_output=error_output)
        out: JSON = error_output
        if "Output" in catcher:
            out = dataflow.jsonata_value(catcher["Output"], states, variables, "Output")
        assign = dataflow.assign_jsonata(catcher.get("Assign"), states, variables)
    else:
        assign = dataflow.assign_jsonpath(
            catcher.get("Assign"), error_output, context=ctx, variables=variables
        )
        out = dataflow.merge_result(raw, catcher.get("ResultPath", "$"), error_output)
    _exit_with(interp, st, frame, out, assign=assign, next=catcher["Next"])


# --------------------------------------------------------------------------------- helpers


def _jsonpath_seconds(
    state: dict, field: str, data: JSON, ctx: JSON, variables: Any
) -> float | None:
    if field in state:
        return float(state[field])
    path = state.get(field + "Path")
    if path is None:
        return None
    value = _path_value(path, data, ctx, variables, field + "Path")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise WorkflowFailure(
            STATES_RUNTIME,
            f'The {field}Path field refers to value "{_plain(value)}" which is not a valid '
            f"positive integer: {path}",
        )
    return float(value)


def _jsonata_seconds(state: dict, field: str, states: dict, variables: Any) -> float | None:
    if field not in state:
        return None
    value = dataflow.jsonata_value(state[field], states, variables, field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise WorkflowFailure(
            STATES_QUERY_EVALUATION_ERROR,
            f"The {field} field must be a positive integer: {compact_json(value)}",
        )
    return float(value)


def _path_value(path: str, data: JSON, ctx: JSON, variables: Any, field: str) -> JSON:
    try:
        return jsonpath.evaluate_path(path, data, context=ctx, variables=variables)
    except PathNotFoundError:
        raise WorkflowFailure(
            STATES_RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}' could not be found in the "
            f"input '{compact_json(data)}'",
        ) from None


def _size(value: JSON) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if not value:
        return 2
    return len(compact_json(value).encode())


def _plain(value: JSON) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(value)
    return compact_json(value)


def _strip(template: Any) -> str:
    text = str(template)
    if text.startswith("{%") and text.endswith("%}"):
        text = text[2:-2].strip()
    return text


_ENTER = {
    "Pass": _pass,
    "Choice": _choice,
    "Wait": _wait,
    "Succeed": _succeed,
    "Fail": _fail,
    "Task": _task,
    "Parallel": composite.enter_parallel,
    "Map": composite.enter_map,
}
