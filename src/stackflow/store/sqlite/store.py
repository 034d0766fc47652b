"""SQLite store: WAL mode, one group-committing writer thread, thread-local readers.

Durability:

* ``durability="full"`` (the default) sets ``synchronous=FULL``: a commit is on disk (the WAL is
  fsynced) before its ticket completes, so nothing committed is lost, even on power loss.
* ``durability="normal"`` sets ``synchronous=NORMAL``: the WAL is fsynced only at checkpoints, so
  the last commits may be lost on power loss or an OS crash; the database stays consistent, and a
  killed process (even ``kill -9``) loses nothing that was committed.

Readers use their own connections (one per thread, ``PRAGMA query_only``); in WAL mode they never
wait for the writer and always see the last committed state.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from stackflow.errors import NotFoundError, StoreError
from stackflow.store.base import (
    ActivityTask,
    CommitTicket,
    ExecutionRecord,
    HistoryEvent,
    Request,
    Snapshot,
    Store,
    Transition,
    WorkflowVersion,
    kept_once,
)
from stackflow.store.sqlite import ops
from stackflow.store.sqlite.rows import (
    RECORD_COLUMNS,
    REQUEST_COLUMNS,
    WORKFLOW_COLUMNS,
    chunks,
    encode_json,
    marks,
    row_to_record,
    row_to_request,
    row_to_workflow,
)
from stackflow.store.sqlite.schema import apply_migrations, load_migrations, split_statements
from stackflow.store.sqlite.writer import Writer
from stackflow.types import JSON

if TYPE_CHECKING:
    from stackflow.store.sqlite.schedules import SQLiteScheduleStore
    from stackflow.store.sqlite.services import SQLiteServiceStore
    from stackflow.store.sqlite.stacks import SQLiteStackStore
    from stackflow.store.sqlite.tokens import SQLiteTokenStore
    from stackflow.store.sqlite.triggers import SQLiteTriggerStore

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SQLiteStore",
    "apply_migrations",
    "load_migrations",
    "split_statements",
]

Durability = Literal["full", "normal"]

#: Milliseconds a connection waits for a lock held by another process before failing.
BUSY_TIMEOUT_MS = 10_000


class _ReaderConnection(sqlite3.Connection):
    """A reader connection; a subclass so the store can track it weakly (closed with its thread)."""


class SQLiteStore(Store):
    """A durable store in one SQLite file (WAL mode, group commit).

    Args:
        path: The database file (created with its schema when missing; the parent folder must
            exist).
        durability: ``"full"`` (fsync every commit) or ``"normal"`` (faster; may lose the last
            commits on power loss, never on a process kill). See the module docstring.

    Raises:
        StoreError: The file cannot be opened, is not a database, or has a newer schema.
    """

    def __init__(self, path: str | Path, *, durability: Durability = "full") -> None:
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise StoreError("SQLiteStore needs a file path; use MemoryStore for memory")
        if durability not in ("full", "normal"):
            raise StoreError(f"durability must be 'full' or 'normal', not {durability!r}")
        self.path = Path(path)
        self.durability: Durability = durability
        self._settings: dict[str, Any] = {}
        self._applied: list[int] = []
        self._local = threading.local()
        # Weak: a reader closes when its thread ends; close() closes the ones still alive.
        self._readers: weakref.WeakSet[_ReaderConnection] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._closed = False
        try:
            self._writer = Writer(self._open_writer)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc

    # -- connections ---------------------------------------------------------------------------

    def _open_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"cannot put {self.path} in WAL mode (journal_mode={mode})")
            conn.execute(f"PRAGMA synchronous={self.durability.upper()}")
            self._applied = apply_migrations(conn)
            self._settings = {
                "journal_mode": str(mode).lower(),
                "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
                "busy_timeout": conn.execute("PRAGMA busy_timeout").fetchone()[0],
            }
        except BaseException:
            conn.close()
            raise
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError("the store is closed")
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
            factory=_ReaderConnection,
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only=ON")
        with self._readers_lock:
            if self._closed:
                conn.close()
                raise StoreError("the store is closed")
            self._readers.add(conn)
        self._local.conn = conn
        return conn

    def _query(self, sql: str, params: tuple[Any, ...] | list[Any]) -> list[Any]:
        if self._closed:
            raise StoreError("the store is closed")
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc

    # -- writes --------------------------------------------------------------------------------

    def create_execution(self, record: ExecutionRecord) -> None:
        """Durably record a new execution (goes through the writer; blocks until committed).

        Raises:
            ConflictError: An execution with the same id, or the same workflow and name, exists.
            StoreError: The store is closed or the commit failed.
        """
        self._writer.create(record).wait()

    def append(self, transition: Transition) -> CommitTicket:
        """Queue a transition for the next group commit and return its ticket.

        The ticket fails with :class:`NotFoundError` for an unknown execution and with
        :class:`ConflictError` when an event id is already recorded.

        Raises:
            StoreError: The store is closed.
        """
        return self._writer.append(transition)

    def flush(self) -> None:
        """Block until every transition queued so far is committed.

        Raises:
            StoreError: The store is closed or the commit failed.
        """
        self._writer.flush()

    # -- reads ---------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """Return one execution (committed state).

        Raises:
            NotFoundError: No such execution.
        """
        rows = self._query(
            f"SELECT {RECORD_COLUMNS} FROM executions WHERE execution_id = ?", (execution_id,)
        )
        if not rows:
            raise NotFoundError(f"no execution {execution_id!r}")
        return row_to_record(rows[0])

    def find_execution(self, workflow: str, name: str) -> ExecutionRecord | None:
        """Return the execution of ``workflow`` called ``name``, or None."""
        rows = self._query(
            f"SELECT {RECORD_COLUMNS} FROM executions WHERE workflow = ? AND name = ?",
            (workflow, name),
        )
        return row_to_record(rows[0]) if rows else None

    def list_executions(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRecord]:
        """Return executions, newest first (by start time, then creation order), filtered."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("workflow", workflow), ("parent_id", parent_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(limit, 0))
        rows = self._query(
            f"SELECT {RECORD_COLUMNS} FROM executions{where}"
            " ORDER BY start_time DESC, rowid DESC LIMIT ?",
            params,
        )
        return [row_to_record(row) for row in rows]

    def list_children(
        self, parent_id: str, *, after_name: str = "", limit: int = 1000
    ) -> list[ExecutionRecord]:
        """Return child executions of ``parent_id`` ordered by name, after ``after_name``."""
        rows = self._query(
            f"SELECT {RECORD_COLUMNS} FROM executions WHERE parent_id = ? AND name > ?"
            " ORDER BY name LIMIT ?",
            (parent_id, after_name, max(limit, 0)),
        )
        return [row_to_record(row) for row in rows]

    def get_history(self, execution_id: str, after_event_id: int = 0) -> list[HistoryEvent]:
        """Return the events of an execution with id greater than ``after_event_id``, in order."""
        rows = self._query(
            "SELECT id, type, timestamp, previous_event_id, details FROM events"
            " WHERE execution_id = ? AND id > ? ORDER BY id",
            (execution_id, after_event_id),
        )
        return [
            HistoryEvent(
                id=row[0],
                type=row[1],
                timestamp=row[2],
                previous_event_id=row[3],
                details=json.loads(row[4]),
            )
            for row in rows
        ]

    def load_snapshot(self, execution_id: str) -> Snapshot | None:
        """Return the latest committed snapshot (header and live frames), or None.

        The header and the frames are read in one read transaction, so they always match. An
        execution without a header has no snapshot (None), even if frames were written.
        """
        if self._closed:
            raise StoreError("the store is closed")
        conn = self._reader()
        try:
            conn.execute("BEGIN")
            try:
                header = conn.execute(
                    "SELECT data FROM snapshots WHERE execution_id = ?", (execution_id,)
                ).fetchone()
                frames = conn.execute(
                    "SELECT frame_id, data FROM snapshot_frames WHERE execution_id = ?"
                    " ORDER BY frame_id",
                    (execution_id,),
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc
        if header is None:
            return None
        return Snapshot(bytes(header[0]), {row[0]: bytes(row[1]) for row in frames})

    # -- leases --------------------------------------------------------------------------------

    def claim_executions(
        self, owner: str, now: float, lease_until: float, limit: int
    ) -> list[ExecutionRecord]:
        """Atomically take up to ``limit`` free RUNNING executions, oldest first.

        Free means: no owner, no lease expiry, or a lease that expired before ``now``. The claim
        runs in the writer's ``BEGIN IMMEDIATE`` transaction, so two stores (in one process or
        in several) never take the same execution.

        Returns:
            The claimed records (with the new owner and lease), oldest first.
        """
        result: list[ExecutionRecord] = self._writer.call(
            functools.partial(
                ops.claim_executions, owner=owner, now=now, lease_until=lease_until, limit=limit
            )
        )
        return result

    def claim_execution(
        self,
        execution_id: str,
        owner: str,
        now: float,
        lease_until: float,
        *,
        any_status: bool = False,
    ) -> ExecutionRecord | None:
        """Atomically take one execution if nobody else holds it.

        Free means: no owner, no lease expiry, a lease that expired before ``now``, or already
        held by ``owner`` (the lease is then extended).

        Args:
            execution_id: The execution.
            owner: The new owner.
            now: Current time (epoch seconds) for the expiry check.
            lease_until: The new lease expiry.
            any_status: Also take an execution that is not RUNNING (to redrive it).

        Returns:
            The claimed record, or None when another owner holds it (or it is not RUNNING).

        Raises:
            NotFoundError: No such execution.
        """
        result: ExecutionRecord | None = self._writer.call(
            functools.partial(
                ops.claim_execution,
                execution_id=execution_id,
                owner=owner,
                now=now,
                lease_until=lease_until,
                any_status=any_status,
            )
        )
        return result

    def renew_leases(self, owner: str, execution_ids: list[str], lease_until: float) -> list[str]:
        """Extend the leases ``owner`` still holds among ``execution_ids`` (RUNNING ones only).

        Returns:
            The renewed ids, in the given order (a missing id was lost or ended).
        """
        result: list[str] = self._writer.call(
            functools.partial(
                ops.renew_leases,
                owner=owner,
                execution_ids=list(execution_ids),
                lease_until=lease_until,
            )
        )
        return result

    def release_executions(self, owner: str, execution_ids: list[str]) -> None:
        """Give up ``owner``'s leases on these executions (others' leases are untouched)."""
        self._writer.call(
            functools.partial(
                ops.release_executions, owner=owner, execution_ids=list(execution_ids)
            )
        )

    # -- requests ------------------------------------------------------------------------------

    def add_request(
        self, execution_id: str, kind: str, token: str | None, payload: JSON, now: float
    ) -> int:
        """Durably add a request for an execution (blocks until committed) and return its id.

        Raises:
            NotFoundError: No such execution.
        """
        result: int = self._writer.call(
            functools.partial(
                ops.add_request,
                execution_id=execution_id,
                kind=kind,
                token=token,
                payload_json=encode_json(payload),
                now=now,
            )
        )
        return result

    def pending_requests(self, execution_ids: list[str]) -> list[Request]:
        """Return the requests waiting for these executions, oldest (lowest id) first."""
        found: list[Request] = []
        for chunk in chunks(list(dict.fromkeys(execution_ids))):
            rows = self._query(
                f"SELECT {REQUEST_COLUMNS} FROM requests"
                f" WHERE execution_id IN ({marks(len(chunk))})",
                chunk,
            )
            found.extend(row_to_request(row) for row in rows)
        found.sort(key=lambda request: request.id)
        return found

    # -- activities ----------------------------------------------------------------------------

    def claim_activity_task(self, activity: str, worker: str, now: float) -> ActivityTask | None:
        """Atomically give the oldest waiting task of ``activity`` to ``worker``, or None."""
        result: ActivityTask | None = self._writer.call(
            functools.partial(ops.claim_activity_task, activity=activity, worker=worker, now=now)
        )
        return result

    def list_activities(self) -> dict[str, int]:
        """Return every activity with a task (waiting or taken) to its number of waiting tasks."""
        rows = self._query(
            "SELECT activity, SUM(worker IS NULL) FROM activity_tasks"
            " GROUP BY activity ORDER BY activity",
            (),
        )
        return {row[0]: int(row[1]) for row in rows}

    # -- workflows -----------------------------------------------------------------------------

    def deploy_workflow(self, name: str, definition: str, now: float) -> WorkflowVersion:
        """Store ``definition`` as the next version of ``name`` and return it.

        When the latest version has exactly this definition text, it is returned unchanged.
        """
        result: WorkflowVersion = self._writer.call(
            functools.partial(ops.deploy_workflow, name=name, definition=definition, now=now)
        )
        return result

    def get_workflow(self, name: str, version: int | None = None) -> WorkflowVersion:
        """Return one version of a workflow (the latest when ``version`` is None).

        Raises:
            NotFoundError: No such workflow or version.
        """
        if version is None:
            rows = self._query(
                f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE name = ?"
                " ORDER BY version DESC LIMIT 1",
                (name,),
            )
        else:
            rows = self._query(
                f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE name = ? AND version = ?",
                (name, version),
            )
        if not rows:
            raise NotFoundError(_missing_workflow(name, version, self._latest_version(name)))
        return row_to_workflow(rows[0])

    def _latest_version(self, name: str) -> int | None:
        rows = self._query("SELECT MAX(version) FROM workflows WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def list_workflows(self) -> list[WorkflowVersion]:
        """Return the latest version of every deployed workflow, by name."""
        rows = self._query(
            f"SELECT {WORKFLOW_COLUMNS} FROM workflows AS w WHERE version ="
            " (SELECT MAX(version) FROM workflows WHERE name = w.name) ORDER BY name",
            (),
        )
        return [row_to_workflow(row) for row in rows]

    def delete_workflow(self, name: str) -> int:
        """Forget every deployed version of workflow ``name``; return how many there were."""

        def remove(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM workflows WHERE name = ?", (name,)).rowcount

        removed: int = self._writer.call(remove)
        return removed

    def count_children(self, parent_id: str) -> dict[str, int]:
        """Return status to the number of child executions of ``parent_id``."""
        rows = self._query(
            "SELECT status, COUNT(*) FROM executions WHERE parent_id = ? GROUP BY status",
            (parent_id,),
        )
        return {row[0]: row[1] for row in rows}

    def schema_versions(self) -> list[int]:
        """Return the migration versions recorded in the database, in order."""
        rows = self._query("SELECT version FROM schema_version ORDER BY version", ())
        return [row[0] for row in rows]

    @property
    def applied_migrations(self) -> list[int]:
        """The migration versions this instance applied when it opened the file."""
        return list(self._applied)

    def pragmas(self) -> dict[str, Any]:
        """Return the connection settings, for diagnostics.

        Keys: ``journal_mode``, ``synchronous`` (2 = FULL, 1 = NORMAL) and ``busy_timeout`` of the
        writer (read when it opened), and ``reader_query_only`` and ``reader_busy_timeout`` of
        the calling thread's reader connection.
        """
        settings = dict(self._settings)
        settings["reader_query_only"] = self._query("PRAGMA query_only", ())[0][0]
        settings["reader_busy_timeout"] = self._query("PRAGMA busy_timeout", ())[0][0]
        return settings

    @property
    def stacks(self) -> SQLiteStackStore:
        """The store of stacks in this file (created on first use, then the same).

        Its writes go through this store's writer (group commit), its reads through the
        calling thread's reader connection.
        """
        from stackflow.store.sqlite.stacks import SQLiteStackStore

        return kept_once(self, "_stack_store", lambda: SQLiteStackStore(self._writer, self._query))

    @property
    def services(self) -> SQLiteServiceStore:
        """The store of services in this file (created on first use, then the same).

        Its writes go through this store's writer (group commit), its reads through the
        calling thread's reader connection.
        """
        from stackflow.store.sqlite.services import SQLiteServiceStore

        return kept_once(
            self, "_service_store", lambda: SQLiteServiceStore(self._writer, self._query)
        )

    @property
    def schedules(self) -> SQLiteScheduleStore:
        """The store of schedules in this file (created on first use, then the same).

        Its writes go through this store's writer (group commit), its reads through the
        calling thread's reader connection.
        """
        from stackflow.store.sqlite.schedules import SQLiteScheduleStore

        return kept_once(
            self, "_schedule_store", lambda: SQLiteScheduleStore(self._writer, self._query)
        )

    @property
    def tokens(self) -> SQLiteTokenStore:
        """The store of API tokens in this file (created on first use, then the same)."""
        from stackflow.store.sqlite.tokens import SQLiteTokenStore

        return kept_once(self, "_token_store", lambda: SQLiteTokenStore(self._writer, self._query))

    @property
    def triggers(self) -> SQLiteTriggerStore:
        """The store of HTTP triggers in this file (created on first use, then the same)."""
        from stackflow.store.sqlite.triggers import SQLiteTriggerStore

        return kept_once(
            self, "_trigger_store", lambda: SQLiteTriggerStore(self._writer, self._query)
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Commit what is queued, stop the writer and close every connection (idempotent)."""
        self._writer.stop()
        with self._readers_lock:
            self._closed = True
            readers = list(self._readers)
            self._readers.clear()
        for conn in readers:
            conn.close()


def _missing_workflow(name: str, version: int | None, latest: int | None) -> str:
    """Say which workflow (and version) is missing, and what exists instead."""
    if latest is None:
        return f"no workflow named {name!r} is deployed"
    if version is None:
        return f"workflow {name!r} has no version"
    return f"workflow {name!r} has no version {version} (the latest is {latest})"
