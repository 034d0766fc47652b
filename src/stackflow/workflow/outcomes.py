"""How outside results reach an execution's interpreter: task results and stored requests.

A task's outcome arrives from the executor; a callback, a heartbeat, a stop or a child's end
arrives as a :class:`~stackflow.store.base.Request` from the store. Each is turned into one call on
the interpreter here, so the runtime's loop only routes them.
"""

from __future__ import annotations

import json
from typing import Any

from stackflow.errors import STATES_RUNTIME, STATES_TASK_FAILED, StackflowError, WorkflowFailure
from stackflow.store.base import Request
from stackflow.types import JSON
from stackflow.workflow import integrations
from stackflow.workflow.asl.context import Identity
from stackflow.workflow.asl.tokens import parse_task_token
from stackflow.workflow.live import Live


def apply_request(live: Live, request: Request, now: float, identity: Identity) -> None:
    """Apply one stored request (callback, heartbeat, stop, end of a child) to an execution."""
    interp, st = live.interpreter, live.state
    payload = request.payload if isinstance(request.payload, dict) else {}
    token = request.token or ""
    if request.kind == "task_success":
        live.activity_done.append(token)
        interp.on_task_succeeded(st, local_token(token), payload.get("output"), now)
    elif request.kind == "task_failure":
        live.activity_done.append(token)
        interp.on_task_failed(
            st, local_token(token), payload.get("error"), payload.get("cause"), now
        )
    elif request.kind == "task_heartbeat":
        interp.on_task_heartbeat(st, local_token(token), now)
    elif request.kind == "stop":
        interp.abort(st, now, payload.get("error"), payload.get("cause"))
    elif request.kind == "child_finished":
        child_finished(live, payload, now, identity)


def child_finished(live: Live, payload: dict[str, Any], now: float, identity: Identity) -> None:
    """Complete the task (startExecution.sync) or Map item waiting for a child execution."""
    child_id = payload.get("execution_id")
    token = live.child_tokens.pop(child_id, None) if isinstance(child_id, str) else None
    if token is None:
        return
    interp, st = live.interpreter, live.state
    status = payload.get("status", "FAILED")
    if token.startswith("c"):  # a Distributed Map item
        interp.on_child_finished(
            st,
            token,
            status,
            payload.get("output"),
            payload.get("error"),
            payload.get("cause"),
            now,
        )
        return
    mode = live.sync_children.pop(token, "sync")
    if mode == "code":  # a python: task that names a @workflow: the child's own result
        if status == "SUCCEEDED":
            interp.on_task_succeeded(st, token, payload.get("output"), now)
        else:
            interp.on_task_failed(st, token, payload.get("error"), payload.get("cause"), now)
        return
    described = integrations.describe_child(
        identity,
        workflow=payload.get("workflow", ""),
        name=payload.get("name", ""),
        status=status,
        input=payload.get("input"),
        output=payload.get("output"),
        error=payload.get("error"),
        cause=payload.get("cause"),
        start_time=payload.get("start_time", now),
        stop_time=payload.get("stop_time"),
        parsed=mode == "sync:2",
    )
    if status == "SUCCEEDED":
        interp.on_task_succeeded(st, token, described, now)
    else:
        interp.on_task_failed(
            st, token, STATES_TASK_FAILED, json.dumps(described, separators=(",", ":")), now
        )


def task_done(
    live: Live, token: str, result: JSON, error: BaseException | None, now: float
) -> None:
    """Give a task's result or error (from the executor) to the interpreter."""
    interp, st = live.interpreter, live.state
    if error is None:
        if token in live.callback_tokens:
            return  # .waitForTaskToken: the result comes with the token, later
        interp.on_task_succeeded(st, token, result, now)
    elif isinstance(error, WorkflowFailure):
        interp.on_task_failed(st, token, error.error, error.cause, now)
    elif isinstance(error, StackflowError):
        interp.on_task_failed(st, token, STATES_TASK_FAILED, str(error), now)
    else:
        interp.on_task_failed(st, token, type(error).__name__, str(error), now)


def as_failure(error: BaseException | None) -> WorkflowFailure | None:
    """Return an executor error as a WorkflowFailure (None stays None)."""
    if error is None or isinstance(error, WorkflowFailure):
        return error
    return WorkflowFailure(STATES_RUNTIME, f"{type(error).__name__}: {error}")


def local_token(task_token: str) -> str:
    """Return the interpreter's token inside an external task token (or the text itself)."""
    try:
        return parse_task_token(task_token)[1]
    except StackflowError:
        return task_token
