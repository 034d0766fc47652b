"""``Local::SQLiteDatabase``: a SQLite database file with schema migrations.

Properties:

* ``Path`` (required, create-only): the database file (relative to the template's folder).
* ``Migrations``: a list of ``{Id, Sql}``, applied in order, each once. Applied migrations are
  recorded in a ``_stackflow_migrations`` table inside the database; an update applies the new
  ones. Changing the SQL of an applied ``Id`` is an error (write a new migration instead).
  Each migration runs in its own transaction with its record, so a failing one leaves no trace.
* ``JournalMode`` (default ``WAL``): the SQLite journal mode.

Attributes: ``Path`` (absolute, also the physical id) and ``AppliedMigrations`` (the ids, in the
order applied). ``read`` returns the migrations recorded in the database (so a deleted or recreated
database shows as drift) and the actual journal mode when it was given. Delete removes the file and
its ``-wal``, ``-shm`` and ``-journal`` companions; keeping the data is the engine's
``DeletionPolicy: Retain``.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import invalid, physical_path, resolve_path

TABLE = "_stackflow_migrations"
JOURNAL_MODES = ("DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL", "OFF")

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": "Local::SQLiteDatabase",
        "description": "A SQLite database file with SQL schema migrations applied once each.",
        "properties": {
            "Path": {
                "type": "string",
                "minLength": 1,
                "description": "The database file (relative to the template's folder). As an "
                "attribute: the absolute path.",
            },
            "Migrations": {
                "type": "array",
                "description": "Migrations applied in order, once each.",
                "items": {
                    "type": "object",
                    "properties": {
                        "Id": {"type": "string", "minLength": 1, "description": "Unique id."},
                        "Sql": {"type": "string", "description": "SQL statements to run."},
                    },
                    "required": ["Id", "Sql"],
                    "additionalProperties": False,
                },
            },
            "JournalMode": {
                "type": "string",
                "enum": list(JOURNAL_MODES),
                "default": "WAL",
                "description": "SQLite journal mode.",
            },
            "AppliedMigrations": {
                "type": "array",
                "readOnly": True,
                "items": {"type": "string"},
                "description": "Ids of the migrations applied, in order.",
            },
        },
        "required": ["Path"],
        "createOnlyProperties": ["/properties/Path"],
        "readOnlyProperties": ["/properties/Path", "/properties/AppliedMigrations"],
        "writeOnlyProperties": [],
        "primaryIdentifier": ["/properties/Path"],
        "additionalProperties": False,
    }
)


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "id TEXT NOT NULL UNIQUE, sql TEXT NOT NULL, sha256 TEXT NOT NULL, applied_at REAL)"
    )


def _applied(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone()
    if not exists:
        return []
    return [(row[0], row[1]) for row in conn.execute(f"SELECT id, sql FROM {TABLE} ORDER BY seq")]


def split_statements(sql: str) -> list[str]:
    """Split SQL text into complete statements (string literals and triggers respected).

    Args:
        sql: One or more statements separated by semicolons.

    Returns:
        The statements, without empty ones.
    """
    statements: list[str] = []
    buffer = ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        statements.append(buffer.strip().rstrip(";"))
    return statements


def _migrations(props: dict[str, Any]) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(props.get("Migrations") or []):
        if not isinstance(item, dict) or not isinstance(item.get("Id"), str):
            raise invalid(f"Migrations/{index} must be an object with Id and Sql")
        ident, sql = item["Id"], item.get("Sql")
        if not isinstance(sql, str):
            raise invalid(f"Migrations/{index} ({ident}): Sql must be a string")
        if ident in seen:
            raise invalid(f"Migrations/{index}: the Id {ident!r} is used twice")
        seen.add(ident)
        result.append((ident, sql))
    return result


def _apply(request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
    props = request.properties
    path = resolve_path(request, props.get("Path"))
    wanted = _migrations(props)
    journal = str(props.get("JournalMode") or "WAL").upper()
    if journal not in JOURNAL_MODES:
        raise invalid(f"JournalMode must be one of {', '.join(JOURNAL_MODES)}, got {journal!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode={journal}")
        _ensure_table(conn)
        applied = dict(_applied(conn))
        for ident, sql in wanted:
            if ident in applied:
                if applied[ident] != sql:
                    return ProgressEvent.failed(
                        f"Migration {ident!r} was already applied with different SQL; "
                        "applied migrations cannot change (add a new migration instead)",
                        HandlerErrorCode.NotUpdatable,
                    )
                continue
            context.report(f"applying migration {ident}")
            error = _run_migration(conn, ident, sql)
            if error is not None:
                return ProgressEvent.failed(
                    f"Migration {ident!r} failed: {error}", HandlerErrorCode.InvalidRequest
                )
        ids = [ident for ident, _ in _applied(conn)]
    return ProgressEvent.success(str(path), {"Path": str(path), "AppliedMigrations": ids})


def _run_migration(conn: sqlite3.Connection, ident: str, sql: str) -> str | None:
    """Run one migration and record it in one transaction; return the error text or None."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in split_statements(sql):
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO {TABLE} (id, sql, sha256, applied_at) VALUES (?, ?, ?, ?)",
            (ident, sql, hashlib.sha256(sql.encode()).hexdigest(), time.time()),
        )
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        return f"{type(exc).__name__}: {exc}"
    conn.execute("COMMIT")
    return None


class SQLiteDatabaseProvider(Provider):
    """The ``Local::SQLiteDatabase`` resource type."""

    schema = SCHEMA

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Create the database (or open an existing one) and apply the migrations."""
        return _apply(request, context)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Apply migrations not applied yet and the journal mode."""
        return _apply(request, context)

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Remove the database file and its -wal, -shm and -journal files."""
        path = physical_path(request)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(path) + suffix).unlink()
        return ProgressEvent.success(str(path))

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Read the migrations recorded in the database and its journal mode."""
        path = physical_path(request)
        if not path.is_file():
            return None
        props = request.properties
        try:
            with _connect(path) as conn:
                applied = _applied(conn)
                journal = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).upper()
        except sqlite3.DatabaseError as exc:
            actual: dict[str, Any] = {"Path": props.get("Path")}
            if "Migrations" in props:
                actual["Migrations"] = f"(unreadable database: {exc})"
            return ReadResult(actual, {"Path": str(path), "AppliedMigrations": []})
        actual = {"Path": props.get("Path")}
        if "Migrations" in props:
            actual["Migrations"] = [{"Id": ident, "Sql": sql} for ident, sql in applied]
        if "JournalMode" in props:
            recorded = str(props["JournalMode"])
            actual["JournalMode"] = recorded if recorded.upper() == journal else journal
        ids = [ident for ident, _ in applied]
        return ReadResult(actual, {"Path": str(path), "AppliedMigrations": ids})
