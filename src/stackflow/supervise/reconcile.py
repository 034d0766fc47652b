"""The reconcile decision of one service (pure: times and randomness are passed in).

:func:`decide` compares a service's desired state (its record) with the observed replicas and
returns the actions that move one towards the other, plus when to look again. It is
level-triggered: called again with the same inputs it returns the same actions, so the caller
may apply them idempotently (e.g. ignore a :class:`Stop` of a replica already stopping).

Rules:

* Slots: replica slot ``i`` (0 <= i < Replicas) gets ``Port + i`` with a fixed ``Port``. Scaling
  down stops the highest slots; scaling up starts the missing slots.
* Restarts: a replica that exited is restarted per ``RestartPolicy`` (``Always``; ``OnFailure``
  when the exit code is not 0 or unknown; ``Never``). A replica that ran at least
  ``ResetAfterSeconds`` is restarted at once and its failure count reset; otherwise it waits
  ``BackoffPolicy.delay(failures)`` (BACKOFF) and the count grows.
* Rolling update (a new revision, or a rolling restart): at most ``Replicas + MaxSurge``
  replicas run and at least ``Replicas - MaxUnavailable`` stay available (READY for
  ``MinReadySeconds``). With a fixed port a slot's port is busy while its old replica runs, so a
  surge replica takes a slot above the desired ones and is stopped once every desired slot has
  an available new replica.
* ``Recreate``: every old replica is stopped before any new one starts.
* Progress deadline: a rollout whose count of available new replicas has not grown for
  ``ProgressDeadlineSeconds`` is rolled back to the previous spec (``AutoRollback`` and a
  previous spec exist) or marked FAILED.
* Circuit breaker (ECS's): a rollout whose new replicas have failed quickly
  ``min(max(ceil(Replicas / 2), 3), 200)`` times in a row between them is ended the same way
  at once, without waiting for the deadline: a version that crashes at start is rolled back in
  seconds.
* Deleted service: every replica is stopped and forgotten, then the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stackflow.store.services import ReplicaRecord, ServiceRecord
from stackflow.supervise.service_spec import ServiceSpec

__all__ = [
    "ALIVE_STATES",
    "Action",
    "Backoff",
    "Decision",
    "DeleteService",
    "Forget",
    "ReplicaView",
    "Restart",
    "Rollback",
    "SetRollout",
    "Start",
    "Stop",
    "decide",
    "failure_threshold",
    "should_restart",
]

#: States of a replica whose process runs (and is not being stopped).
ALIVE_STATES = frozenset({"STARTING", "RUNNING", "READY"})
#: States of a replica whose process is gone.
DEAD_STATES = frozenset({"EXITED", "BACKOFF"})


@dataclass(frozen=True)
class ReplicaView:
    """What the decision needs to know about one replica.

    Attributes:
        replica_id: The replica.
        slot: Its slot.
        revision: The service revision it runs.
        state: STARTING, RUNNING, READY, STOPPING, EXITED or BACKOFF.
        started_at: When its current (or last) process started.
        ready_since: Since when it is READY.
        failures: Consecutive quick failures so far.
        last_exit_code: Exit code of its last exit (None: unknown).
        last_exit_at: When it last exited.
        next_start_at: When a BACKOFF replica is due to restart.
        unhealthy: Why it must be restarted (a liveness or startup probe failed out), or None.
        probe_output: The last probe output, for messages.
    """

    replica_id: str
    slot: int
    revision: int
    state: str
    started_at: float | None = None
    ready_since: float | None = None
    failures: int = 0
    last_exit_code: int | None = None
    last_exit_at: float | None = None
    next_start_at: float | None = None
    unhealthy: str | None = None
    probe_output: str | None = None

    @classmethod
    def from_record(cls, record: ReplicaRecord, *, unhealthy: str | None = None) -> ReplicaView:
        """Return the view of a stored replica."""
        return cls(
            replica_id=record.replica_id,
            slot=record.slot,
            revision=record.revision,
            state=record.state,
            started_at=record.started_at,
            ready_since=record.ready_since,
            failures=record.failures,
            last_exit_code=record.last_exit_code,
            last_exit_at=record.last_exit_at,
            next_start_at=record.next_start_at,
            unhealthy=unhealthy,
            probe_output=record.probe_output,
        )


@dataclass(frozen=True)
class Start:
    """Start a new replica of ``revision`` in ``slot``."""

    slot: int
    revision: int


@dataclass(frozen=True)
class Restart:
    """Start the exited replica again in place (same id, slot and port); record ``failures``."""

    replica_id: str
    failures: int


@dataclass(frozen=True)
class Backoff:
    """Leave the exited replica down until ``until`` (state BACKOFF); record ``failures``."""

    replica_id: str
    until: float
    failures: int


@dataclass(frozen=True)
class Stop:
    """Stop the replica's process group (idempotent: ignore it for a replica being stopped)."""

    replica_id: str
    reason: str


