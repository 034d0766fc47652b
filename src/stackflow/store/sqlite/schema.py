"""The SQLite schema: packaged migrations, applied in order and recorded in ``schema_version``."""

from __future__ import annotations

import importlib.resources
import re
import sqlite3
import time
from collections.abc import Iterator

from stackflow.errors import StoreError

_MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_-]+\.sql$")


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
