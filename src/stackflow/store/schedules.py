"""Persistence of schedules (``Stackflow::Schedule``): the spec and the last fire time handled.

A schedule record holds the schedule's spec (:meth:`stackflow.scheduler.ScheduleSpec.to_json`),
the stack resource that owns it, and ``last_fire_time``: the watermark of the scheduler, the
last fire time it started (or skipped by the catch-up policy). Only :meth:`ScheduleStore.advance`
moves the watermark, as a compare-and-set, so two schedulers on one store never both move it
past the same fire time.

Each :class:`~stackflow.store.base.Store` gives one :class:`ScheduleStore` through
``store.schedules``; the memory and SQLite backends implement it. Times are floats (epoch
seconds) passed in by the caller; the store reads no clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from stackflow.errors import NotFoundError

__all__ = ["ScheduleRecord", "ScheduleStore"]


@dataclass(frozen=True)
class ScheduleRecord:
    """One schedule, as stored.

    Attributes:
        name: Unique schedule name (the physical id; prefixes its execution names).
        spec: The schedule spec as JSON (``ScheduleSpec.to_json()``).
        stack_name: The stack that owns it ("" when none).
        logical_id: Its logical id in the stack's template ("" when none).
        last_fire_time: The last fire time handled (epoch seconds), or None before the first.
        created_at: Creation time (epoch seconds); kept when the record is replaced.
        updated_at: Time of the last change of the spec (epoch seconds).
    """

    name: str
    spec: dict[str, Any]
    stack_name: str
    logical_id: str
    last_fire_time: float | None
    created_at: float
    updated_at: float


class ScheduleStore(ABC):
    """Persistence of schedules. Thread-safe."""

    @abstractmethod
    def put_schedule(self, record: ScheduleRecord) -> ScheduleRecord:
        """Create the schedule or replace the one with the same name, and return it as stored.

        Replacing keeps the stored ``created_at`` and ``last_fire_time`` (only :meth:`advance`
        moves the watermark).
        """

    def get_schedule(self, name: str) -> ScheduleRecord:
        """Return a schedule.

        Raises:
            NotFoundError: No such schedule.
        """
        found = self.find_schedule(name)
        if found is None:
            raise NotFoundError(f"schedule {name!r} does not exist")
        return found

    @abstractmethod
    def find_schedule(self, name: str) -> ScheduleRecord | None:
        """Return a schedule like :meth:`get_schedule`, or None."""

    @abstractmethod
    def list_schedules(self, *, stack_name: str | None = None) -> list[ScheduleRecord]:
        """Return the schedules (of one stack when given), by name."""

    @abstractmethod
    def delete_schedule(self, name: str) -> None:
        """Remove a schedule (no error when missing)."""

    @abstractmethod
    def advance(self, name: str, expected_last: float | None, new_last: float) -> bool:
        """Set ``last_fire_time`` to ``new_last`` if it is ``expected_last`` (compare and set).

        Args:
            name: The schedule.
            expected_last: The watermark the caller read (None before the first fire time).
            new_last: The new watermark.

        Returns:
            True when the watermark was moved; False when it had changed meanwhile (another
            scheduler moved it) or the schedule does not exist.
        """
