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
from typing import TYPE_CHECKING, Any, Self, TypeVar

from stackflow.types import JSON, JSONObject

if TYPE_CHECKING:
    from stackflow.store.schedules import ScheduleStore
    from stackflow.store.services import ServiceStore
    from stackflow.store.stacks import StackStore
    from stackflow.store.tokens import TokenStore
    from stackflow.store.triggers import TriggerStore


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
        owner: Id of the runtime (process) that drives the execution now, or None.
        lease_expires: Until when (epoch seconds) the owner's claim holds, or None.
        version: Version of the deployed workflow the execution runs (None when run from a file).
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
    owner: str | None = None
    lease_expires: float | None = None
    version: int | None = None


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
class Request:
    """Something from outside for a running execution, waiting for the execution's owner.

    Requests are how other processes talk to an execution: a callback (``task_success``,
    ``task_failure``, ``task_heartbeat`` with a task token), ``stop``, or ``child_finished`` (a
    child execution ended). The owner consumes a request in the same transaction as the
    transition it causes (:attr:`Transition.consumed_requests`), so each is applied exactly once.

    Attributes:
        id: Store-assigned, increasing.
        execution_id: The execution it is for.
        kind: ``task_success``, ``task_failure``, ``task_heartbeat``, ``stop``,
            ``child_finished``.
        token: The task token or child token it answers, if any.
        payload: Kind-specific data (output; error and cause; ...).
        created: When it was added (epoch seconds).
    """

    id: int
    execution_id: str
    kind: str
    token: str | None = None
    payload: JSON = None
    created: float = 0.0


@dataclass(frozen=True)
class ActivityTask:
    """A task of an activity, waiting for (or taken by) an external worker.

    Attributes:
        token: The task token the worker answers with.
        activity: Activity name.
        execution_id: The execution waiting for it.
        input: The task input.
        created: When it was scheduled (epoch seconds).
        worker: Name of the worker that took it, or None while waiting.
        claimed_at: When it was taken, or None.
    """

    token: str
    activity: str
    execution_id: str
    input: JSON = None
    created: float = 0.0
    worker: str | None = None
    claimed_at: float | None = None


@dataclass(frozen=True)
class WorkflowVersion:
    """One deployed version of a named workflow.

    Attributes:
        name: Workflow name.
        version: 1, 2, ... per name.
        definition: The definition as compact JSON text.
        created: When it was deployed (epoch seconds).
    """

    name: str
    version: int
    definition: str
    created: float


@dataclass(frozen=True)
class Snapshot:
    """The latest committed state of an execution: a small header plus one blob per live frame.

    Attributes:
        header: Everything but the frames (serialized by the runtime).
        frames: Frame id to serialized frame.
    """

    header: bytes
    frames: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """What one step of an execution writes, all in one transaction.

    Attributes:
        execution_id: The execution.
        events: New history events, in order.
        snapshot: The new snapshot header, as bytes or as a callable producing them. A callable
            is only invoked by the writer, and when several transitions of one execution are
            committed together only the last header is serialized.
        update: New status, when it changed.
        frames: Frames of the snapshot that changed (frame id to serialized frame), upserted.
        removed_frames: Frames of the snapshot that ended, deleted.
        owner: When set, the transition commits only if this owner still holds the execution's
            lease (fencing); otherwise its ticket fails with :class:`LeaseLostError`.
        consumed_requests: Ids of requests this transition applied; deleted in the same
            transaction.
        requests: Requests to add for other executions (e.g. ``child_finished`` for a parent);
            one for an execution that is not RUNNING is dropped (nobody would consume it).
        activity_tasks: Activity tasks to schedule.
        removed_activity_tasks: Tokens of activity tasks that no longer wait (answered,
            timed out, aborted).
        new_executions: Child executions to create with this step (an id that exists already
            is left as it is), so a parent's intent to start them and the children themselves
            are committed together.
        durable: False lets a backend commit this transition without flushing it to stable
            storage (it survives a crash of the process, not a power loss) when nothing else in
            the same group commit needs the flush; a later durable commit flushes it too. Code
            workflow steps use this; their execution's end is durable.
    """

    execution_id: str
    events: tuple[HistoryEvent, ...] = ()
    snapshot: bytes | Callable[[], bytes] | None = None
    update: ExecutionUpdate | None = None
    frames: dict[int, bytes] = field(default_factory=dict)
    removed_frames: tuple[int, ...] = ()
    owner: str | None = None
    consumed_requests: tuple[int, ...] = ()
    requests: tuple[Request, ...] = ()
    activity_tasks: tuple[ActivityTask, ...] = ()
    removed_activity_tasks: tuple[str, ...] = ()
    new_executions: tuple[ExecutionRecord, ...] = ()
    durable: bool = True


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


_Sub = TypeVar("_Sub")


def kept_once(owner: Any, key: str, make: Callable[[], _Sub]) -> _Sub:
    """Return the sub-store ``owner`` keeps under ``key``, made by ``make`` on first use.

    Safe against a race of two first uses: both get the one that was kept first.
    """
    found: _Sub | None = owner.__dict__.get(key)
    if found is None:
        found = owner.__dict__.setdefault(key, make())
    return found


