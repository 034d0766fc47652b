"""Execution routes: start, list, describe, history, graph, stop, redrive; task callbacks and
activity polling.

Starting a deployed workflow, stopping, redriving and answering tasks need the ``operate``
role; starting an inline definition needs ``admin`` (its tasks run code on the server).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from stackflow.api.auth import authenticate
from stackflow.api.common import OPERATE, READ, engine_of, start_deployed
from stackflow.api.execution_views import execution_detail, execution_layout
from stackflow.store.tokens import role_allows
from stackflow.views import event_json, record_json

__all__ = ["router"]

router = APIRouter(tags=["executions"])

Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]

#: Longest ``wait`` of an activity poll, in seconds.
MAX_POLL_WAIT = 60.0
_POLL_INTERVAL = 0.1


class StartRequest(BaseModel):
    """Body of ``POST /executions``: a deployed workflow, or an inline definition (admin)."""

    workflow: str | None = Field(
        None, description="Deployed workflow: NAME (latest version) or NAME:VERSION."
    )
    definition: dict[str, Any] | None = Field(
        None, description="An inline ASL definition instead of a deployed workflow (admin)."
    )
    input: Any = Field(None, description="Execution input (default {}).")
    name: str | None = Field(None, description="Execution name, unique per workflow.")
    workflow_name: str | None = Field(
        None,
        description="With 'definition': the workflow name to record (default 'workflow').",
        pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
    )


class StopRequest(BaseModel):
    """Body of ``POST /executions/{id}/stop`` (optional)."""

    error: str | None = None
    cause: str | None = None


class TaskSuccess(BaseModel):
    """Body of ``POST /tasks/success``."""

    task_token: str
    output: Any = None


class TaskFailure(BaseModel):
    """Body of ``POST /tasks/failure``."""

    task_token: str
    error: str | None = None
    cause: str | None = None


class TaskHeartbeat(BaseModel):
    """Body of ``POST /tasks/heartbeat``."""

    task_token: str


class PollRequest(BaseModel):
    """Body of ``POST /activities/{name}/poll`` (optional)."""

    worker: str | None = None
    wait: float = Field(0.0, ge=0, le=MAX_POLL_WAIT, description="Seconds to wait for a task.")


@router.post("/executions", status_code=201, dependencies=OPERATE)
def start_execution(body: StartRequest, request: Request) -> dict[str, Any]:
    """Start an execution of a deployed workflow (or of an inline definition, admin only).

    Starting a name again with the same input returns the existing execution; with another
    input it is a conflict (409).
    """
    engine = engine_of(request)
    payload = {} if body.input is None else body.input
    if (body.workflow is None) == (body.definition is None):
        raise HTTPException(422, detail="give exactly one of 'workflow' and 'definition'")
    if body.definition is not None:
        if not role_allows(authenticate(request).role, "admin"):
            raise HTTPException(403, detail="starting an inline definition needs the admin role")
        record = engine.start(body.definition, payload, name=body.name, workflow=body.workflow_name)
        return record_json(record)
    assert body.workflow is not None
    name, _, version = body.workflow.partition(":")
    if version and not version.isdigit():
        raise HTTPException(422, detail="workflow must be NAME or NAME:VERSION")
    record = start_deployed(
        engine, name, int(version) if version else None, payload, name=body.name
    )
    return record_json(record)


@router.get("/executions", dependencies=READ)
def list_executions(
    request: Request,
    status: Status | None = None,
    workflow: str | None = None,
    parent: str | None = Query(None, description="Only children of this execution."),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """List executions, newest first."""
    records = engine_of(request).list_executions(
        status=status, workflow=workflow, parent_id=parent, limit=limit
    )
    return [record_json(r) for r in records]


@router.get("/executions/{execution_id}", dependencies=READ)
def describe_execution(execution_id: str, request: Request) -> dict[str, Any]:
    """Return an execution with its definition and the status of every state it entered."""
    engine = engine_of(request)
    return execution_detail(engine, engine.describe(execution_id))


@router.get("/executions/{execution_id}/history", dependencies=READ)
def execution_history(
    execution_id: str, request: Request, after: int = Query(0, ge=0)
) -> list[dict[str, Any]]:
    """Return an execution's history events in order (those with an id above ``after``)."""
    engine = engine_of(request)
    engine.describe(execution_id)  # unknown id -> 404
    return [event_json(e) for e in engine.store.get_history(execution_id, after)]


@router.get("/executions/{execution_id}/graph", dependencies=READ)
def execution_graph_route(execution_id: str, request: Request) -> dict[str, Any]:
    """Return the execution's laid-out graph with each state's status (for live colours)."""
    engine = engine_of(request)
    record = engine.describe(execution_id)
    return execution_layout(record, engine.history(execution_id))


@router.post("/executions/{execution_id}/stop", dependencies=OPERATE)
def stop_execution(
    execution_id: str, request: Request, body: StopRequest | None = None
) -> dict[str, Any]:
    """Abort a running execution and its children (no change once it ended)."""
    body = body or StopRequest()
    record = engine_of(request).stop(execution_id, error=body.error, cause=body.cause)
    return record_json(record)


@router.post("/executions/{execution_id}/redrive", dependencies=OPERATE)
def redrive_execution(execution_id: str, request: Request) -> dict[str, Any]:
    """Restart a FAILED, TIMED_OUT or ABORTED execution from where it stopped."""
    return record_json(engine_of(request).redrive(execution_id))


@router.post("/tasks/success", dependencies=OPERATE, tags=["tasks"])
def task_success(body: TaskSuccess, request: Request) -> dict[str, bool]:
    """Complete a task waiting for its token with an output."""
    engine_of(request).send_task_success(body.task_token, body.output)
    return {"ok": True}


@router.post("/tasks/failure", dependencies=OPERATE, tags=["tasks"])
def task_failure(body: TaskFailure, request: Request) -> dict[str, bool]:
    """Fail a task waiting for its token."""
    engine_of(request).send_task_failure(body.task_token, body.error, body.cause)
    return {"ok": True}


@router.post("/tasks/heartbeat", dependencies=OPERATE, tags=["tasks"])
def task_heartbeat(body: TaskHeartbeat, request: Request) -> dict[str, bool]:
    """Report that the worker of a task with HeartbeatSeconds is alive."""
    engine_of(request).send_task_heartbeat(body.task_token)
    return {"ok": True}


@router.post("/activities/{name}/poll", dependencies=OPERATE, tags=["tasks"])
def poll_activity(name: str, request: Request, body: PollRequest | None = None) -> dict[str, Any]:
    """Take the oldest waiting task of an activity, waiting up to ``wait`` seconds.

    Returns ``{"taskToken", "input"}``; both are null when no task came in time.
    """
    body = body or PollRequest(wait=0.0)
    engine = engine_of(request)
    deadline = time.monotonic() + body.wait
    while True:
        task = engine.get_activity_task(name, body.worker)
        if task is not None:
            return dict(task)
        if time.monotonic() >= deadline:
            return {"taskToken": None, "input": None}
        time.sleep(min(_POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