@dataclass(frozen=True)
class Forget:
    """Remove the record of a replica whose process is gone."""

    replica_id: str


@dataclass(frozen=True)
class Rollback:
    """Make ``to_revision`` (the previous spec) current again; the failed revision becomes the
    previous one, and ``rollout`` (status ROLLED_BACK, with ``message``) is stored."""

    to_revision: int
    message: str
    rollout: dict[str, Any]


@dataclass(frozen=True)
class SetRollout:
    """Store ``rollout`` (the whole new ``ServiceRecord.rollout``) whose status is ``status``."""

    status: str
    message: str
    rollout: dict[str, Any]


@dataclass(frozen=True)
class DeleteService:
    """Remove the service record (deleted, and no replica is left)."""


Action = Start | Restart | Backoff | Stop | Forget | Rollback | SetRollout | DeleteService


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`.

    Attributes:
        actions: What to do, in order (stops and forgets before starts).
        wake_at: When to decide again even if nothing happens (None: only on events).
        ready_count: Replicas READY now (any revision).
        available_count: Replicas of the current revision available (READY for MinReadySeconds).
        rollout_status: The rollout status after the actions.
    """

    actions: list[Action] = field(default_factory=list)
    wake_at: float | None = None
    ready_count: int = 0
    available_count: int = 0
    rollout_status: str | None = None


def should_restart(policy: str, exit_code: int | None) -> bool:
    """Return True when a replica that exited with ``exit_code`` is restarted under ``policy``.

    ``OnFailure`` restarts on a non-zero or unknown exit code (an adopted process's code is
    unknown).
    """
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return exit_code != 0
    return False


class _Pass:
    """The working state of one decision."""

    def __init__(
        self, service: ServiceRecord, spec: ServiceSpec, now: float, random_fraction: float
    ) -> None:
        self.service = service
        self.spec = spec
        self.now = now
        self.random_fraction = random_fraction
        self.ends: list[Action] = []
        self.starts: list[Action] = []
        self.other: list[Action] = []
        self.wakes: list[float] = []

    def wake(self, when: float | None) -> None:
        if when is not None:
            self.wakes.append(when)

    def available(self, replica: ReplicaView) -> bool:
        """READY for at least MinReadySeconds (and not condemned by a failing probe)."""
        if replica.state != "READY" or replica.unhealthy is not None:
            return False
        since = replica.ready_since if replica.ready_since is not None else self.now
        until = since + self.spec.min_ready_seconds
        if until > self.now:
            self.wake(until)
            return False
        return True

    def end(self, replica: ReplicaView, reason: str) -> None:
        """Stop a running replica or forget a dead one."""
        if replica.state in DEAD_STATES:
            self.ends.append(Forget(replica.replica_id))
        else:
            self.ends.append(Stop(replica.replica_id, reason))

    def keep_running(self, replica: ReplicaView) -> None:
        """Apply the restart policy to a wanted replica, and restart an unhealthy one."""
        if replica.state in ALIVE_STATES:
            if replica.unhealthy is not None:
                self.ends.append(Stop(replica.replica_id, replica.unhealthy))
            return
        if replica.state == "BACKOFF":
            due = replica.next_start_at
            if due is None or due <= self.now:
                self.starts.append(Restart(replica.replica_id, replica.failures))
            else:
                self.wake(due)
            return
        if replica.state != "EXITED":
            return
        if not should_restart(self.spec.restart_policy, replica.last_exit_code):
            return
        exited = replica.last_exit_at if replica.last_exit_at is not None else self.now
        started = replica.started_at if replica.started_at is not None else exited
        if self.spec.backoff.is_stable_run(exited - started):
            self.starts.append(Restart(replica.replica_id, 0))
            return
        delay = self.spec.backoff.delay(replica.failures, random_fraction=self.random_fraction)
        failures = replica.failures + 1
        if delay <= 0:
            self.starts.append(Restart(replica.replica_id, failures))
        else:
            self.other.append(Backoff(replica.replica_id, exited + delay, failures))
            self.wake(exited + delay)


def _rank(replica: ReplicaView) -> tuple[int, str]:
    """Sort key preferring the replica to keep among duplicates (ready, alive, then dead)."""
    order = {"READY": 0, "RUNNING": 1, "STARTING": 2, "BACKOFF": 3, "EXITED": 4}
    return (order.get(replica.state, 5), replica.replica_id)


def decide(
    service: ServiceRecord,
    replicas: Sequence[ReplicaView],
    now: float,
    *,
    random_fraction: float = 0.5,
    spec: ServiceSpec | None = None,
) -> Decision:
    """Decide what to do for one service.

    Args:
        service: The service record (desired state and rollout).
        replicas: Every replica recorded for it.
        now: The current time.
        random_fraction: A random number in [0, 1) for the backoff jitter.
        spec: ``service.spec`` already parsed (parsed here when None).

    Returns:
        The actions and when to look again.

    Raises:
        ValueError: The service's spec is invalid (not raised for a deleted service).
    """
    ready_count = sum(1 for r in replicas if r.state == "READY")
    if service.deleted:  # no spec needed (it may be invalid)
        ends: list[Action] = [
            Forget(r.replica_id)
            if r.state in DEAD_STATES
            else Stop(r.replica_id, "service deleted")
            for r in replicas
        ]
        return Decision(actions=ends or [DeleteService()], ready_count=ready_count)
    spec = spec if spec is not None else ServiceSpec.from_properties(service.spec)
    work = _Pass(service, spec, now, random_fraction)

    desired = max(0, service.replicas)
    revision = service.revision
    restart_at = service.restart_requested_at
    rolling = spec.strategy == "RollingUpdate"

    def outdated(replica: ReplicaView) -> bool:
        if replica.revision != revision:
            return True
        return restart_at is not None and (
            replica.started_at is None or replica.started_at < restart_at
        )

    stopping = [r for r in replicas if r.state == "STOPPING"]
    for replica in stopping:
        work.ends.append(Stop(replica.replica_id, "stopping"))
    active = [r for r in replicas if r.state != "STOPPING"]
    old = [r for r in active if outdated(r)]
    current = [r for r in active if not outdated(r)]
    any_old = bool(old) or any(outdated(r) for r in stopping)

    # Current replicas: one per desired slot, the rest are extras (surge or scaled away).
    by_slot: dict[int, list[ReplicaView]] = {}
    for replica in current:
        by_slot.setdefault(replica.slot, []).append(replica)
    in_range: dict[int, ReplicaView] = {}
    extras: list[ReplicaView] = []
    for slot, group in sorted(by_slot.items()):
        group.sort(key=_rank)
        for duplicate in group[1:]:
            work.end(duplicate, "duplicate replica of its slot")
        if slot < desired:
            in_range[slot] = group[0]
        else:
            extras.append(group[0])

    lacking = sum(1 for s in range(desired) if s not in in_range or not work.available(in_range[s]))
    rollout = dict(service.rollout or {})
    in_rollout = any_old or (
        rollout.get("status") == "PROGRESSING" and rollout.get("revision") == revision
    )
    extras.sort(key=lambda r: (not work.available(r), r.slot))
    keep_extras = extras[:lacking] if in_rollout else []
    for replica in sorted(extras[len(keep_extras) :], key=lambda r: -r.slot):
        work.end(replica, "scaled down")
    for replica in [*in_range.values(), *keep_extras]:
        work.keep_running(replica)

    # Old replicas: dead ones are forgotten, unavailable ones stopped, available ones stopped
    # within the availability budget (all at once with Recreate).
    old_alive = [r for r in old if r.state in ALIVE_STATES]
    for replica in old:
        if replica.state in DEAD_STATES:
            work.end(replica, "outdated")
    surge, unavailable = spec.limits(desired)
    min_available = max(0, desired - unavailable)
    kept = [*in_range.values(), *keep_extras]
    available_current = sum(1 for r in kept if work.available(r))
    old_available = [r for r in old_alive if work.available(r)]
    if not rolling:
        for replica in old_alive:
            work.end(replica, f"replaced by revision {revision} (Recreate)")
    else:
        for replica in old_alive:
            if not work.available(replica):
                work.end(replica, f"outdated, replaced by revision {revision}")
        budget = available_current + len(old_available) - min_available
        covered = {r.slot for r in kept if work.available(r)}

        def preference(replica: ReplicaView) -> tuple[int, int]:
            return (0 if replica.slot in covered else 1, replica.slot)

        for replica in sorted(old_available, key=preference):
            if budget <= 0:
                break
            work.end(replica, f"outdated, replaced by revision {revision}")
            budget -= 1

    # Starts: missing desired slots first, then surge slots for ports still held by old replicas.
    holding = {r.slot for r in replicas if r.state in ALIVE_STATES or r.state == "STOPPING"}
    occupied = {r.slot for r in replicas}
    # A current replica being stopped (a failed probe) is restarted in place once it exited.
    pending = {r.slot for r in stopping if not outdated(r)}
    missing = [s for s in range(desired) if s not in in_range and s not in pending]
    fixed_port = spec.port is not None
    direct = [s for s in missing if not (fixed_port and s in holding)]
    blocked = len(missing) - len(direct)
    if not rolling and any_old:
        capacity = 0
    else:
        total = len(kept) + sum(1 for r in old_alive)
        capacity = desired + (surge if rolling else 0) - total
    for slot in direct:
        if capacity <= 0:
            break
        work.starts.append(Start(slot, revision))
        capacity -= 1
    surge_slot = desired
    for _ in range(max(0, blocked - len(keep_extras))):
        if capacity <= 0:
            break
        while surge_slot in occupied:
            surge_slot += 1
        work.starts.append(Start(surge_slot, revision))
        occupied.add(surge_slot)
        capacity -= 1

    settled = not any_old and not extras and lacking == 0 and len(kept) == desired
    available = min(desired, available_current)
    status = _rollout(work, rollout, replicas, settled=settled, available=available)
    return Decision(
        actions=[*work.ends, *work.other, *work.starts],
        wake_at=min(work.wakes) if work.wakes else None,
        ready_count=ready_count,
        available_count=available_current,
        rollout_status=status,
    )


def _rollout(
    work: _Pass,
    rollout: dict[str, Any],
    replicas: Sequence[ReplicaView],
    *,
    settled: bool,
    available: int,
) -> str | None:
    """Add the rollout status changes to ``work``; return the status after them.

    Args:
        work: The decision being made.
        rollout: The stored rollout.
        replicas: Every replica (for the failure message).
        settled: Every desired slot has an available replica of the current revision and no
            other replica is left.
        available: Available replicas of the current revision (at most the desired count).
    """
    service, spec, now = work.service, work.spec, work.now
    revision = service.revision
    desired = max(0, service.replicas)
    restart_at = service.restart_requested_at
    status = rollout.get("status")
    same_revision = rollout.get("revision") == revision
    restarted = restart_at is not None and rollout.get("restart_requested_at") != restart_at
    if not same_revision or restarted or (status == "PROGRESSING" and "progress_at" not in rollout):
        if same_revision and restart_at is not None and restarted:
            message = f"rolling restart of revision {revision}"
        else:
            message = f"rolling out revision {revision}"
        fresh: dict[str, Any] = {
            "status": "PROGRESSING",
            "revision": revision,
            "started_at": now,
            "progress_at": now,
            "available": available,
            "desired": desired,
            "message": message,
            "restart_requested_at": restart_at,
        }
        work.other.append(SetRollout("PROGRESSING", message, fresh))
        work.wake(now + spec.progress_deadline_seconds)
        return "PROGRESSING"
    if status in ("PROGRESSING", "FAILED") and settled:
        message = f"{desired} of {desired} replicas available"
        done = {**rollout, "status": "COMPLETE", "available": available, "message": message}
        done["completed_at"] = now
        work.other.append(SetRollout("COMPLETE", message, done))
        return "COMPLETE"
    if status != "PROGRESSING":
        return status if isinstance(status, str) else None
    previous_available = int(rollout.get("available", 0))
    progress_at = float(rollout.get("progress_at", now))
    if available > previous_available:
        progress_at = now
    deadline = progress_at + spec.progress_deadline_seconds
    failed_starts = sum(r.failures for r in replicas if r.revision == revision)
    breaker = failure_threshold(desired)
    tripped = failed_starts >= breaker
    if now < deadline and not tripped:
        if available != previous_available or rollout.get("desired") != desired:
            message = f"{available} of {desired} replicas available"
            updated = {
                **rollout,
                "available": available,
                "desired": desired,
                "progress_at": progress_at,
                "message": message,
            }
            work.other.append(SetRollout("PROGRESSING", message, updated))
        work.wake(deadline)
        return "PROGRESSING"
    if tripped:
        reason = (
            f"revision {revision} failed to start {failed_starts} times in a row"
            f" (circuit breaker at {breaker}; {available} of {desired} replicas available)"
            f"{_last_words(replicas, revision)}"
        )
    else:
        reason = (
            f"revision {revision} made no progress in {spec.progress_deadline_seconds:g}s"
            f" ({available} of {desired} replicas available){_last_words(replicas, revision)}"
        )
    previous = service.previous_revision
    if (
        spec.auto_rollback
        and service.previous_spec is not None
        and previous is not None
        and previous != revision
    ):
        message = f"{reason}; rolled back to revision {previous}"
        rolled = {
            "status": "ROLLED_BACK",
            "revision": previous,
            "failed_revision": revision,
            "started_at": now,
            "progress_at": now,
            "message": message,
            "restart_requested_at": restart_at,
        }
        work.other.append(Rollback(previous, message, rolled))
        return "ROLLED_BACK"
    failed = {**rollout, "status": "FAILED", "message": reason, "failed_at": now}
    work.other.append(SetRollout("FAILED", reason, failed))
    return "FAILED"


def failure_threshold(desired: int) -> int:
    """Return how many quick failures of a rollout's new replicas end it (ECS's rule).

    Args:
        desired: The desired replica count.

    Returns:
        ``min(max(ceil(desired / 2), 3), 200)``.
    """
    return min(max(-(-desired // 2), 3), 200)


def _last_words(replicas: Sequence[ReplicaView], revision: int) -> str:
    """Return the last exit code and probe output of the revision's replicas, for messages."""
    ours = [r for r in replicas if r.revision == revision]
    parts: list[str] = []
    exits = [r for r in ours if r.last_exit_at is not None]
    if exits:
        last = max(exits, key=lambda r: r.last_exit_at or 0.0)
        code = "unknown" if last.last_exit_code is None else str(last.last_exit_code)
        parts.append(f"last exit code {code}")
    probes = [r.probe_output for r in ours if r.probe_output]
    if probes:
        parts.append(f"last probe output: {probes[-1].strip()[:500]}")
    return "; " + "; ".join(parts) if parts else ""
