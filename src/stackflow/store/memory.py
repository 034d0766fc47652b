"""In-memory store: the reference backend for tests and one-shot runs.

Everything lives in dictionaries behind one lock. :meth:`MemoryStore.append` applies a transition at
once (invoking a callable snapshot header right away) and returns a ticket that is already done; a
transition that cannot be applied changes nothing and carries the error on its ticket, as the SQLite
backend does.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from stackflow.errors import ConflictError, LeaseLostError, NotFoundError, StoreError
from stackflow.store.base import (
    ActivityTask,
    CommitTicket,
    ExecutionRecord,
    HistoryEvent,
    Request,
    Snapshot,
    Store,
    Transition,
    WorkflowVersion,
    kept_once,
)
from stackflow.types import JSON

if TYPE_CHECKING:
    from stackflow.store.memory_schedules import MemoryScheduleStore
    from stackflow.store.memory_services import MemoryServiceStore
    from stackflow.store.memory_stacks import MemoryStackStore
    from stackflow.store.memory_tokens import MemoryTokenStore
    from stackflow.store.memory_triggers import MemoryTriggerStore

#: Statuses after which an execution never runs again (unless redriven).
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class _Entry:
    """One execution with its history (events sorted by id) and latest snapshot."""

    __slots__ = ("event_ids", "events", "frames", "header", "record", "seq")

    def __init__(self, record: ExecutionRecord, seq: int) -> None:
        self.record = record
        self.seq = seq
        self.events: list[HistoryEvent] = []
        self.event_ids: list[int] = []
        self.header: bytes | None = None
        self.frames: dict[int, bytes] = {}


class MemoryStore(Store):
    """A thread-safe store that keeps everything in memory (lost when the process ends)."""

    persistent = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._seq = itertools.count()
        self._request_ids = itertools.count(1)
        self._requests: dict[int, Request] = {}
        self._tasks: dict[str, ActivityTask] = {}
        self._workflows: dict[str, list[WorkflowVersion]] = {}
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

        The ticket carries :class:`NotFoundError` for an unknown execution,
        :class:`LeaseLostError` when ``transition.owner`` does not hold the lease,
        :class:`ConflictError` for an event id or activity token already recorded, or the error
        raised by a callable snapshot; in those cases nothing is changed.

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

    def _check(self, transition: Transition, entry: _Entry | None) -> StoreError | None:
        eid = transition.execution_id
        if entry is None:
            return NotFoundError(f"no execution {eid!r}")
        if transition.owner is not None and entry.record.owner != transition.owner:
            return LeaseLostError(
                f"owner {transition.owner!r} no longer holds the lease of execution {eid!r};"
                " the transition was not written"
            )
        new_ids = [event.id for event in transition.events]
        if len(set(new_ids)) != len(new_ids) or any(
            _contains(entry.event_ids, event_id) for event_id in new_ids
        ):
            return ConflictError(
                f"execution {eid!r} already has an event with one of the ids {new_ids}"
            )
        tokens = [task.token for task in transition.activity_tasks]
        if len(set(tokens)) != len(tokens) or any(token in self._tasks for token in tokens):
            return ConflictError(f"an activity task with one of the tokens {tokens} exists")
        return None

    def _apply(self, transition: Transition, data: bytes | None) -> StoreError | None:
        entry = self._entries.get(transition.execution_id)
        error = self._check(transition, entry)
        if error is not None or entry is None:
            return error
        for record in transition.new_executions:
            key = (record.workflow, record.name)
            if record.execution_id not in self._entries and key not in self._by_name:
                self._entries[record.execution_id] = _Entry(record, next(self._seq))
                self._by_name[key] = record.execution_id
        for event in transition.events:
            if not entry.event_ids or event.id > entry.event_ids[-1]:
                entry.event_ids.append(event.id)
                entry.events.append(event)
            else:
                index = bisect.bisect_left(entry.event_ids, event.id)
                entry.event_ids.insert(index, event.id)
                entry.events.insert(index, event)
        if data is not None:
            entry.header = bytes(data)
        for frame_id, frame in transition.frames.items():
            entry.frames[frame_id] = bytes(frame)
        for frame_id in transition.removed_frames:
            entry.frames.pop(frame_id, None)
        for request_id in transition.consumed_requests:
            self._requests.pop(request_id, None)
        for request in transition.requests:
            target = self._entries.get(request.execution_id)
            if target is None or target.record.status != "RUNNING":
                continue  # nobody will ever consume it (e.g. a parent that already ended)
            request_id = next(self._request_ids)
            self._requests[request_id] = replace(
                request, id=request_id, payload=_copy_json(request.payload)
            )
        for task in transition.activity_tasks:
            self._tasks[task.token] = replace(task, input=_copy_json(task.input))
        for token in transition.removed_activity_tasks:
            self._tasks.pop(token, None)
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
            if update.status in TERMINAL_STATUSES:
                self._end(entry)
        return None

    def _end(self, entry: _Entry) -> None:
        """Drop the owner, pending requests and activity tasks of an execution that ended."""
        eid = entry.record.execution_id
        entry.record = replace(entry.record, owner=None, lease_expires=None)
        for request_id in [r.id for r in self._requests.values() if r.execution_id == eid]:
            del self._requests[request_id]
        for token in [t.token for t in self._tasks.values() if t.execution_id == eid]:
            del self._tasks[token]

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

    def load_snapshot(self, execution_id: str) -> Snapshot | None:
        """Return the latest snapshot (header and live frames), or None when it has no header."""
        with self._lock:
            self._check_open()
            entry = self._entries.get(execution_id)
            if entry is None or entry.header is None:
                return None
            return Snapshot(entry.header, dict(sorted(entry.frames.items())))

    # ---------------------------------------------------------------- leases

    def claim_executions(
        self, owner: str, now: float, lease_until: float, limit: int
    ) -> list[ExecutionRecord]:
        """Take up to ``limit`` RUNNING executions nobody holds, oldest first.

        Free means: no owner, no lease expiry, or a lease that expired before ``now``.
        """
        with self._lock:
            self._check_open()
            free = [
                entry
                for entry in self._entries.values()
                if entry.record.status == "RUNNING"
                and (
                    entry.record.owner is None
                    or entry.record.lease_expires is None
                    or entry.record.lease_expires < now
                )
            ]
            free.sort(key=lambda entry: (entry.record.start_time, entry.seq))
            claimed = []
            for entry in free[: max(limit, 0)]:
                entry.record = replace(entry.record, owner=owner, lease_expires=lease_until)
                claimed.append(entry.record)
            return claimed

    def claim_execution(
        self,
        execution_id: str,
        owner: str,
        now: float,
        lease_until: float,
        *,
        any_status: bool = False,
    ) -> ExecutionRecord | None:
        """Take one execution if nobody else holds it.

        Free means: no owner, no lease expiry, a lease that expired before ``now``, or already
        held by ``owner`` (the lease is then extended).

        Args:
            execution_id: The execution.
            owner: The new owner.
            now: Current time (epoch seconds) for the expiry check.
            lease_until: The new lease expiry.
            any_status: Also take an execution that is not RUNNING (to redrive it).

        Returns:
            The claimed record, or None when another owner holds it (or it is not RUNNING).

        Raises:
            NotFoundError: No such execution.
        """
        with self._lock:
            self._check_open()
            entry = self._entries.get(execution_id)
            if entry is None:
                raise NotFoundError(f"no execution {execution_id!r}")
            current = entry.record
            if current.status != "RUNNING" and not any_status:
                return None
            if (
                current.owner is not None
                and current.owner != owner
                and current.lease_expires is not None
                and current.lease_expires >= now
            ):
                return None
            entry.record = replace(current, owner=owner, lease_expires=lease_until)
            return entry.record

    def renew_leases(self, owner: str, execution_ids: list[str], lease_until: float) -> list[str]:
        """Extend the leases ``owner`` still holds among ``execution_ids`` (RUNNING ones only)."""
        renewed: list[str] = []
        with self._lock:
            self._check_open()
            for execution_id in dict.fromkeys(execution_ids):
                entry = self._entries.get(execution_id)
                if entry is None or entry.record.owner != owner:
                    continue
                if entry.record.status != "RUNNING":
                    continue
                entry.record = replace(entry.record, lease_expires=lease_until)
                renewed.append(execution_id)
        return renewed

    def release_executions(self, owner: str, execution_ids: list[str]) -> None:
        """Give up ``owner``'s leases on these executions (others' leases are untouched)."""
        with self._lock:
            self._check_open()
            for execution_id in execution_ids:
                entry = self._entries.get(execution_id)
                if entry is not None and entry.record.owner == owner:
                    entry.record = replace(entry.record, owner=None, lease_expires=None)

    # ---------------------------------------------------------------- requests

    def add_request(
        self, execution_id: str, kind: str, token: str | None, payload: JSON, now: float
    ) -> int:
        """Add a request for an execution and return its id.

        Raises:
            NotFoundError: No such execution.
        """
        with self._lock:
            self._check_open()
            if execution_id not in self._entries:
                raise NotFoundError(f"no execution {execution_id!r}")
            request_id = next(self._request_ids)
            self._requests[request_id] = Request(
                request_id, execution_id, kind, token, _copy_json(payload), now
            )
            return request_id

    def pending_requests(self, execution_ids: list[str]) -> list[Request]:
        """Return the requests waiting for these executions, oldest (lowest id) first."""
        wanted = set(execution_ids)
        with self._lock:
            self._check_open()
            return [r for r in self._requests.values() if r.execution_id in wanted]

    # ---------------------------------------------------------------- activities

    def claim_activity_task(self, activity: str, worker: str, now: float) -> ActivityTask | None:
        """Give the oldest waiting task of ``activity`` to ``worker``, or return None."""
        with self._lock:
            self._check_open()
            waiting = [
                task
                for task in self._tasks.values()
                if task.activity == activity and task.worker is None
            ]
            if not waiting:
                return None
            task = min(waiting, key=lambda task: task.created)  # stable: first scheduled wins
            claimed = replace(task, worker=worker, claimed_at=now)
            self._tasks[task.token] = claimed
            return claimed

    def list_activities(self) -> dict[str, int]:
        """Return every activity with a task (waiting or taken) to its number of waiting tasks."""
        with self._lock:
            self._check_open()
            counts: dict[str, int] = {}
            for task in self._tasks.values():
                counts[task.activity] = counts.get(task.activity, 0) + (task.worker is None)
        return dict(sorted(counts.items()))

    # ---------------------------------------------------------------- workflows

    def deploy_workflow(self, name: str, definition: str, now: float) -> WorkflowVersion:
        """Store ``definition`` as the next version of ``name`` and return it.

        When the latest version has exactly this definition text, it is returned unchanged.
        """
        with self._lock:
            self._check_open()
            versions = self._workflows.setdefault(name, [])
            if versions and versions[-1].definition == definition:
                return versions[-1]
            deployed = WorkflowVersion(name, len(versions) + 1, definition, now)
            versions.append(deployed)
            return deployed

    def get_workflow(self, name: str, version: int | None = None) -> WorkflowVersion:
        """Return one version of a workflow (the latest when ``version`` is None).

        Raises:
            NotFoundError: No such workflow or version.
        """
        with self._lock:
            self._check_open()
            versions = self._workflows.get(name)
            if not versions:
                raise NotFoundError(f"no workflow named {name!r} is deployed")
            if version is None:
                return versions[-1]
            if not 1 <= version <= len(versions):
                raise NotFoundError(
                    f"workflow {name!r} has no version {version} (the latest is {len(versions)})"
                )
            return versions[version - 1]

    def list_workflows(self) -> list[WorkflowVersion]:
        """Return the latest version of every deployed workflow, by name."""
        with self._lock:
            self._check_open()
            return [self._workflows[name][-1] for name in sorted(self._workflows)]

    def delete_workflow(self, name: str) -> int:
        """Forget every deployed version of workflow ``name``; return how many there were."""
        with self._lock:
            self._check_open()
            return len(self._workflows.pop(name, []))

    def list_children(
        self, parent_id: str, *, after_name: str = "", limit: int = 1000
    ) -> list[ExecutionRecord]:
        """Return child executions of ``parent_id`` ordered by name, after ``after_name``."""
        with self._lock:
            self._check_open()
            children = [
                entry.record
                for entry in self._entries.values()
                if entry.record.parent_id == parent_id and entry.record.name > after_name
            ]
        children.sort(key=lambda record: record.name)
        return children[: max(limit, 0)]

    def count_children(self, parent_id: str) -> dict[str, int]:
        """Return status to the number of child executions of ``parent_id``."""
        counts: dict[str, int] = {}
        with self._lock:
            self._check_open()
            for entry in self._entries.values():
                if entry.record.parent_id == parent_id:
                    counts[entry.record.status] = counts.get(entry.record.status, 0) + 1
        return counts

    @property
    def stacks(self) -> MemoryStackStore:
        """The in-memory store of stacks of this store (created on first use, then the same).

        Once this store is closed, its operations raise :class:`StoreError`.
        """
        from stackflow.store.memory_stacks import MemoryStackStore

        return kept_once(self, "_stack_store", lambda: MemoryStackStore(self._check_open))

    @property
    def services(self) -> MemoryServiceStore:
        """The in-memory store of services of this store (created on first use, then the same).

        Once this store is closed, its operations raise :class:`StoreError`.
        """
        from stackflow.store.memory_services import MemoryServiceStore

        return kept_once(self, "_service_store", lambda: MemoryServiceStore(self._check_open))

    @property
    def schedules(self) -> MemoryScheduleStore:
        """The in-memory store of schedules of this store (created on first use, then the same).

        Once this store is closed, its operations raise :class:`StoreError`.
        """
        from stackflow.store.memory_schedules import MemoryScheduleStore

        return kept_once(self, "_schedule_store", lambda: MemoryScheduleStore(self._check_open))

    @property
    def tokens(self) -> MemoryTokenStore:
        """The in-memory store of API tokens (created on first use, then the same)."""
        from stackflow.store.memory_tokens import MemoryTokenStore

        return kept_once(self, "_token_store", lambda: MemoryTokenStore(self._check_open))

    @property
    def triggers(self) -> MemoryTriggerStore:
        """The in-memory store of HTTP triggers (created on first use, then the same)."""
        from stackflow.store.memory_triggers import MemoryTriggerStore

        return kept_once(self, "_trigger_store", lambda: MemoryTriggerStore(self._check_open))

    def close(self) -> None:
        """Mark the store closed; later calls raise :class:`StoreError`."""
        with self._lock:
            self._closed = True


def _contains(sorted_ids: list[int], event_id: int) -> bool:
    index = bisect.bisect_left(sorted_ids, event_id)
    return index < len(sorted_ids) and sorted_ids[index] == event_id


def _copy_json(value: JSON) -> JSON:
    """Return ``value`` as a fresh JSON tree (as a database round trip would)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value