class Store(ABC):
    """Persistence of executions. Implementations: memory and SQLite (PostgreSQL later)."""

    #: True when what is stored outlives the process, so runtimes write recovery snapshots
    #: (the frames of an execution's state); an in-memory store gets only the snapshot header.
    persistent: bool = True

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
    def load_snapshot(self, execution_id: str) -> Snapshot | None:
        """Return the latest committed snapshot (header and live frames), or None."""

    # ---------------------------------------------------------------- leases

    @abstractmethod
    def claim_executions(
        self, owner: str, now: float, lease_until: float, limit: int
    ) -> list[ExecutionRecord]:
        """Atomically take up to ``limit`` RUNNING executions nobody holds (no owner, or a lease
        that expired before ``now``), oldest first, setting ``owner`` and ``lease_until``.

        Returns:
            The claimed records (with the new owner and lease).
        """

    @abstractmethod
    def claim_execution(
        self,
        execution_id: str,
        owner: str,
        now: float,
        lease_until: float,
        *,
        any_status: bool = False,
    ) -> ExecutionRecord | None:
        """Atomically take one execution if nobody holds it (no owner, or an expired lease).

        Args:
            execution_id: The execution.
            owner: The new owner.
            now: Current time (epoch seconds) for the expiry check.
            lease_until: The new lease expiry.
            any_status: Also take an execution that is not RUNNING (to redrive it).

        Returns:
            The claimed record, or None when someone else holds it (or it is not RUNNING).
        """

    @abstractmethod
    def renew_leases(self, owner: str, execution_ids: list[str], lease_until: float) -> list[str]:
        """Extend the leases ``owner`` still holds among ``execution_ids``.

        Returns:
            The ids whose lease was renewed (a missing id was lost to another owner or ended).
        """

    @abstractmethod
    def release_executions(self, owner: str, execution_ids: list[str]) -> None:
        """Give up ``owner``'s leases on these executions (owner and lease set to NULL)."""

    # ---------------------------------------------------------------- requests

    @abstractmethod
    def add_request(
        self, execution_id: str, kind: str, token: str | None, payload: JSON, now: float
    ) -> int:
        """Durably add a request for an execution (blocks until committed) and return its id.

        Raises:
            NotFoundError: No such execution.
        """

    @abstractmethod
    def pending_requests(self, execution_ids: list[str]) -> list[Request]:
        """Return the requests waiting for these executions, oldest first."""

    # ---------------------------------------------------------------- activities

    @abstractmethod
    def claim_activity_task(self, activity: str, worker: str, now: float) -> ActivityTask | None:
        """Atomically take the oldest waiting task of ``activity`` for ``worker``, or None."""

    @abstractmethod
    def list_activities(self) -> dict[str, int]:
        """Return activity name to the number of tasks waiting (not yet taken)."""

    # ---------------------------------------------------------------- workflows

    @abstractmethod
    def deploy_workflow(self, name: str, definition: str, now: float) -> WorkflowVersion:
        """Store ``definition`` as the next version of ``name`` and return it.

        When the latest version already has exactly this definition, it is returned unchanged.
        """

    @abstractmethod
    def get_workflow(self, name: str, version: int | None = None) -> WorkflowVersion:
        """Return one version of a workflow (the latest when ``version`` is None).

        Raises:
            NotFoundError: No such workflow or version.
        """

    @abstractmethod
    def list_workflows(self) -> list[WorkflowVersion]:
        """Return the latest version of every deployed workflow, by name."""

    @abstractmethod
    def delete_workflow(self, name: str) -> int:
        """Forget every deployed version of workflow ``name``.

        Executions keep their own copy of the definition they run, so they are not affected; a
        later deploy of the name starts again at version 1.

        Returns:
            How many versions were removed (0 when there was no such workflow).
        """

    @abstractmethod
    def list_children(
        self, parent_id: str, *, after_name: str = "", limit: int = 1000
    ) -> list[ExecutionRecord]:
        """Return child executions of ``parent_id`` ordered by name, those after ``after_name``.

        For paging through a large Map run: pass the last name of one page to get the next.
        """

    @abstractmethod
    def count_children(self, parent_id: str) -> dict[str, int]:
        """Return status to the number of child executions of ``parent_id``."""

    @property
    def stacks(self) -> StackStore:
        """The store of stacks kept with this store's executions (one per store instance).

        Raises:
            StoreError: This backend does not keep stacks.
        """
        raise _not_kept(self, "stacks")

    @property
    def services(self) -> ServiceStore:
        """The store of services kept with this store's executions (one per store instance).

        Raises:
            StoreError: This backend does not keep services.
        """
        raise _not_kept(self, "services")

    @property
    def schedules(self) -> ScheduleStore:
        """The store of schedules kept with this store's executions (one per store instance).

        Raises:
            StoreError: This backend does not keep schedules.
        """
        raise _not_kept(self, "schedules")

    @property
    def tokens(self) -> TokenStore:
        """The store of API tokens kept with this store's executions (one per store instance).

        Raises:
            StoreError: This backend does not keep tokens.
        """
        raise _not_kept(self, "tokens")

    @property
    def triggers(self) -> TriggerStore:
        """The store of HTTP triggers kept with this store's executions (one per store instance).

        Raises:
            StoreError: This backend does not keep triggers.
        """
        raise _not_kept(self, "triggers")

    @abstractmethod
    def close(self) -> None:
        """Flush and release every resource; the store cannot be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _not_kept(store: Store, what: str) -> Exception:
    """Return the error for a backend that does not keep ``what``."""
    from stackflow.errors import StoreError

    return StoreError(f"{type(store).__name__} does not keep {what}")
