"""Operations on executions from any process: start by name, stop, redrive, answer task tokens.

Each operation records its intent in the store (a new execution, or a request for a running
one) before anything else happens, so it survives a crash of whoever must carry it out. The runtime
holding an execution's lease applies requests in the same transaction as their effect.
"""

from __future__ import annotations

import json
import time
from typing import Any

from stackflow.errors import (
    ConflictError,
    ExecutionAlreadyExists,
    NotFoundError,
    StackflowError,
    TaskTokenError,
)
from stackflow.store.base import ActivityTask, ExecutionRecord, Store
from stackflow.types import JSON, TERMINAL_STATUSES
from stackflow.workflow.asl.tokens import parse_task_token
from stackflow.workflow.runtime import EventListener, Runtime

#: Statuses a redrive accepts, as in Step Functions' RedriveExecution.
REDRIVABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def start_unique(
    runtime: Runtime,
    text: str,
    input: JSON,
    *,
    workflow: str,
    name: str | None,
    version: int | None = None,
    listener: EventListener | None = None,
    drive: bool = True,
) -> ExecutionRecord:
    """Start an execution whose name is unique per workflow, as Step Functions does.

    Starting a name again returns the existing execution when the input is the same, and raises
    :class:`ExecutionAlreadyExists` otherwise.
    """
    store = runtime.store
    if name is not None:
        existing = store.find_execution(workflow, name)
        if existing is not None:
            return _same_or_conflict(existing, input)
    try:
        return runtime.start_execution(
            text,
            input,
            workflow=workflow,
            name=name,
            version=version,
            listener=listener,
            drive=drive,
        )
    except ConflictError:
        existing = store.find_execution(workflow, name) if name is not None else None
        if existing is None:
            raise
        return _same_or_conflict(existing, input)


def _same_or_conflict(existing: ExecutionRecord, input: JSON) -> ExecutionRecord:
    if _canonical(existing.input) == _canonical(input):
        return existing
    raise ExecutionAlreadyExists(
        f"Execution {existing.name!r} of workflow {existing.workflow!r} already exists "
        f"({existing.execution_id}, {existing.status}) with a different input; "
        "use another --name, or the same input to get the existing execution"
    )


def _canonical(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def stop(
    runtime: Runtime, execution_id: str, error: str | None, cause: str | None
) -> ExecutionRecord:
    """Ask for a running execution to be aborted (its children too); return its record.

    A stop of an execution that already ended changes nothing. When no live runtime holds the
    execution, this runtime takes it over to carry out the stop.

    Raises:
        NotFoundError: No such execution.
    """
    store = runtime.store
    record = store.get_execution(execution_id)
    if record.status in TERMINAL_STATUSES:
        return record
    store.add_request(execution_id, "stop", None, {"error": error, "cause": cause}, time.time())
    _drive_here_if_orphaned(runtime, record)
    return record


def redrive(runtime: Runtime, execution_id: str) -> ExecutionRecord:
    """Restart a FAILED, TIMED_OUT or ABORTED execution from the state where it stopped.

    Raises:
        NotFoundError: No such execution.
        StackflowError: The execution is running or succeeded, or is held by another runtime.
    """
    store = runtime.store
    record = store.get_execution(execution_id)
    if record.status not in REDRIVABLE:
        raise StackflowError(
            f"Execution {execution_id} is {record.status}; only FAILED, TIMED_OUT or ABORTED "
            "executions can be redriven"
        )
    now = time.time()
    claimed = store.claim_execution(
        execution_id, runtime.owner, now, now + runtime.lease_seconds, any_status=True
    )
    if claimed is None:
        raise StackflowError(f"Execution {execution_id} is held by another runtime; try again")
    runtime.adopt(claimed, redrive=True)
    return claimed


def _poke_if_held(runtime: Runtime, execution_id: str) -> None:
    """Make this runtime apply a new request at once when it drives the execution.

    Otherwise the request waits in the store for the execution's owner (or the worker that
    claims it): answering a task never makes the answering process run the workflow.
    """
    if runtime.holds(execution_id):
        runtime.poke()


def _drive_here_if_orphaned(runtime: Runtime, record: ExecutionRecord) -> None:
    if runtime.holds(record.execution_id):
        runtime.poke()
        return
    now = time.time()
    claimed = runtime.store.claim_execution(
        record.execution_id, runtime.owner, now, now + runtime.lease_seconds
    )
    if claimed is not None:
        runtime.adopt(claimed)


def send_task_result(runtime: Runtime, task_token: str, kind: str, payload: dict[str, Any]) -> None:
    """Answer a waiting task: ``task_success``, ``task_failure`` or ``task_heartbeat``.

    Raises:
        TaskTokenError: The token is malformed, or its execution does not wait for it (it
            ended, the task timed out, or it was already answered), as Step Functions'
            TaskDoesNotExist / TaskTimedOut.
    """
    execution_id, token = parse_task_token(task_token)
    store = runtime.store
    try:
        record = store.get_execution(execution_id)
    except NotFoundError:
        raise TaskTokenError(f"Task token {task_token!r} names no known execution") from None
    if record.status in TERMINAL_STATUSES:
        raise TaskTokenError(
            f"Task does not exist: execution {execution_id} already ended ({record.status})"
        )
    if not _waits_for(store, execution_id, token):
        raise TaskTokenError(
            f"Task does not exist or timed out: execution {execution_id} is not waiting for "
            "this token"
        )
    store.add_request(execution_id, kind, task_token, payload, time.time())
    _poke_if_held(runtime, execution_id)


def send_event(runtime: Runtime, execution_id: str, name: str, payload: JSON) -> None:
    """Store an event for a code execution's ``wait_for_event(name)``.

    Raises:
        NotFoundError: No such execution.
        StackflowError: The execution already ended.
    """
    store = runtime.store
    record = store.get_execution(execution_id)
    if record.status in TERMINAL_STATUSES:
        raise StackflowError(f"Execution {execution_id} already ended ({record.status})")
    store.add_request(execution_id, "event", name, payload, time.time())
    _poke_if_held(runtime, execution_id)


def _waits_for(store: Store, execution_id: str, token: str) -> bool:
    snapshot = store.load_snapshot(execution_id)
    if snapshot is None:
        return False
    header = json.loads(snapshot.header)
    return token in (header.get("pending") or {})


def get_activity_task(
    store: Store, activity: str, worker: str | None = None
) -> dict[str, JSON] | None:
    """Take the oldest waiting task of an activity, as Step Functions' GetActivityTask.

    Returns:
        ``{"taskToken": ..., "input": ...}``, or None when no task waits.
    """
    task: ActivityTask | None = store.claim_activity_task(
        activity, worker or "anonymous", time.time()
    )
    if task is None:
        return None
    return {"taskToken": task.token, "input": task.input}
