"""Persistence of services (``Local::Service``): records, replicas, leases and live controllers.

A service record holds the desired state of one service (its spec, revision, replica count, rollout
status, deletion and rolling-restart requests) and the lease of the controller that supervises it.
Replica records hold what that controller observed (pid and start time, port, state, restarts,
last exit, probe output), so other processes (the CLI, the provider) can show the status. The
``controllers`` table tells which ``stackflow server`` processes are alive (heartbeats).

Each :class:`~stackflow.store.base.Store` gives one :class:`ServiceStore` through
``store.services``; the memory and SQLite backends implement it. Times are floats (epoch seconds)
passed in by the caller; the store reads no clock. JSON values (``spec``, ``rollout``...) go
through a JSON round trip, so what is read back is a fresh tree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from stackflow.errors import NotFoundError

__all__ = [
    "REPLICA_STATES",
    "ROLLOUT_STATUSES",
    "SERVICE_UPDATABLE_FIELDS",
    "ReplicaRecord",
    "ServiceRecord",
    "ServiceStore",
    "check_service_fields",
    "next_revision",
]

#: Replica states: STARTING (running, startup/readiness not yet passed), RUNNING (running, not
#: ready), READY, STOPPING (being stopped), EXITED (process gone, not scheduled to restart),
#: BACKOFF (process gone, restart scheduled at ``next_start_at``).
REPLICA_STATES = ("STARTING", "RUNNING", "READY", "STOPPING", "EXITED", "BACKOFF")

#: Rollout statuses kept in ``ServiceRecord.rollout["status"]``.
ROLLOUT_STATUSES = ("PROGRESSING", "COMPLETE", "ROLLED_BACK", "FAILED")


@dataclass(frozen=True)
class ServiceRecord:
    """One service, as stored (the desired state plus its controller's lease).

    Attributes:
        name: Unique service name (``<stack>-<logical id>``; the physical id).
        stack_name: The stack that owns it ("" when none).
        logical_id: Its logical id in the stack's template.
        spec: The resolved ``Local::Service`` properties of the current revision (``Replicas``
            inside is ignored: :attr:`replicas` rules).
        revision: The revision of :attr:`spec` (1, 2, ...); replicas record the revision they run.
            Use :func:`next_revision` for a new one.
        replicas: Desired number of replicas.
        base_dir: Folder a relative ``WorkingDirectory`` is resolved against (the template's).
        created_at: Creation time (epoch seconds).
        updated_at: Time of the last change (epoch seconds).
        previous_spec: The spec of the revision before, for rollback; None when none.
        previous_revision: The revision number of :attr:`previous_spec`, or None.
        rollout: ``{"status": PROGRESSING|COMPLETE|ROLLED_BACK|FAILED, "revision": int,
            "started_at": float, "message": str, ...}`` maintained by the controller ({} before
            the controller first saw the service).
        deleted: True once deletion was requested: the controller stops every replica, then
            deletes the record.
        restart_requested_at: A rolling restart replaces every replica started before this time.
        owner: The controller holding the lease, or None.
        lease_expires: When that lease ends (epoch seconds), or None.
        load_balancer: ``"host:port"`` the controller's load balancer listens on, or None.
        version: Bumped by every change through :meth:`ServiceStore.put_service` and
            :meth:`ServiceStore.update_service` (not by leases).
    """

    name: str
    stack_name: str
    logical_id: str
    spec: dict[str, Any]
    revision: int
    replicas: int
    base_dir: str
    created_at: float
    updated_at: float
    previous_spec: dict[str, Any] | None = None
    previous_revision: int | None = None
    rollout: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    restart_requested_at: float | None = None
    owner: str | None = None
    lease_expires: float | None = None
    load_balancer: str | None = None
    version: int = 0


@dataclass(frozen=True)
class ReplicaRecord:
    """One replica of a service, as last observed by its controller.

    Attributes:
        service: The service name.
        replica_id: Unique id of the replica (kept across in-place restarts).
        slot: Its index (0, 1, ...): with a fixed ``Port`` the replica listens on ``Port + slot``.
        revision: The service revision it runs.
        state: One of :data:`REPLICA_STATES`.
        updated_at: Time of the last change (epoch seconds).
        pid: Process id of the running process, or None.
        start_time: psutil create time of that process (with ``pid`` it names the process).
        pgid: Its process group id.
        port: The port it was given as ``$PORT``, or None.
        restarts: How many times it was restarted (in place).
        failures: Consecutive quick failures (exits before ``ResetAfterSeconds``), the backoff
            input.
        last_exit_code: Exit code of the last exit (negative: killed by that signal; None:
            unknown, e.g. an adopted process).
        last_exit_at: When it last exited.
        next_start_at: When a replica in BACKOFF is restarted.
        probe_output: Output of the last failing (or state-changing) probe.
        log_path: File its stdout and stderr are appended to.
        started_at: When its current (or last) process started.
        ready_since: Since when it is READY, or None.
        message: Why it is in this state (e.g. ``liveness probe failed``), or None.
    """

    service: str
    replica_id: str
    slot: int
    revision: int
    state: str
    updated_at: float
    pid: int | None = None
    start_time: float | None = None
    pgid: int | None = None
    port: int | None = None
    restarts: int = 0
    failures: int = 0
    last_exit_code: int | None = None
    last_exit_at: float | None = None
    next_start_at: float | None = None
    probe_output: str | None = None
    log_path: str | None = None
    started_at: float | None = None
    ready_since: float | None = None
    message: str | None = None


#: The :class:`ServiceRecord` fields :meth:`ServiceStore.update_service` may change.
SERVICE_UPDATABLE_FIELDS = frozenset(f.name for f in fields(ServiceRecord)) - {"name", "version"}


def check_service_fields(changes: Mapping[str, Any]) -> None:
    """Check that ``changes`` names only fields :meth:`ServiceStore.update_service` may change.

    Args:
        changes: Field name to new value.

    Raises:
        TypeError: A name is not a :class:`ServiceRecord` field, or is ``name`` or ``version``.
    """
    unknown = sorted(set(changes) - SERVICE_UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(
            f"update_service() got unexpected field(s) {', '.join(unknown)};"
            f" allowed: {', '.join(sorted(SERVICE_UPDATABLE_FIELDS))}"
        )


def next_revision(record: ServiceRecord | None) -> int:
    """Return the revision number a new spec of ``record`` gets (never one used before).

    A rollback makes the previous revision current again and keeps the failed one as
    ``previous_revision``, so the next number is above both.

    Args:
        record: The service as stored, or None for a new service.

    Returns:
        1 for a new service, else ``max(revision, previous_revision) + 1``.
    """
    if record is None:
        return 1
    return max(record.revision, record.previous_revision or 0) + 1


class ServiceStore(ABC):
    """Persistence of services, their replicas, leases and live controllers. Thread-safe."""

    # ---------------------------------------------------------------- services

    @abstractmethod
    def put_service(self, record: ServiceRecord) -> ServiceRecord:
        """Create the service or replace the one with the same name, and return it as stored.

        The stored version is 1 for a new service, else the old version + 1 (``record.version``
        is ignored). A replaced service keeps its lease (owner and expiry) and its replicas.
        """

    def get_service(self, name: str) -> ServiceRecord:
        """Return a service (deleted ones too, until they are removed).

        Raises:
            NotFoundError: No such service.
        """
        found = self.find_service(name)
        if found is None:
            raise NotFoundError(f"service {name!r} does not exist")
        return found

    @abstractmethod
    def find_service(self, name: str) -> ServiceRecord | None:
        """Return a service like :meth:`get_service`, or None."""

    @abstractmethod
    def list_services(
        self, *, stack_name: str | None = None, include_deleted: bool = False
    ) -> list[ServiceRecord]:
        """Return the services (of one stack when given), by name; deleted ones only if asked."""

    @abstractmethod
    def update_service(
        self, name: str, *, expected_version: int | None = None, **fields: Any
    ) -> ServiceRecord:
        """Change some fields of a service, bump its version, and return the new record.

        Args:
            name: The service.
            expected_version: When given, update only if the version is this one (compare and
                set).
            **fields: :class:`ServiceRecord` field names (not ``name`` or ``version``) to their
                new values.

        Raises:
            TypeError: A field name is unknown (nothing is written).
            NotFoundError: No such service.
            ConflictError: The version is not ``expected_version``.
        """

    @abstractmethod
    def delete_service(self, name: str) -> None:
        """Remove a service record and its replica records (no error when missing)."""

    # ---------------------------------------------------------------- replicas

    @abstractmethod
    def put_replica(self, record: ReplicaRecord) -> None:
        """Insert or replace the replica ``(record.service, record.replica_id)``."""

    @abstractmethod
    def delete_replica(self, service: str, replica_id: str) -> None:
        """Forget a replica (no error when it is not recorded)."""

    @abstractmethod
    def list_replicas(self, service: str) -> list[ReplicaRecord]:
        """Return the replicas of a service by slot, then replica id."""

    # ---------------------------------------------------------------- leases

    @abstractmethod
    def acquire_service_lease(
        self,
        name: str,
        owner: str,
        seconds: float,
        now: float,
        *,
        break_if: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take (or renew) the service's lease for ``owner`` until ``now + seconds``, atomically.

        Taken when free, expired (``lease_expires <= now``), already held by ``owner``, or
        ``break_if(current_owner)`` returns True (e.g. that owner is a dead local process; it is
        called inside the store's transaction, so it must be quick). Does not bump the version.

        Returns:
            True when ``owner`` now holds the lease; False when someone else does or the service
            does not exist.
        """

    @abstractmethod
    def release_service_lease(self, name: str, owner: str) -> None:
        """Release the lease if ``owner`` holds it (no error when missing or held by another)."""

    # ---------------------------------------------------------------- controllers

    @abstractmethod
    def heartbeat(self, owner: str, now: float, seconds: float) -> None:
        """Record that controller ``owner`` is alive until ``now + seconds``."""

    @abstractmethod
    def remove_controller(self, owner: str) -> None:
        """Forget controller ``owner`` (it stopped cleanly); no error when unknown."""

    @abstractmethod
    def live_controllers(self, now: float) -> list[str]:
        """Return the controllers whose heartbeat has not expired at ``now``, sorted."""
