"""Rows of the SQLite store: column lists, SQL statements and conversions to and from records."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from stackflow.store.base import ActivityTask, ExecutionRecord, Request, WorkflowVersion

#: Compact JSON, as stored in every JSON column.
encode_json: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":")).encode

#: Statuses after which an execution never runs again (unless redriven).
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

RECORD_COLUMNS = (
    "execution_id, name, workflow, definition, status, input, output, error, cause,"
    " start_time, stop_time, parent_id, owner, lease_expires, version"
)
REQUEST_COLUMNS = "id, execution_id, kind, token, payload, created"
TASK_COLUMNS = "token, activity, execution_id, input, created, worker, claimed_at"
WORKFLOW_COLUMNS = "name, version, definition, created"

INSERT_EXECUTION = (
    f"INSERT INTO executions ({RECORD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_EXECUTION_IF_NEW = (
    f"INSERT OR IGNORE INTO executions ({RECORD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_EVENT = (
    "INSERT INTO events (execution_id, id, type, timestamp, previous_event_id, details)"
    " VALUES (?,?,?,?,?,?)"
)
UPDATE_EXECUTION = (
    "UPDATE executions SET status=?, output=?, error=?, cause=?, stop_time=? WHERE execution_id=?"
)
UPSERT_HEADER = (
    "INSERT INTO snapshots (execution_id, data, updated_at) VALUES (?,?,?)"
    " ON CONFLICT (execution_id) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at"
)
UPSERT_FRAME = (
    "INSERT INTO snapshot_frames (execution_id, frame_id, data) VALUES (?,?,?)"
    " ON CONFLICT (execution_id, frame_id) DO UPDATE SET data=excluded.data"
)
DELETE_FRAME = "DELETE FROM snapshot_frames WHERE execution_id=? AND frame_id=?"
DELETE_REQUEST = "DELETE FROM requests WHERE id=?"
INSERT_REQUEST = (
    "INSERT INTO requests (execution_id, kind, token, payload, created) VALUES (?,?,?,?,?)"
)
#: A request from a transition, kept only while its execution runs (nobody would consume it).
INSERT_REQUEST_IF_RUNNING = (
    "INSERT INTO requests (execution_id, kind, token, payload, created) SELECT ?,?,?,?,?"
    " WHERE EXISTS (SELECT 1 FROM executions WHERE execution_id = ? AND status = 'RUNNING')"
)
INSERT_TASK = f"INSERT INTO activity_tasks ({TASK_COLUMNS}) VALUES (?,?,?,?,?,?,?)"
DELETE_TASK = "DELETE FROM activity_tasks WHERE token=?"
END_EXECUTION = (
    "UPDATE executions SET owner=NULL, lease_expires=NULL WHERE execution_id=?",
    "DELETE FROM requests WHERE execution_id=?",
    "DELETE FROM activity_tasks WHERE execution_id=?",
)


def decode_json(text: str | None) -> Any:
    """Decode a JSON column (NULL reads as None)."""
    return None if text is None else json.loads(text)


def record_row(record: ExecutionRecord) -> tuple[Any, ...]:
    """Return the values of :data:`INSERT_EXECUTION` for ``record``."""
    return (
        record.execution_id,
        record.name,
        record.workflow,
        record.definition,
        record.status,
        encode_json(record.input),
        None if record.output is None else encode_json(record.output),
        record.error,
        record.cause,
        record.start_time,
        record.stop_time,
        record.parent_id,
        record.owner,
        record.lease_expires,
        record.version,
    )


def row_to_record(row: tuple[Any, ...] | Any) -> ExecutionRecord:
    """Build a record from a row selected with :data:`RECORD_COLUMNS`."""
    return ExecutionRecord(
        execution_id=row[0],
        name=row[1],
        workflow=row[2],
        definition=row[3],
        status=row[4],
        input=decode_json(row[5]),
        output=decode_json(row[6]),
        error=row[7],
        cause=row[8],
        start_time=row[9],
        stop_time=row[10],
        parent_id=row[11],
        owner=row[12],
        lease_expires=row[13],
        version=row[14],
    )


def request_row(request: Request, execution_id: str | None = None) -> tuple[Any, ...]:
    """Return the values of :data:`INSERT_REQUEST` (the id is assigned by the database)."""
    return (
        execution_id or request.execution_id,
        request.kind,
        request.token,
        encode_json(request.payload),
        request.created,
    )


def row_to_request(row: tuple[Any, ...] | Any) -> Request:
    """Build a request from a row selected with :data:`REQUEST_COLUMNS`."""
    return Request(
        id=row[0],
        execution_id=row[1],
        kind=row[2],
        token=row[3],
        payload=decode_json(row[4]),
        created=row[5],
    )


def task_row(task: ActivityTask) -> tuple[Any, ...]:
    """Return the values of :data:`INSERT_TASK` for ``task``."""
    return (
        task.token,
        task.activity,
        task.execution_id,
        encode_json(task.input),
        task.created,
        task.worker,
        task.claimed_at,
    )


def row_to_task(row: tuple[Any, ...] | Any) -> ActivityTask:
    """Build an activity task from a row selected with :data:`TASK_COLUMNS`."""
    return ActivityTask(
        token=row[0],
        activity=row[1],
        execution_id=row[2],
        input=decode_json(row[3]),
        created=row[4],
        worker=row[5],
        claimed_at=row[6],
    )


def row_to_workflow(row: tuple[Any, ...] | Any) -> WorkflowVersion:
    """Build a workflow version from a row selected with :data:`WORKFLOW_COLUMNS`."""
    return WorkflowVersion(name=row[0], version=row[1], definition=row[2], created=row[3])


def chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    """Split ``values`` into lists of at most ``size`` (SQLite limits bound parameters)."""
    return [values[start : start + size] for start in range(0, len(values), size)]


def marks(count: int) -> str:
    """Return ``count`` comma-separated ``?`` placeholders."""
    return ",".join("?" * count)
