"""Runtime state of one service a controller supervises: its record, parsed spec, replicas
and load balancer (I/O; owned by the controller's loop thread)."""

from __future__ import annotations

import logging
from pathlib import Path

from stackflow.store.services import ReplicaRecord, ServiceRecord
from stackflow.supervise.balancer import TcpBalancer
from stackflow.supervise.logs import LogRotator
from stackflow.supervise.process import ProcessHandle
from stackflow.supervise.replicas import (
    ReplicaRuntime,
    launch,
    replica_environment,
    working_directory,
)
from stackflow.supervise.service_spec import ServiceSpec

__all__ = ["ServiceRuntime"]

_log = logging.getLogger(__name__)


class ServiceRuntime:
    """One supervised service.

    Args:
        record: The service record as read.
        lease_until: When this controller's lease on it ends.

    Attributes:
        record: The service record as last read or written.
        spec: Its parsed spec, or None when invalid (see :attr:`spec_error`).
        replicas: Replica runtimes by replica id.
        lease_until: When the lease ends unless renewed.
        wake_at: When its decision asked to be looked at again.
        dirty: Something changed: decide again on the next pass.
        balancer: Its load balancer, or None.
        balancer_error: Why the balancer could not start, or None.
        reported_error: The balancer error last reported as an event.
    """

    def __init__(self, record: ServiceRecord, *, lease_until: float) -> None:
        self.record = record
        self.spec: ServiceSpec | None = None
        self.spec_error: str | None = None
        self.replicas: dict[str, ReplicaRuntime] = {}
        self.lease_until = lease_until
        self.wake_at: float | None = None
        self.dirty = True
        self.balancer: TcpBalancer | None = None
        self.balancer_error: str | None = None
        self.reported_error: str | None = None
        self._balancer_host = ""
        self._backends: list[tuple[str, int]] = []
        self._parse()

    @property
    def name(self) -> str:
        """The service name."""
        return self.record.name

    def _parse(self) -> None:
        try:
            self.spec = ServiceSpec.from_properties(self.record.spec)
            self.spec_error = None
        except ValueError as exc:
            self.spec = None
            self.spec_error = str(exc)

    def set_record(self, record: ServiceRecord) -> None:
        """Take a newer record (re-parsing the spec when it changed) and mark the service dirty."""
        spec_changed = record.spec != self.record.spec or record.revision != self.record.revision
        self.record = record
        if spec_changed or self.spec is None:
            self._parse()
        self.dirty = True

    def new_replica(
        self, replica_id: str, slot: int, revision: int, port: int | None, log_path: str, now: float
    ) -> ReplicaRecord:
        """Return the record of a replica about to start."""
        return ReplicaRecord(
            service=self.name,
            replica_id=replica_id,
            slot=slot,
            revision=revision,
            state="STARTING",
            updated_at=now,
            port=port,
            log_path=log_path,
        )

    def launch(self, record: ReplicaRecord, home: Path) -> ProcessHandle:
        """Start a replica's process.

        Raises:
            OSError: The command could not be started.
            ValueError: A bad resource limit.
        """
        assert self.spec is not None
        return launch(self.record, self.spec, record, home)

    def exec_context(self, record: ReplicaRecord) -> tuple[dict[str, str], Path | None]:
        """Return the environment and working directory exec probes of a replica run with."""
        if self.spec is None:
            return {}, None
        env = replica_environment(self.record, self.spec, record.slot, record.port)
        return env, working_directory(self.record, self.spec)

    def stop_settings(self) -> tuple[str, float]:
        """Return the stop signal and grace period."""
        if self.spec is None:
            return "TERM", 10.0
        return self.spec.stop_signal, self.spec.stop_grace_seconds

    # ------------------------------------------------------------------ load balancer

    def ensure_balancer(self, host: str) -> tuple[str, int] | None:
        """Run the load balancer the spec asks for (starting, moving or closing it).

        Args:
            host: Host of the replicas (the backends).

        Returns:
            Its address, or None when there is none (see :attr:`balancer_error`).
        """
        spec = self.spec
        if spec is None or not spec.load_balancer or self.record.deleted:
            self.close_balancer()
            self.balancer_error = None
            return None
        fixed = spec.load_balancer_port
        if self.balancer is not None:
            address = self.balancer.address
            if self._balancer_host == spec.load_balancer_host and fixed in (None, address[1]):
                return address
            self.close_balancer()
        port = fixed
        if port is None and self.record.load_balancer:
            # Keep the port picked before (e.g. by a controller that was restarted).
            _host, _, text = self.record.load_balancer.rpartition(":")
            port = int(text) if text.isdigit() else None
        candidates = [port, 0] if port is not None and fixed is None else [port]
        for candidate in candidates:
            balancer = TcpBalancer(spec.load_balancer_host, candidate or 0)
            try:
                balancer.start()
            except (OSError, RuntimeError) as exc:
                self.balancer_error = str(exc)
                continue
            self.balancer = balancer
            self._balancer_host = spec.load_balancer_host
            self.balancer_error = None
            self._backends = []
            self.update_backends(host)
            return balancer.address
        return None

    def balancer_address(self) -> tuple[str, int] | None:
        """Return the balancer's address, or None."""
        return None if self.balancer is None else self.balancer.address

    def update_backends(self, host: str) -> None:
        """Point the balancer at the READY replicas (slot order)."""
        if self.balancer is None:
            return
        ready = sorted(
            (r.record.slot, r.record.port)
            for r in self.replicas.values()
            if r.record.state == "READY" and r.record.port is not None and r.handle is not None
        )
        backends = [(host, port) for _slot, port in ready if port is not None]
        if backends != self._backends:
            self._backends = backends
            self.balancer.set_backends(backends)

    def close_balancer(self) -> None:
        """Stop the load balancer, if any."""
        if self.balancer is not None:
            self.balancer.stop()
            self.balancer = None
            self._backends = []

    # ------------------------------------------------------------------ logs

    def rotate_logs(self, rotator: LogRotator) -> None:
        """Rotate the replica logs that reached ``Logs.MaxBytes``."""
        if self.spec is None:
            return
        for runtime in self.replicas.values():
            if runtime.record.log_path:
                try:
                    rotator.rotate(
                        Path(runtime.record.log_path), self.spec.log_max_bytes, self.spec.log_keep
                    )
                except OSError as exc:
                    _log.warning("rotating %s failed: %s", runtime.record.log_path, exc)
