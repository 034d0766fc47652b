"""Runtime state of the replicas a :class:`~stackflow.supervise.controller.ServiceController`
supervises: launching a replica's process and tracking its probes (I/O).

The controller's loop thread owns every :class:`ReplicaRuntime`; nothing here is thread-safe.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from stackflow.store.services import ReplicaRecord, ServiceRecord
from stackflow.supervise.probe_state import ProbeSpec, ProbeTracker
from stackflow.supervise.process import ProcessHandle, ProcessSpec, spawn
from stackflow.supervise.service_spec import ServiceSpec

__all__ = [
    "ReplicaRuntime",
    "free_port",
    "launch",
    "log_path_of",
    "new_replica_id",
    "replica_environment",
    "working_directory",
]

#: Probe kinds in the order they gate each other.
PROBE_KINDS = ("startup", "readiness", "liveness")


def new_replica_id() -> str:
    """Return a new short unique replica id."""
    return uuid.uuid4().hex[:10]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def log_path_of(home: Path, service: str, slot: int, replica_id: str) -> Path:
    """Return ``<home>/services/<service>/<slot>-<replica_id>.log``."""
    return Path(home) / "services" / service / f"{slot}-{replica_id}.log"


def working_directory(service: ServiceRecord, spec: ServiceSpec) -> Path:
    """Return the replica's working directory (``WorkingDirectory`` against ``base_dir``)."""
    base = Path(service.base_dir or ".")
    if spec.working_directory is None:
        return base
    return base / spec.working_directory


def replica_environment(
    service: ServiceRecord, spec: ServiceSpec, slot: int, port: int | None
) -> dict[str, str]:
    """Return a replica's environment: ours, the spec's ``Environment``, ``PORT``,
    ``STACKFLOW_SERVICE`` and ``STACKFLOW_REPLICA`` (the slot)."""
    env = dict(os.environ)
    env.update(spec.environment)
    if port is not None:
        env["PORT"] = str(port)
    env["STACKFLOW_SERVICE"] = service.name
    env["STACKFLOW_REPLICA"] = str(slot)
    return env


def launch(
    service: ServiceRecord, spec: ServiceSpec, record: ReplicaRecord, home: Path
) -> ProcessHandle:
    """Start the process of ``record`` (its slot, port and log path are already set).

    Raises:
        OSError: The command could not be started.
        ValueError: A bad resource limit.
    """
    log_path = (
        Path(record.log_path)
        if record.log_path
        else log_path_of(home, service.name, record.slot, record.replica_id)
    )
    process = ProcessSpec(
        command=list(spec.command),
        env=replica_environment(service, spec, record.slot, record.port),
        cwd=working_directory(service, spec),
        stdout_path=log_path,
        stderr_path=log_path,
        rlimits=dict(spec.rlimits),
        stop_signal=spec.stop_signal,
    )
    return spawn(process)


@dataclass
class ReplicaRuntime:
    """What the controller knows about one replica beyond its record.

    Attributes:
        record: The replica's record as last written.
        handle: Its running process, or None.
        trackers: Probe state by kind (``startup``, ``readiness``, ``liveness``).
        probing: A probe of it is running now.
        unhealthy: Why it must be restarted (a probe failed out), or None.
        stopping: A stop of its process was submitted.
        env: The environment exec probes run with.
        cwd: The working directory exec probes run in.
    """

    record: ReplicaRecord
    handle: ProcessHandle | None = None
    trackers: dict[str, ProbeTracker] = field(default_factory=dict)
    probing: bool = False
    unhealthy: str | None = None
    stopping: bool = False
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def begin(self, spec: ServiceSpec, now: float, *, adopted_state: str | None = None) -> None:
        """Set up the probes of a process that started (or was adopted) at ``now``.

        An adopted replica that was READY stays READY until its readiness probe fails; one that
        was RUNNING or READY skips its startup probe.
        """
        self.trackers = {}
        self.unhealthy = None
        self.probing = False
        self.stopping = False
        started = adopted_state in ("RUNNING", "READY")
        if spec.startup is not None and not started:
            self.trackers["startup"] = ProbeTracker(spec.startup, started_at=now)
        else:
            self._after_startup(spec, now, ready=adopted_state == "READY")

    def _after_startup(self, spec: ServiceSpec, now: float, *, ready: bool) -> None:
        if spec.readiness is not None:
            self.trackers["readiness"] = ProbeTracker(
                spec.readiness, started_at=now, initially_passing=ready
            )
        if spec.liveness is not None:
            self.trackers["liveness"] = ProbeTracker(
                spec.liveness, started_at=now, initially_passing=True
            )

    def startup_passed(self, spec: ServiceSpec, now: float) -> None:
        """The startup probe passed: start the readiness and liveness probes."""
        self.trackers.pop("startup", None)
        self._after_startup(spec, now, ready=False)

    def initial_state(self, spec: ServiceSpec) -> str:
        """Return the state of a just-started replica (READY when no probe gates it)."""
        if spec.startup is not None or spec.readiness is not None:
            return "STARTING"
        return "READY"

    def next_probe(self, now: float) -> tuple[str, ProbeSpec] | None:
        """Return the probe to run now (kind, spec), or None when none is due."""
        if self.handle is None or self.probing or self.stopping:
            return None
        due = [
            (tracker.next_due, kind) for kind, tracker in self.trackers.items() if tracker.due(now)
        ]
        if not due:
            return None
        _, kind = min(due)
        return kind, self.trackers[kind].spec

    def next_probe_due(self) -> float | None:
        """Return when the next probe is due, or None (no probe, or one is running)."""
        if self.handle is None or self.probing or self.stopping or not self.trackers:
            return None
        return min(tracker.next_due for tracker in self.trackers.values())

    def update(self, **fields: object) -> ReplicaRecord:
        """Replace fields of :attr:`record` and return the new record."""
        self.record = replace(self.record, **fields)  # type: ignore[arg-type]
        return self.record


def same_output(a: str | None, b: str | None) -> bool:
    """Return True when two probe outputs are the same (None and "" are equal)."""
    return (a or "") == (b or "")
