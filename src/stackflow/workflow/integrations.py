"""Task resources the runtime handles itself: activities, callbacks and child executions.

Ordinary task resources (``python:``, ``stackflow:exec``, HTTP) run on the executor and return a
result. These do not:

* ``.waitForTaskToken`` suffix: the base resource runs, but the task ends only when someone sends
  the task token back (``send-task-success`` / ``send-task-failure``).
* Activities (``arn:aws:states:REGION:ACCOUNT:activity:NAME`` or ``stackflow:activity:NAME``): the
  task waits in the store until an external worker takes it and answers with its token.
* ``arn:aws:states:::states:startExecution`` (``.sync``, ``.sync:2``): starts a deployed workflow
  as a child execution and, with ``.sync``, waits for it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from stackflow.errors import STATES_RUNTIME, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.asl.context import Identity, iso_time

WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"
START_EXECUTION = "arn:aws:states:::states:startExecution"

_ACTIVITY = re.compile(r"^(?:arn:[\w-]+:states:[\w-]*:\d*:activity:|stackflow:activity:)([\w.-]+)$")
_STATE_MACHINE_ARN = re.compile(r"^arn:[\w-]+:states:[\w-]*:\d*:stateMachine:([\w.-]+)(?::(\d+))?$")
_CHILD_NAMESPACE = uuid.UUID("6d1f4c1e-3b0a-4f7e-9d55-2f2b1c9e7a10")


def activity_name(resource: str) -> str | None:
    """Return the activity name of an activity resource, or None for other resources."""
    match = _ACTIVITY.match(resource)
    return match.group(1) if match else None


def waits_for_callback(resource: str) -> bool:
    """Return True for ``.waitForTaskToken`` resources."""
    return resource.endswith(WAIT_FOR_TASK_TOKEN)


def base_resource(resource: str) -> str:
    """Return the resource without its ``.waitForTaskToken`` suffix."""
    return resource[: -len(WAIT_FOR_TASK_TOKEN)] if waits_for_callback(resource) else resource


def start_execution_mode(resource: str) -> str | None:
    """Return ``async``, ``sync`` or ``sync:2`` for a startExecution resource, else None."""
    if resource == START_EXECUTION:
        return "async"
    if resource == START_EXECUTION + ".sync":
        return "sync"
    if resource == START_EXECUTION + ".sync:2":
        return "sync:2"
    return None


def child_execution_id(parent_id: str, token: str) -> str:
    """Return the id of the child execution a parent starts for ``token`` (deterministic, so a
    recovered parent finds the child it already started)."""
    return str(uuid.uuid5(_CHILD_NAMESPACE, f"{parent_id}/{token}"))


@dataclass(frozen=True)
class ChildRequest:
    """What a startExecution task asks for.

    Attributes:
        workflow: Deployed workflow name.
        version: Workflow version, or None for the latest.
        input: Input of the child execution.
        name: Execution name, or None for a generated one.
    """

    workflow: str
    version: int | None
    input: JSON
    name: str | None


def parse_child_request(parameters: JSON) -> ChildRequest:
    """Read a startExecution task's parameters (StateMachineArn or name, Input, Name).

    Raises:
        WorkflowFailure: ``States.Runtime`` when StateMachineArn is missing or malformed.
    """
    if not isinstance(parameters, dict):
        raise WorkflowFailure(STATES_RUNTIME, "startExecution needs an object with StateMachineArn")
    target = parameters.get("StateMachineArn")
    if not isinstance(target, str) or not target:
        raise WorkflowFailure(
            STATES_RUNTIME, "startExecution needs StateMachineArn: a workflow name or ARN"
        )
    match = _STATE_MACHINE_ARN.match(target)
    workflow, version = (match.group(1), match.group(2)) if match else (target, None)
    raw_input: Any = parameters.get("Input", {})
    if isinstance(raw_input, str):
        try:
            raw_input = json.loads(raw_input)
        except ValueError:
            raise WorkflowFailure(
                STATES_RUNTIME, "startExecution Input is a string that is not JSON"
            ) from None
    name = parameters.get("Name")
    return ChildRequest(
        workflow,
        int(version) if version else None,
        raw_input,
        name if isinstance(name, str) else None,
    )


def describe_child(
    identity: Identity,
    *,
    workflow: str,
    name: str,
    status: str,
    input: JSON,
    output: JSON,
    error: str | None,
    cause: str | None,
    start_time: float,
    stop_time: float | None,
    parsed: bool,
) -> dict[str, JSON]:
    """Return a child execution as DescribeExecution shows it (the ``.sync`` task result).

    With ``parsed`` (``.sync:2``) Input and Output are JSON values, else JSON strings.
    """
    result: dict[str, JSON] = {
        "ExecutionArn": identity.execution_arn(workflow, name),
        "StateMachineArn": identity.state_machine_arn(workflow),
        "Name": name,
        "Status": status,
        "StartDate": iso_time(start_time),
        "Input": input if parsed else _compact(input),
        "InputDetails": {"Included": True},
    }
    if stop_time is not None:
        result["StopDate"] = iso_time(stop_time)
    if status == "SUCCEEDED":
        result["Output"] = output if parsed else _compact(output)
        result["OutputDetails"] = {"Included": True}
    else:
        if error is not None:
            result["Error"] = error
        if cause is not None:
            result["Cause"] = cause
    return result


def _compact(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"))
