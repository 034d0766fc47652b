"""The SQLite stack store: writes go through the store's single writer, reads use its readers.

Every write is a function run by :meth:`Writer.call` inside the writer's next group commit (under
a savepoint), so a compare-and-set (a version check, a lock) is atomic even across processes
sharing the file. Errors that are not :class:`StoreError` (``StackNotFoundError``, an error of a
``break_if`` callback) are carried out of the writer and raised to the caller unchanged (see
:class:`~stackflow.store.sqlite.tables.WriterStore`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from stackflow.errors import ConflictError, NotFoundError, StackNotFoundError
from stackflow.store.leases import lease_is_free
from stackflow.store.sqlite.rows import decode_json, encode_json
from stackflow.store.sqlite.tables import Query as Query  # importable here as before
from stackflow.store.sqlite.tables import Table, WriterStore, execute
from stackflow.store.stacks import (
    ChangeSetRecord,
    IntentRecord,
    StackEvent,
    StackRecord,
    StackResourceRecord,
    StackStore,
    check_update_fields,
    export_conflict_message,
)

__all__ = ["SQLiteStackStore"]


def _stack_from_row(row: Sequence[Any]) -> StackRecord:
    record = _STACKS.record(row)
    return replace(record, no_echo=frozenset(record.no_echo), deleted=bool(record.deleted))


_STACKS = Table("stacks", StackRecord, ("parameters", "no_echo", "outputs"))
_RESOURCES = Table(
    "stack_resources", StackResourceRecord, ("properties", "attributes", "depends_on")
)
_EVENTS = Table("stack_events", StackEvent)
_CHANGE_SETS = Table("change_sets", ChangeSetRecord, ("parameters", "changes"))
_INTENTS = Table("stack_intents", IntentRecord, ("data",))


def _load_stack(conn: sqlite3.Connection, stack_id: str) -> StackRecord:
    row = conn.execute(
        f"SELECT {_STACKS.columns} FROM stacks WHERE stack_id = ?", (stack_id,)
    ).fetchone()
    if row is None:
        raise StackNotFoundError(f"no stack with id {stack_id!r}")
    return _stack_from_row(row)


def _check_live_name(conn: sqlite3.Connection, name: str, stack_id: str) -> None:
    row = conn.execute(
        "SELECT stack_id FROM stacks WHERE name = ? AND deleted = 0 AND stack_id != ?",
        (name, stack_id),
    ).fetchone()
    if row is not None:
        raise ConflictError(f"a stack named {name!r} already exists")


class SQLiteStackStore(WriterStore, StackStore):
    """A :class:`StackStore` in the SQLite store's file.

    Args:
        writer: The store's single writer (every write runs in its group commit).
        query: Runs a read on the calling thread's reader connection (raises
            :class:`StoreError` when the store is closed or the query fails).
    """

    # -- stacks --------------------------------------------------------------------------------

    def create_stack(self, record: StackRecord) -> StackRecord:
        """Record a new stack and return it as stored.

        Raises:
            ConflictError: A live stack has the same name, or a stack has the same id.
        """
        row = _STACKS.row(record)

        def create(conn: sqlite3.Connection) -> None:
            found = conn.execute(
                "SELECT 1 FROM stacks WHERE stack_id = ?", (record.stack_id,)
            ).fetchone()
            if found is not None:
                raise ConflictError(f"a stack with id {record.stack_id!r} already exists")
            if not record.deleted:
                _check_live_name(conn, record.name, record.stack_id)
            conn.execute(f"INSERT INTO stacks ({_STACKS.columns}) VALUES ({_STACKS.marks})", row)

        self._call(create)
        return self.get_stack(record.stack_id)

    def find_stack(self, name_or_id: str) -> StackRecord | None:
        """Return a stack like :meth:`get_stack`, or None when there is none."""
        rows = self._query(
            f"SELECT 0, {_STACKS.columns} FROM stacks WHERE stack_id = ?"
            f" UNION ALL SELECT 1, {_STACKS.columns} FROM stacks WHERE name = ? AND deleted = 0"
            " ORDER BY 1 LIMIT 1",
            (name_or_id, name_or_id),
        )
        return _stack_from_row(rows[0][1:]) if rows else None

    def list_stacks(self, *, include_deleted: bool = False) -> list[StackRecord]:
        """Return the live stacks (and the deleted ones if asked), by name then creation time."""
        where = "" if include_deleted else " WHERE deleted = 0"
        rows = self._query(
            f"SELECT {_STACKS.columns} FROM stacks{where} ORDER BY name, created_at, stack_id", ()
        )
        return [_stack_from_row(row) for row in rows]

    def update_stack(
        self, stack_id: str, *, expected_version: int | None = None, **fields: Any
    ) -> StackRecord:
        """Change some fields of a stack, bump its version, and return the new record.

        Raises:
            TypeError: A field name is unknown (nothing is written).
            StackNotFoundError: No stack has this id.
            ConflictError: The version is not ``expected_version``, or the new name belongs to
                another live stack.
        """
        check_update_fields(fields)

        def update(conn: sqlite3.Connection) -> StackRecord:
            current = _load_stack(conn, stack_id)
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(
                    f"stack {current.name!r} is at version {current.version},"
                    f" not {expected_version}: it changed meanwhile"
                )
            updated = replace(current, **fields, version=current.version + 1)
            if not updated.deleted:
                _check_live_name(conn, updated.name, stack_id)
            row = _STACKS.row(updated)
            conn.execute(
                f"UPDATE stacks SET {', '.join(c + ' = ?' for c in _STACKS.fields[1:])}"
                " WHERE stack_id = ?",
                (*row[1:], stack_id),
            )
            return _stack_from_row(row)

        return self._call(update)

    # -- lock ----------------------------------------------------------------------------------

    def acquire_lock(
        self,
        stack_id: str,
        owner: str,
        lease_seconds: float,
        now: float,
        *,
        break_if: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take the stack's lock for ``owner`` (see :meth:`StackStore.acquire_lock`).

        The check and the write are one compare-and-set in the writer's transaction;
        ``break_if`` is called there too, so it must be quick.

        Returns:
            True when ``owner`` now holds the lock, False when someone else does.

        Raises:
            StackNotFoundError: No stack has this id.
        """

        def acquire(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT lock_owner, lock_expires FROM stacks WHERE stack_id = ?", (stack_id,)
            ).fetchone()
            if row is None:
                raise StackNotFoundError(f"no stack with id {stack_id!r}")
            free = lease_is_free(row[0], row[1], owner, now, break_if)
            if free:
                conn.execute(
                    "UPDATE stacks SET lock_owner = ?, lock_expires = ? WHERE stack_id = ?",
                    (owner, now + lease_seconds, stack_id),
                )
            return free

        return self._call(acquire)

    def renew_lock(self, stack_id: str, owner: str, lease_seconds: float, now: float) -> bool:
        """Extend ``owner``'s lock to ``now + lease_seconds``.

        Returns:
            True when renewed; False when ``owner`` does not hold the lock.

        Raises:
            StackNotFoundError: No stack has this id.
        """

        def renew(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                "UPDATE stacks SET lock_expires = ? WHERE stack_id = ? AND lock_owner = ?",
                (now + lease_seconds, stack_id, owner),
            ).rowcount
            if not changed:
                _load_stack(conn, stack_id)  # StackNotFoundError when missing
            return changed > 0

        return self._call(renew)

    def release_lock(self, stack_id: str, owner: str) -> None:
        """Release the lock if ``owner`` holds it.

        Raises:
            StackNotFoundError: No stack has this id.
        """

        def release(conn: sqlite3.Connection) -> None:
            changed = conn.execute(
                "UPDATE stacks SET lock_owner = NULL, lock_expires = NULL"
                " WHERE stack_id = ? AND lock_owner = ?",
                (stack_id, owner),
            ).rowcount
            if not changed:
                _load_stack(conn, stack_id)

        self._call(release)

    # -- resources -----------------------------------------------------------------------------

    def put_resource(self, record: StackResourceRecord) -> None:
        """Insert or replace the resource ``(record.stack_id, record.logical_id)``."""
        row = _RESOURCES.row(record)
        sql = (
            f"INSERT INTO stack_resources ({_RESOURCES.columns}) VALUES ({_RESOURCES.marks})"
            " ON CONFLICT (stack_id, logical_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _RESOURCES.fields[2:])
        )
        self._call(execute(sql, row))

    def delete_resource(self, stack_id: str, logical_id: str) -> None:
        """Forget a resource of a stack (no error when it is not recorded)."""
        self._call(
            execute(
                "DELETE FROM stack_resources WHERE stack_id = ? AND logical_id = ?",
                (stack_id, logical_id),
            )
        )

    def list_resources(self, stack_id: str) -> list[StackResourceRecord]:
        """Return the stack's resources in the order they were first recorded."""
        rows = self._query(
            f"SELECT {_RESOURCES.columns} FROM stack_resources WHERE stack_id = ? ORDER BY rowid",
            (stack_id,),
        )
        return [_RESOURCES.record(row) for row in rows]

    # -- events --------------------------------------------------------------------------------

    def add_events(self, events: Sequence[StackEvent]) -> list[StackEvent]:
        """Record events and return them with the assigned ``seq`` (1, 2, 3... per stack)."""
        pending = list(events)
        if not pending:
            return []

        def add(conn: sqlite3.Connection) -> list[StackEvent]:
            last: dict[str, int] = {}
            added: list[StackEvent] = []
            for event in pending:
                if event.stack_id not in last:
                    row = conn.execute(
                        "SELECT MAX(seq) FROM stack_events WHERE stack_id = ?", (event.stack_id,)
                    ).fetchone()
                    last[event.stack_id] = row[0] or 0
                last[event.stack_id] += 1
                added.append(replace(event, seq=last[event.stack_id]))
            conn.executemany(
                f"INSERT INTO stack_events ({_EVENTS.columns}) VALUES ({_EVENTS.marks})",
                [_EVENTS.row(event) for event in added],
            )
            return added

        return self._call(add)

    def list_events(
        self, stack_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StackEvent]:
        """Return the stack's events with ``seq > after``, oldest first, at most ``limit``."""
        rows = self._query(
            f"SELECT {_EVENTS.columns} FROM stack_events WHERE stack_id = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (stack_id, after, -1 if limit is None else max(limit, 0)),
        )
        return [_EVENTS.record(row) for row in rows]

    # -- change sets ---------------------------------------------------------------------------

    def save_change_set(self, record: ChangeSetRecord) -> None:
        """Insert or replace a change set (by id)."""
        row = _CHANGE_SETS.row(record)
        sql = (
            f"INSERT OR REPLACE INTO change_sets ({_CHANGE_SETS.columns})"
            f" VALUES ({_CHANGE_SETS.marks})"
        )
        self._call(execute(sql, row))

    def get_change_set(self, change_set_id: str) -> ChangeSetRecord:
        """Return one change set.

        Raises:
            NotFoundError: No such change set.
        """
        rows = self._query(
            f"SELECT {_CHANGE_SETS.columns} FROM change_sets WHERE change_set_id = ?",
            (change_set_id,),
        )
        if not rows:
            raise NotFoundError(f"no change set {change_set_id!r}")
        return _CHANGE_SETS.record(rows[0])

    def list_change_sets(self, stack_name: str) -> list[ChangeSetRecord]:
        """Return the change sets made for ``stack_name``, oldest first."""
        rows = self._query(
            f"SELECT {_CHANGE_SETS.columns} FROM change_sets WHERE stack_name = ?"
            " ORDER BY created_at, change_set_id",
            (stack_name,),
        )
        return [_CHANGE_SETS.record(row) for row in rows]

    def update_change_set_status(self, change_set_id: str, status: str) -> None:
        """Set a change set's status.

        Raises:
            NotFoundError: No such change set.
        """

        def update(conn: sqlite3.Connection) -> None:
            changed = conn.execute(
                "UPDATE change_sets SET status = ? WHERE change_set_id = ?",
                (status, change_set_id),
            ).rowcount
            if not changed:
                raise NotFoundError(f"no change set {change_set_id!r}")

        self._call(update)

    # -- intents -------------------------------------------------------------------------------

    def put_intent(self, record: IntentRecord) -> None:
        """Insert or replace the intent ``(record.operation_id, record.seq)``."""
        row = _INTENTS.row(record)
        sql = f"INSERT OR REPLACE INTO stack_intents ({_INTENTS.columns}) VALUES ({_INTENTS.marks})"
        self._call(execute(sql, row))

    def list_intents(self, operation_id: str) -> list[IntentRecord]:
        """Return the operation's intents by ``seq``."""
        rows = self._query(
            f"SELECT {_INTENTS.columns} FROM stack_intents WHERE operation_id = ? ORDER BY seq",
            (operation_id,),
        )
        return [_INTENTS.record(row) for row in rows]

    # -- exports and imports -------------------------------------------------------------------

    def set_exports(self, stack_id: str, exports: Mapping[str, Any]) -> None:
        """Replace the stack's exports with ``exports`` (``{}``: none).

        Raises:
            ConflictError: Another live stack exports one of the names; nothing is changed.
        """
        values = sorted((name, encode_json(value)) for name, value in exports.items())

        def put(conn: sqlite3.Connection) -> None:
            for name, _ in values:
                row = conn.execute(
                    "SELECT e.stack_id, s.name FROM stack_exports e"
                    " JOIN stacks s ON s.stack_id = e.stack_id"
                    " WHERE e.name = ? AND e.stack_id != ? AND s.deleted = 0",
                    (name, stack_id),
                ).fetchone()
                if row is not None:
                    raise ConflictError(export_conflict_message(name, row[0], row[1]))
            conn.execute("DELETE FROM stack_exports WHERE stack_id = ?", (stack_id,))
            conn.executemany(
                "INSERT OR REPLACE INTO stack_exports (name, stack_id, value) VALUES (?, ?, ?)",
                [(name, stack_id, value) for name, value in values],
            )

        self._call(put)

    def get_exports(self) -> dict[str, tuple[str, Any]]:
        """Return every export of the live stacks: name to ``(stack_id, value)``."""
        rows = self._query(
            "SELECT e.name, e.stack_id, e.value FROM stack_exports e"
            " JOIN stacks s ON s.stack_id = e.stack_id WHERE s.deleted = 0 ORDER BY e.name",
            (),
        )
        return {name: (stack_id, decode_json(value)) for name, stack_id, value in rows}

    def set_imports(self, stack_id: str, names: Iterable[str]) -> None:
        """Replace the export names the stack imports."""
        wanted = sorted(set(names))

        def put(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM stack_imports WHERE stack_id = ?", (stack_id,))
            conn.executemany(
                "INSERT INTO stack_imports (stack_id, export_name) VALUES (?, ?)",
                [(stack_id, name) for name in wanted],
            )

        self._call(put)

    def importers(self, export_name: str) -> list[str]:
        """Return the ids of the live stacks importing ``export_name``, sorted."""
        rows = self._query(
            "SELECT i.stack_id FROM stack_imports i JOIN stacks s ON s.stack_id = i.stack_id"
            " WHERE i.export_name = ? AND s.deleted = 0 ORDER BY i.stack_id",
            (export_name,),
        )
        return [row[0] for row in rows]
