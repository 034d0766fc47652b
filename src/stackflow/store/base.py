"""The Store protocol: where executions, their history and their snapshots live.

The runtime writes through :meth:`Store.append`, which queues a :class:`Transition` and returns a
:class:`CommitTicket` at once; a backend commits everything queued together (group commit) and sets
the tickets when the data is durable. The runtime waits on a ticket only before a side effect that
depends on the recorded intent (dispatching a task, reporting a result), so a chain of pure states
costs one flush, not one per state.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from stackflow.types import JSON, JSONObject


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution of a workflow, as stored.

    Attributes:
        execution_id: Unique id (UUID string).
        name: Execution name, unique per workflow.
        workflow: Name of the workflow (state machine).
        definition: The definition as JSON text (the exact version the execution runs).
        status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
        input: Execution input.
        output: Output when SUCCEEDED, else None.
        error: Error name when failed, else None.
        cause: Cause when failed, else None.
        start_time: Seconds since the epoch.
        stop_time: Seconds since the epoch when terminal, else None.
        parent_id: Id of the execution that started this one (distributed Map), or None.
    """

    execution_id: str
    name: str
    workflow: str
    definition: str
    status: str
    input: JSON
    start_time: float
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    stop_time: float | None = None
    parent_id: str | None = None


@dataclass(frozen=True)
class HistoryEvent:
    """One event of an execution's history, named as in Step Functions.

    Attributes:
        id: 1-based, consecutive within the execution.
        type: Event type such as ``ExecutionStarted`` or ``PassStateEntered``.
        timestamp: Seconds since the epoch.
        previous_event_id: Id of the event this one follows (0 for the first).
        details: Event details (e.g. ``{"name": "Start", "input": ...}``).
    """

    id: int
    type: str
    timestamp: float
    previous_event_id: int = 0
    details: JSONObject = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionUpdate:
    """A change of an execution's status (and, when terminal, its result)."""

    status: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    stop_time: float | None = None


@dataclass(frozen=True)
class Transition:
    """What one step of an execution writes, all in one transaction.

    Attributes:
        execution_id: The execution.
        events: New history events, in order.
        snapshot: The execution's state after the step, as bytes or as a callable producing them.
            A callable is only invoked by the writer, and when several transitions of one execution
            are committed together only the last snapshot is serialized.
        update: New status, when it changed.
    """

    execution_id: str
    events: tuple[HistoryEvent, ...] = ()
    snapshot: bytes | Callable[[], bytes] | None = None
    update: ExecutionUpdate | None = None


class CommitTicket:
    """Completes when a queued transition is durable (or failed to commit)."""

    __slots__ = ("_done", "_error")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._error: BaseException | None = None

    def set_done(self, error: BaseException | None = None) -> None:
        """Mark the transition committed, or failed with ``error``."""
        self._error = error
        self._done.set()

    def done(self) -> bool:
        """Return True once the commit finished (successfully or not)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until durable; re-raise the commit's error if it failed.

        Raises:
            TimeoutError: When ``timeout`` passed first.
        """
        if not self._done.wait(timeout):
            raise TimeoutError("commit did not finish in time")
        if self._error is not None:
            raise self._error


#: A ticket that is already committed (for synchronous backends).
def completed_ticket() -> CommitTicket:
    """Return a ticket that is already done."""
    ticket = CommitTicket()
    ticket.set_done()
    return ticket


class Store(ABC):
    """Persistence of executions. Implementations: memory and SQLite (PostgreSQL later)."""

    @abstractmethod
    def create_execution(self, record: ExecutionRecord) -> None:
        """Durably record a new execution (blocks until committed).

        Raises:
            ConflictError: An execution with the same id exists.
        """

    @abstractmethod
    def append(self, transition: Transition) -> CommitTicket:
        """Queue a transition for the next group commit and return its ticket."""

    @abstractmethod
    def flush(self) -> None:
        """Block until every transition queued so far is durable."""

    @abstractmethod
    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """Return one execution (committed state).

        Raises:
            NotFoundError: No such execution.
        """

    @abstractmethod
    def find_execution(self, workflow: str, name: str) -> ExecutionRecord | None:
        """Return the execution of ``workflow`` called ``name``, or None."""

    @abstractmethod
    def list_executions(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRecord]:
        """Return executions, newest first, optionally filtered."""

    @abstractmethod
    def get_history(self, execution_id: str, after_event_id: int = 0) -> list[HistoryEvent]:
        """Return the events of an execution with id greater than ``after_event_id``, in order."""

    @abstractmethod
    def load_snapshot(self, execution_id: str) -> bytes | None:
        """Return the latest committed snapshot of an execution, or None."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release every resource; the store cannot be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
