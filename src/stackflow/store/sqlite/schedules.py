"""The SQLite schedule store: writes go through the store's single writer, reads use its readers.

Every write runs in the writer's next group commit, so :meth:`SQLiteScheduleStore.advance` (a
compare-and-set on the watermark) is atomic even across processes sharing the file.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from stackflow.store.schedules import ScheduleRecord, ScheduleStore
from stackflow.store.sqlite.tables import Table, WriterStore

__all__ = ["SQLiteScheduleStore"]

_SCHEDULES = Table("schedules", ScheduleRecord, ("spec",))


class SQLiteScheduleStore(WriterStore, ScheduleStore):
    """A :class:`ScheduleStore` in the SQLite store's file.

    Args:
        writer: The store's single writer (every write runs in its group commit).
        query: Runs a read on the calling thread's reader connection.
    """

    def put_schedule(self, record: ScheduleRecord) -> ScheduleRecord:
        """Create or replace a schedule (keeping ``created_at`` and ``last_fire_time``)."""
        row = _SCHEDULES.row(record)

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO schedules ({_SCHEDULES.columns}) VALUES ({_SCHEDULES.marks})"
                " ON CONFLICT (name) DO UPDATE SET spec = excluded.spec,"
                " stack_name = excluded.stack_name, logical_id = excluded.logical_id,"
                " updated_at = excluded.updated_at",
                row,
            )

        self._call(put)
        return self.get_schedule(record.name)

    def find_schedule(self, name: str) -> ScheduleRecord | None:
        """Return a schedule, or None."""
        rows = self._query(f"SELECT {_SCHEDULES.columns} FROM schedules WHERE name = ?", (name,))
        return _SCHEDULES.record(rows[0]) if rows else None

    def list_schedules(self, *, stack_name: str | None = None) -> list[ScheduleRecord]:
        """Return the schedules (of one stack when given), by name."""
        clause, params = (
            ("", ()) if stack_name is None else (" WHERE stack_name = ?", (stack_name,))
        )
        rows = self._query(
            f"SELECT {_SCHEDULES.columns} FROM schedules{clause} ORDER BY name", params
        )
        return [_SCHEDULES.record(row) for row in rows]

    def delete_schedule(self, name: str) -> None:
        """Remove a schedule (no error when missing)."""

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM schedules WHERE name = ?", (name,))

        self._call(delete)

    def advance(self, name: str, expected_last: float | None, new_last: float) -> bool:
        """Move the watermark if it is ``expected_last``: one compare-and-set in the writer."""

        def cas(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE schedules SET last_fire_time = ? WHERE name = ? AND last_fire_time IS ?",
                (new_last, name, expected_last),
            )
            return cursor.rowcount == 1

        moved: Any = self._call(cas)
        return bool(moved)
