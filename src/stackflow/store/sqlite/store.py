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

import importlib.resources
import json
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from stackflow.errors import NotFoundError, StoreError
from stackflow.store.base import (
    CommitTicket,
    ExecutionRecord,
    HistoryEvent,
    Store,
    Transition,
)
from stackflow.store.sqlite.writer import Writer

Durability = Literal["full", "normal"]

#: Milliseconds a connection waits for a lock held by another process before failing.
BUSY_TIMEOUT_MS = 10_000

_MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_-]+\.sql$")
_RECORD_COLUMNS = (
    "execution_id, name, workflow, definition, status, input, output, error, cause,"
    " start_time, stop_time, parent_id"
)


def load_migrations() -> list[tuple[int, str, str]]:
    """Return the packaged migrations as (version, file name, SQL), in version order.

    Raises:
        StoreError: Two files have the same version number.
    """
    folder = importlib.resources.files("stackflow.store.sqlite").joinpath("migrations")
    found: dict[int, tuple[str, str]] = {}
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations have version {version}")
        found[version] = (entry.name, entry.read_text(encoding="utf-8"))
    return [(version, *found[version]) for version in sorted(found)]


def split_statements(sql: str) -> Iterator[str]:
    """Split an SQL script into complete statements (comments stay with the next statement)."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    rest = "\n".join(
        line for line in buffer.splitlines() if line.strip() and not line.strip().startswith("--")
    )
    if rest.strip():
        raise StoreError(f"incomplete SQL statement in migration: {rest.strip()[:80]!r}")


def apply_migrations(conn: sqlite3.Connection) -> list[int]:
    """Apply the packaged migrations that ``conn``'s database lacks, in order, atomically.

    Each applied version is recorded in ``schema_version`` (version, applied_at). The write lock is
    taken before the applied versions are read, so two processes opening a new file at once apply
    each migration only once.

    Args:
        conn: A connection in autocommit mode (``isolation_level=None``).

    Returns:
        The versions applied now (empty when the database was up to date).

    Raises:
        StoreError: A migration failed, or the database is newer than this code.
    """
    migrations = load_migrations()
    wanted = {version for version, _, _ in migrations}
    newest = max(wanted, default=0)
    applied = _applied_versions(conn)
    if applied and max(applied) > newest:
        raise StoreError(
            f"the database has schema version {max(applied)}, newer than this stackflow"
            f" supports ({newest})"
        )
    if wanted <= applied:
        return []
    applied_now: list[int] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        applied = _applied_versions(conn)  # again, now that this connection holds the lock
        for version, name, sql in migrations:
            if version in applied:
                continue
            for statement in split_statements(sql):
                try:
                    conn.execute(statement)
                except sqlite3.Error as exc:
                    raise StoreError(f"migration {name} failed: {exc}") from exc
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, time.time()),
            )
            applied_now.append(version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied_now


def _applied_versions(conn: sqlite3.Connection) -> set[int]:
    try:
        return {row[0] for row in conn.execute("SELECT version FROM schema_version")}
    except sqlite3.OperationalError:  # no schema_version table yet
        return set()


def _row_to_record(row: tuple[Any, ...]) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=row[0],
        name=row[1],
        workflow=row[2],
        definition=row[3],
        status=row[4],
        input=None if row[5] is None else json.loads(row[5]),
        output=None if row[6] is None else json.loads(row[6]),
        error=row[7],
        cause=row[8],
        start_time=row[9],
        stop_time=row[10],
        parent_id=row[11],
    )


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
            f"SELECT {_RECORD_COLUMNS} FROM executions WHERE execution_id = ?", (execution_id,)
        )
        if not rows:
            raise NotFoundError(f"no execution {execution_id!r}")
        return _row_to_record(rows[0])

    def find_execution(self, workflow: str, name: str) -> ExecutionRecord | None:
        """Return the execution of ``workflow`` called ``name``, or None."""
        rows = self._query(
            f"SELECT {_RECORD_COLUMNS} FROM executions WHERE workflow = ? AND name = ?",
            (workflow, name),
        )
        return _row_to_record(rows[0]) if rows else None

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
            f"SELECT {_RECORD_COLUMNS} FROM executions{where}"
            " ORDER BY start_time DESC, rowid DESC LIMIT ?",
            params,
        )
        return [_row_to_record(row) for row in rows]

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

    def load_snapshot(self, execution_id: str) -> bytes | None:
        """Return the latest committed snapshot of an execution, or None."""
        rows = self._query("SELECT data FROM snapshots WHERE execution_id = ?", (execution_id,))
        return bytes(rows[0][0]) if rows else None

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
