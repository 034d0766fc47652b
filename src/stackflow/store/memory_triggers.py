"""In-memory trigger store: a dictionary behind one lock (the reference for the SQLite one)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from stackflow.errors import NotFoundError
from stackflow.store.triggers import TriggerRecord, TriggerStore

__all__ = ["MemoryTriggerStore"]


class MemoryTriggerStore(TriggerStore):
    """A thread-safe :class:`TriggerStore` kept in memory (lost when the process ends).

    Args:
        check_open: Called (under the lock) before every operation; raises
            :class:`~stackflow.errors.StoreError` once the owning store is closed.
    """

    def __init__(self, check_open: Callable[[], None] | None = None) -> None:
        self._check_open = check_open
        self._lock = threading.Lock()
        self._triggers: dict[str, TriggerRecord] = {}

    def _checked(self) -> None:
        if self._check_open is not None:
            self._check_open()

    def put_trigger(self, record: TriggerRecord) -> TriggerRecord:
        """Create or replace a trigger (keeping ``created_at``)."""
        with self._lock:
            self._checked()
            old = self._triggers.get(record.name)
            stored = record if old is None else replace(record, created_at=old.created_at)
            self._triggers[record.name] = stored
            return stored

    def get_trigger(self, name: str) -> TriggerRecord:
        """Return a trigger.

        Raises:
            NotFoundError: No such trigger.
        """
        found = self.find_trigger(name)
        if found is None:
            raise NotFoundError(f"trigger {name!r} does not exist")
        return found

    def find_trigger(self, name: str) -> TriggerRecord | None:
        """Return a trigger, or None."""
        with self._lock:
            self._checked()
            return self._triggers.get(name)

    def list_triggers(self, *, stack_name: str | None = None) -> list[TriggerRecord]:
        """Return the triggers (of one stack when given), by name."""
        with self._lock:
            self._checked()
            return [
                record
                for _, record in sorted(self._triggers.items())
                if stack_name is None or record.stack_name == stack_name
            ]

    def delete_trigger(self, name: str) -> None:
        """Remove a trigger (no error when missing)."""
        with self._lock:
            self._checked()
            self._triggers.pop(name, None)
