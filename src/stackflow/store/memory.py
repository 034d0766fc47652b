"""In-memory store: the reference backend for tests and one-shot runs.

Everything lives in dictionaries behind one lock. :meth:`MemoryStore.append` applies a transition at
once (invoking a callable snapshot right away) and returns a ticket that is already done; a
transition that cannot be applied changes nothing and carries the error on its ticket, as the SQLite
backend does.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from dataclasses import replace

from stackflow.errors import ConflictError, NotFoundError, StoreError
from stackflow.store.base import (
    CommitTicket,
    ExecutionRecord,
    HistoryEvent,
    Store,
    Transition,
)


class _Entry:
    """One execution with its history (events sorted by id) and latest snapshot."""

    __slots__ = ("event_ids", "events", "record", "seq", "snapshot")

    def __init__(self, record: ExecutionRecord, seq: int) -> None:
        self.record = record
        self.seq = seq
        self.events: list[HistoryEvent] = []
        self.event_ids: list[int] = []
        self.snapshot: bytes | None = None


class MemoryStore(Store):
    """A thread-safe store that keeps everything in memory (lost when the process ends)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._seq = itertools.count()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def create_execution(self, record: ExecutionRecord) -> None:
        """Record a new execution.

        Raises:
            ConflictError: An execution with the same id, or the same workflow and name, exists.
        """
        with self._lock:
            self._check_open()
            if record.execution_id in self._entries:
                raise ConflictError(f"execution {record.execution_id!r} already exists")
            key = (record.workflow, record.name)
            if key in self._by_name:
                raise ConflictError(
                    f"workflow {record.workflow!r} already has an execution named {record.name!r}"
                )
            self._entries[record.execution_id] = _Entry(record, next(self._seq))
            self._by_name[key] = record.execution_id

    def append(self, transition: Transition) -> CommitTicket:
        """Apply a transition at once and return a completed ticket.

        The ticket carries :class:`NotFoundError` for an unknown execution, :class:`ConflictError`
        for an event id already recorded, or the error raised by a callable snapshot; in those
        cases nothing is changed.

        Raises:
            StoreError: The store is closed.
        """
        ticket = CommitTicket()
        snapshot = transition.snapshot
        try:
            data = snapshot() if callable(snapshot) else snapshot
        except Exception as exc:
            ticket.set_done(StoreError(f"snapshot of {transition.execution_id!r} failed: {exc}"))
            return ticket
        with self._lock:
            self._check_open()
            ticket.set_done(self._apply(transition, data))
        return ticket

    def _apply(self, transition: Transition, data: bytes | None) -> StoreError | None:
        entry = self._entries.get(transition.execution_id)
        if entry is None:
            return NotFoundError(f"no execution {transition.execution_id!r}")
        new_ids = [event.id for event in transition.events]
        if len(set(new_ids)) != len(new_ids) or any(
            _contains(entry.event_ids, event_id) for event_id in new_ids
        ):
            return ConflictError(
                f"execution {transition.execution_id!r} already has an event with one of the ids "
                f"{new_ids}"
            )
        for event in transition.events:
            if not entry.event_ids or event.id > entry.event_ids[-1]:
                entry.event_ids.append(event.id)
                entry.events.append(event)
            else:
                index = bisect.bisect_left(entry.event_ids, event.id)
                entry.event_ids.insert(index, event.id)
                entry.events.insert(index, event)
        if data is not None:
            entry.snapshot = bytes(data)
        update = transition.update
        if update is not None:
            entry.record = replace(
                entry.record,
                status=update.status,
                output=update.output,
                error=update.error,
                cause=update.cause,
                stop_time=update.stop_time,
            )
        return None

    def flush(self) -> None:
        """Return at once: every append is applied before it returns."""
        self._check_open()

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """Return one execution.

        Raises:
            NotFoundError: No such execution.
        """
        with self._lock:
            self._check_open()
            entry = self._entries.get(execution_id)
            if entry is None:
                raise NotFoundError(f"no execution {execution_id!r}")
            return entry.record

    def find_execution(self, workflow: str, name: str) -> ExecutionRecord | None:
        """Return the execution of ``workflow`` called ``name``, or None."""
        with self._lock:
            self._check_open()
            execution_id = self._by_name.get((workflow, name))
            return None if execution_id is None else self._entries[execution_id].record

    def list_executions(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRecord]:
        """Return executions, newest first (by start time, then creation order), filtered."""
        with self._lock:
            self._check_open()
            entries = [
                entry
                for entry in self._entries.values()
                if (status is None or entry.record.status == status)
                and (workflow is None or entry.record.workflow == workflow)
                and (parent_id is None or entry.record.parent_id == parent_id)
            ]
        entries.sort(key=lambda entry: (entry.record.start_time, entry.seq), reverse=True)
        return [entry.record for entry in entries[: max(limit, 0)]]

    def get_history(self, execution_id: str, after_event_id: int = 0) -> list[HistoryEvent]:
        """Return the events of an execution with id greater than ``after_event_id``, in order."""
        with self._lock:
            self._check_open()
            entry = self._entries.get(execution_id)
            if entry is None:
                return []
            start = bisect.bisect_right(entry.event_ids, after_event_id)
            return entry.events[start:]

    def load_snapshot(self, execution_id: str) -> bytes | None:
        """Return the latest snapshot of an execution, or None."""
        with self._lock:
            self._check_open()
            entry = self._entries.get(execution_id)
            return None if entry is None else entry.snapshot

    def close(self) -> None:
        """Mark the store closed; later calls raise :class:`StoreError`."""
        with self._lock:
            self._closed = True


def _contains(sorted_ids: list[int], event_id: int) -> bool:
    index = bisect.bisect_left(sorted_ids, event_id)
    return index < len(sorted_ids) and sorted_ids[index] == event_id
