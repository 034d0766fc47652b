"""In-memory schedule store: a dictionary behind one lock (the reference for the SQLite one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from stackflow.store.memory_tables import LockedStore, json_copy
from stackflow.store.schedules import ScheduleRecord, ScheduleStore

__all__ = ["MemoryScheduleStore"]


def _copy(record: ScheduleRecord) -> ScheduleRecord:
    """Return ``record`` with a fresh spec tree (as a database round trip would)."""
    return replace(record, spec=json_copy(record.spec))


class MemoryScheduleStore(LockedStore, ScheduleStore):
    """A thread-safe :class:`ScheduleStore` kept in memory (lost when the process ends).

    Args:
        check_open: Called (under the lock) before every operation; raises
            :class:`~stackflow.errors.StoreError` once the owning store is closed.
    """

    def __init__(self, check_open: Callable[[], None] | None = None) -> None:
        super().__init__(check_open)
        self._schedules: dict[str, ScheduleRecord] = {}

    def put_schedule(self, record: ScheduleRecord) -> ScheduleRecord:
        """Create or replace a schedule (keeping ``created_at`` and ``last_fire_time``)."""
        with self._locked():
            old = self._schedules.get(record.name)
            stored = _copy(record)
            if old is not None:
                stored = replace(
                    stored, created_at=old.created_at, last_fire_time=old.last_fire_time
                )
            self._schedules[record.name] = stored
            return _copy(stored)

    def find_schedule(self, name: str) -> ScheduleRecord | None:
        """Return a schedule, or None."""
        with self._locked():
            found = self._schedules.get(name)
            return None if found is None else _copy(found)

    def list_schedules(self, *, stack_name: str | None = None) -> list[ScheduleRecord]:
        """Return the schedules (of one stack when given), by name."""
        with self._locked():
            return [
                _copy(record)
                for _, record in sorted(self._schedules.items())
                if stack_name is None or record.stack_name == stack_name
            ]

    def delete_schedule(self, name: str) -> None:
        """Remove a schedule (no error when missing)."""
        with self._locked():
            self._schedules.pop(name, None)

    def advance(self, name: str, expected_last: float | None, new_last: float) -> bool:
        """Move the watermark if it is ``expected_last`` (compare and set)."""
        with self._locked():
            current = self._schedules.get(name)
            if current is None or current.last_fire_time != expected_last:
                return False
            self._schedules[name] = replace(current, last_fire_time=new_last)
            return True
