"""Write operations other than transitions, run by the writer inside its transaction.

Each function takes the writer's connection while it holds the write lock (``BEGIN IMMEDIATE``), so
a read followed by an update is atomic, across threads and processes alike.
"""

from __future__ import annotations

import sqlite3

from stackflow.errors import NotFoundError
from stackflow.store.base import ActivityTask, ExecutionRecord, WorkflowVersion
from stackflow.store.sqlite.rows import (
    RECORD_COLUMNS,
    TASK_COLUMNS,
    WORKFLOW_COLUMNS,
    chunks,
    marks,
    row_to_record,
    row_to_task,
    row_to_workflow,
)


def claim_executions(
    conn: sqlite3.Connection, owner: str, now: float, lease_until: float, limit: int
) -> list[ExecutionRecord]:
    """Take up to ``limit`` RUNNING executions nobody holds, oldest first.

    An execution is free when it has no owner, no lease expiry, or a lease that expired before
    ``now``.
    """
    if limit <= 0:
        return []
    rows = conn.execute(
        "SELECT execution_id FROM executions WHERE status = 'RUNNING'"
        " AND (owner IS NULL OR lease_expires IS NULL OR lease_expires < ?)"
        " ORDER BY start_time, rowid LIMIT ?",
        (now, limit),
    ).fetchall()
    ids = [row[0] for row in rows]
    if not ids:
        return []
    conn.execute(
        "UPDATE executions SET owner = ?, lease_expires = ?"
        f" WHERE execution_id IN ({marks(len(ids))})",
        (owner, lease_until, *ids),
    )
    claimed = conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM executions WHERE execution_id IN ({marks(len(ids))})"
        " ORDER BY start_time, rowid",
        ids,
    ).fetchall()
    return [row_to_record(row) for row in claimed]


def claim_execution(
    conn: sqlite3.Connection,
    execution_id: str,
    owner: str,
    now: float,
    lease_until: float,
    any_status: bool,
) -> ExecutionRecord | None:
    """Take one execution if it is free (or already ``owner``'s), RUNNING unless ``any_status``.

    Raises:
        NotFoundError: No such execution.
    """
    row = conn.execute(
        "SELECT status, owner, lease_expires FROM executions WHERE execution_id = ?",
        (execution_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no execution {execution_id!r}")
    status, holder, expires = row
    if status != "RUNNING" and not any_status:
        return None
    if holder is not None and holder != owner and expires is not None and expires >= now:
        return None
    conn.execute(
        "UPDATE executions SET owner = ?, lease_expires = ? WHERE execution_id = ?",
        (owner, lease_until, execution_id),
    )
    claimed = conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM executions WHERE execution_id = ?", (execution_id,)
    ).fetchone()
    return row_to_record(claimed)


def renew_leases(
    conn: sqlite3.Connection, owner: str, execution_ids: list[str], lease_until: float
) -> list[str]:
    """Extend the leases ``owner`` still holds among ``execution_ids``; return those ids."""
    held: set[str] = set()
    for chunk in chunks(list(dict.fromkeys(execution_ids))):
        rows = conn.execute(
            f"SELECT execution_id FROM executions WHERE owner = ? AND status = 'RUNNING'"
            f" AND execution_id IN ({marks(len(chunk))})",
            (owner, *chunk),
        ).fetchall()
        renewed = [row[0] for row in rows]
        if renewed:
            conn.execute(
                f"UPDATE executions SET lease_expires = ?"
                f" WHERE execution_id IN ({marks(len(renewed))})",
                (lease_until, *renewed),
            )
        held.update(renewed)
    return [eid for eid in dict.fromkeys(execution_ids) if eid in held]


def release_executions(conn: sqlite3.Connection, owner: str, execution_ids: list[str]) -> None:
    """Clear ``owner``'s leases on ``execution_ids`` (others' leases are left alone)."""
    for chunk in chunks(list(dict.fromkeys(execution_ids))):
        conn.execute(
            f"UPDATE executions SET owner = NULL, lease_expires = NULL"
            f" WHERE owner = ? AND execution_id IN ({marks(len(chunk))})",
            (owner, *chunk),
        )


def add_request(
    conn: sqlite3.Connection,
    execution_id: str,
    kind: str,
    token: str | None,
    payload_json: str,
    now: float,
) -> int:
    """Insert a request for an existing execution and return its id.

    Raises:
        NotFoundError: No such execution.
    """
    exists = conn.execute(
        "SELECT 1 FROM executions WHERE execution_id = ?", (execution_id,)
    ).fetchone()
    if exists is None:
        raise NotFoundError(f"no execution {execution_id!r}")
    cursor = conn.execute(
        "INSERT INTO requests (execution_id, kind, token, payload, created) VALUES (?,?,?,?,?)",
        (execution_id, kind, token, payload_json, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def claim_activity_task(
    conn: sqlite3.Connection, activity: str, worker: str, now: float
) -> ActivityTask | None:
    """Give the oldest waiting task of ``activity`` to ``worker``, or return None."""
    row = conn.execute(
        f"SELECT {TASK_COLUMNS} FROM activity_tasks WHERE activity = ? AND worker IS NULL"
        " ORDER BY created, rowid LIMIT 1",
        (activity,),
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        "UPDATE activity_tasks SET worker = ?, claimed_at = ? WHERE token = ?",
        (worker, now, row[0]),
    )
    task = row_to_task(row)
    return ActivityTask(
        token=task.token,
        activity=task.activity,
        execution_id=task.execution_id,
        input=task.input,
        created=task.created,
        worker=worker,
        claimed_at=now,
    )


def deploy_workflow(
    conn: sqlite3.Connection, name: str, definition: str, now: float
) -> WorkflowVersion:
    """Store ``definition`` as the next version of ``name`` (or return the identical latest)."""
    row = conn.execute(
        f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE name = ? ORDER BY version DESC LIMIT 1",
        (name,),
    ).fetchone()
    if row is not None and row[2] == definition:
        return row_to_workflow(row)
    version = 1 if row is None else row[1] + 1
    conn.execute(
        "INSERT INTO workflows (name, version, definition, created) VALUES (?,?,?,?)",
        (name, version, definition, now),
    )
    return WorkflowVersion(name=name, version=version, definition=definition, created=now)
