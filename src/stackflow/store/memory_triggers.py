"""In-memory trigger store: a dictionary behind one lock (the reference for the SQLite one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from stackflow.store.memory_tables import LockedStore
from stackflow.store.triggers import TriggerRecord, TriggerStore

__all__ = ["MemoryTriggerStore"]


class MemoryTriggerStore(LockedStore, TriggerStore):
    """A thread-safe :class:`TriggerStore` kept in memory (lost when the process ends).

    Args:
        check_open: Called (under the lock) before every operation; raises
            :class:`~stackflow.errors.StoreError` once the owning store is closed.
    """

    def __init__(self, check_open: Callable[[], None] | None = None) -> None:
        super().__init__(check_open)
        self._triggers: dict[str, TriggerRecord] = {}

    def put_trigger(self, record: TriggerRecord) -> TriggerRecord:
        """Create or replace a trigger (keeping ``created_at``)."""
        with self._locked():
            old = self._triggers.get(record.name)
            stored = record if old is None else replace(record, created_at=old.created_at)
            self._triggers[record.name] = stored
            return stored

    def find_trigger(self, name: str) -> TriggerRecord | None:
        """Return a trigger, or None."""
        with self._locked():
            return self._triggers.get(name)

    def list_triggers(self, *, stack_name: str | None = None) -> list[TriggerRecord]:
        """Return the triggers (of one stack when given), by name."""
        with self._locked():
            return [
                record
                for _, record in sorted(self._triggers.items())
                if stack_name is None or record.stack_name == stack_name
            ]

    def delete_trigger(self, name: str) -> None:
        """Remove a trigger (no error when missing)."""
        with self._locked():
            self._triggers.pop(name, None)
