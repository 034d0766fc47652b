"""The SQLite trigger store: writes go through the store's single writer, reads use its readers."""

from __future__ import annotations

import sqlite3

from stackflow.store.sqlite.tables import Table, WriterStore
from stackflow.store.triggers import TriggerRecord, TriggerStore

__all__ = ["SQLiteTriggerStore"]

_TRIGGERS = Table("triggers", TriggerRecord)
_UPDATED = ("workflow", "auth_type", "secret", "header", "algorithm", "stack_name", "logical_id")


class SQLiteTriggerStore(WriterStore, TriggerStore):
    """A :class:`TriggerStore` in the SQLite store's file.

    Args:
        writer: The store's single writer (every write runs in its group commit).
        query: Runs a read on the calling thread's reader connection.
    """

    def put_trigger(self, record: TriggerRecord) -> TriggerRecord:
        """Create or replace a trigger (keeping ``created_at``)."""
        row = _TRIGGERS.row(record)
        updates = ", ".join(f"{name} = excluded.{name}" for name in (*_UPDATED, "updated_at"))

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO triggers ({_TRIGGERS.columns}) VALUES ({_TRIGGERS.marks})"
                f" ON CONFLICT (name) DO UPDATE SET {updates}",
                row,
            )

        self._call(put)
        return self.get_trigger(record.name)

    def find_trigger(self, name: str) -> TriggerRecord | None:
        """Return a trigger, or None."""
        rows = self._query(f"SELECT {_TRIGGERS.columns} FROM triggers WHERE name = ?", (name,))
        return _TRIGGERS.record(rows[0]) if rows else None

    def list_triggers(self, *, stack_name: str | None = None) -> list[TriggerRecord]:
        """Return the triggers (of one stack when given), by name."""
        clause, params = (
            ("", ()) if stack_name is None else (" WHERE stack_name = ?", (stack_name,))
        )
        rows = self._query(
            f"SELECT {_TRIGGERS.columns} FROM triggers{clause} ORDER BY name", params
        )
        return [_TRIGGERS.record(row) for row in rows]

    def delete_trigger(self, name: str) -> None:
        """Remove a trigger (no error when missing)."""

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM triggers WHERE name = ?", (name,))

        self._call(delete)
