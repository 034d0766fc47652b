"""What a :class:`~stackflow.supervise.controller.ServiceController` does on its loop thread:
apply the reconcile actions, handle exits and probe results, report events (I/O).

:class:`ControllerActions` is the controller's base class; every method runs on the loop thread
(or in :meth:`ServiceController.stop` once the loop has ended).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackflow.clock import Clock
from stackflow.errors import ConflictError, NotFoundError, StoreError
from stackflow.store.services import ServiceStore
from stackflow.supervise.probe_state import ProbeResult
from stackflow.supervise.process import ExitWatcher, ProcessHandle, stop
from stackflow.supervise.reconcile import (
    Action,
    Backoff,
    DeleteService,
    Forget,
    Restart,
    Rollback,
    SetRollout,
    Start,
    Stop,
)
from stackflow.supervise.replicas import ReplicaRuntime, free_port, log_path_of, new_replica_id
from stackflow.supervise.service_runtime import ServiceRuntime

__all__ = ["ControllerActions", "ControllerEvent"]

_log = logging.getLogger("stackflow.supervise.controller")

#: Wait after removing a backend before counting its connections (connects in flight).
_DRAIN_SETTLE = 0.05
#: Interval between counts of a draining backend's open connections.
_DRAIN_POLL = 0.02


@dataclass(frozen=True)
class ControllerEvent:
    """A notable event of the controller (printed one per line by ``stackflow server``).

    Attributes:
        time: When it happened (epoch seconds).
        service: The service name.
        kind: ``replica-started``, ``replica-ready``, ``replica-unready``, ``replica-exited``,
            ``replica-backoff``, ``replica-restarted``, ``replica-stopping``, ``replica-adopted``,
            ``replica-unhealthy``, ``rollout``, ``service-deleted``, ``lease-acquired``,
            ``lease-lost``, ``error``.
        message: One line saying what happened.
        replica_id: The replica concerned, or None.
        slot: Its slot, or None.
    """

    time: float
    service: str
    kind: str
    message: str
    replica_id: str | None = None
    slot: int | None = None

    def line(self) -> str:
        """Return the event as one plain line (``service[slot] kind: message``)."""
        where = self.service if self.slot is None else f"{self.service}[{self.slot}]"
        return f"{where} {self.kind}: {self.message}"


class ControllerActions:
    """The loop-thread half of the service controller (see the module docstring).

    Attributes are set by :class:`~stackflow.supervise.controller.ServiceController`.
    """

    store: ServiceStore
    home: Path
    host: str
    clock: Clock
    _on_event: Callable[[ControllerEvent], None] | None
    _services: dict[str, ServiceRuntime]
    _lock: threading.Lock
    _inbox: deque[tuple[Any, ...]]
    _wakeup: threading.Event
    _stops: ThreadPoolExecutor
    _watcher: ExitWatcher | None

    def _emit(
        self, name: str, kind: str, message: str, runtime: ReplicaRuntime | None = None
    ) -> None:
        event = ControllerEvent(
            time=self.clock.now(),
            service=name,
            kind=kind,
            message=message,
            replica_id=None if runtime is None else runtime.record.replica_id,
            slot=None if runtime is None else runtime.record.slot,
        )
        _log.info("%s", event.line())
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # pragma: no cover - a broken listener must not stop the loop
                _log.exception("service event listener failed")

    @staticmethod
    def _quietly(fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except StoreError as exc:
            _log.warning("%s", exc)

    def _watch(self, name: str, runtime: ReplicaRuntime) -> None:
        handle = runtime.handle
        if handle is None or self._watcher is None:
            return
        replica_id = runtime.record.replica_id

        def exited(process: ProcessHandle, code: int | None) -> None:
            self._inbox.append(("exit", name, replica_id, process.pid, code))
            self._wakeup.set()

        self._watcher.watch(handle, exited)

    def _on_exit(
        self, svc: ServiceRuntime, runtime: ReplicaRuntime, code: int | None, now: float
    ) -> None:
        was_ready = runtime.record.state == "READY"
        runtime.handle = None
        runtime.probing = False
        runtime.stopping = False
        reason = runtime.unhealthy or runtime.record.message
        if runtime.record.state != "STOPPING":
            reason = None
        described = "unknown exit code" if code is None else _describe_exit(code)
        self._write(
            svc,
            runtime,
            state="EXITED",
            pid=None,
            ready_since=None,
            last_exit_code=code,
            last_exit_at=now,
            message=reason or described,
        )
        self._emit(svc.name, "replica-exited", described, runtime)
        runtime.unhealthy = None
        svc.dirty = True
        if was_ready:
            svc.update_backends(self.host)

    def _on_probe(
        self,
        svc: ServiceRuntime,
        runtime: ReplicaRuntime,
        kind: str,
        result: ProbeResult,
        now: float,
    ) -> None:
        tracker = runtime.trackers.get(kind)
        if tracker is None or svc.spec is None:
            return
        was_passing = tracker.passing
        tracker.record_result(result, now)
        changes: dict[str, Any] = {}
        if not result.ok and result.output != (runtime.record.probe_output or ""):
            changes["probe_output"] = result.output
        if kind == "startup":
            if tracker.passing:
                runtime.startup_passed(svc.spec, now)
                if svc.spec.readiness is None:
                    changes.update(state="READY", ready_since=now, probe_output=result.output)
                else:
                    changes.update(state="RUNNING")
            elif tracker.failed_out:
                runtime.unhealthy = f"startup probe failed: {_first_line(result.output)}"
                svc.dirty = True
        elif kind == "readiness":
            state = runtime.record.state
            if tracker.passing and state in ("STARTING", "RUNNING"):
                changes.update(state="READY", ready_since=now, probe_output=result.output)
            elif not tracker.passing and state == "READY":
                changes.update(state="RUNNING", ready_since=None)
        elif kind == "liveness" and tracker.failed_out and was_passing:
            runtime.unhealthy = f"liveness probe failed: {_first_line(result.output)}"
            self._emit(svc.name, "replica-unhealthy", runtime.unhealthy, runtime)
            svc.dirty = True
        if not changes:
            return
        before = runtime.record.state
        self._write(svc, runtime, **changes)
        after = runtime.record.state
        if after != before:
            svc.dirty = True
            if after == "READY":
                self._emit(svc.name, "replica-ready", f"port {runtime.record.port}", runtime)
            elif before == "READY":
                self._emit(svc.name, "replica-unready", _first_line(result.output), runtime)
            if "READY" in (before, after):
                svc.update_backends(self.host)

    def _apply(self, svc: ServiceRuntime, action: Action, now: float) -> None:
        if isinstance(action, Start):
            self._start(svc, action.slot, action.revision, now)
        elif isinstance(action, Restart):
            runtime = svc.replicas.get(action.replica_id)
            if runtime is not None:
                self._launch(svc, runtime, now, restart=True, failures=action.failures)
        elif isinstance(action, Backoff):
            self._backoff(svc, action, now)
        elif isinstance(action, Stop):
            self._stop_replica(svc, action.replica_id, action.reason)
        elif isinstance(action, Forget):
            runtime = svc.replicas.pop(action.replica_id, None)
            if runtime is not None:
                self.store.delete_replica(svc.name, action.replica_id)
                svc.dirty = True
        elif isinstance(action, SetRollout):
            self._set_rollout(svc, action)
        elif isinstance(action, Rollback):
            self._rollback(svc, action)
        elif isinstance(action, DeleteService):
            svc.close_balancer()
            self.store.delete_service(svc.name)
            with self._lock:
                self._services.pop(svc.name, None)
            self._emit(svc.name, "service-deleted", "every replica stopped")

    def _start(self, svc: ServiceRuntime, slot: int, revision: int, now: float) -> None:
        assert svc.spec is not None
        replica_id = new_replica_id()
        port = svc.spec.port + slot if svc.spec.port is not None else free_port(self.host)
        record = svc.new_replica(
            replica_id,
            slot,
            revision,
            port,
            str(log_path_of(self.home, svc.name, slot, replica_id)),
            now,
        )
        runtime = ReplicaRuntime(record)
        svc.replicas[replica_id] = runtime
        self._launch(svc, runtime, now, restart=False, failures=0)

    def _launch(
        self,
        svc: ServiceRuntime,
        runtime: ReplicaRuntime,
        now: float,
        *,
        restart: bool,
        failures: int,
    ) -> None:
        assert svc.spec is not None
        restarts = runtime.record.restarts + (1 if restart else 0)
        try:
            handle = svc.launch(runtime.record, self.home)
        except (OSError, ValueError) as exc:
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            self._write(
                svc,
                runtime,
                state="EXITED",
                pid=None,
                started_at=now,
                ready_since=None,
                restarts=restarts,
                failures=failures,
                last_exit_code=code,
                last_exit_at=now,
                next_start_at=None,
                message=f"cannot start: {exc}",
            )
            self._emit(svc.name, "replica-exited", f"cannot start: {exc}", runtime)
            svc.dirty = True
            return
        runtime.handle = handle
        runtime.begin(svc.spec, now)
        runtime.env, runtime.cwd = svc.exec_context(runtime.record)
        state = runtime.initial_state(svc.spec)
        self._write(
            svc,
            runtime,
            state=state,
            pid=handle.pid,
            start_time=handle.start_time,
            pgid=handle.pgid,
            started_at=now,
            ready_since=now if state == "READY" else None,
            restarts=restarts,
            failures=failures,
            next_start_at=None,
            probe_output=None,
            message=None,
        )
        self._watch(svc.name, runtime)
        kind = "replica-restarted" if restart else "replica-started"
        self._emit(
            svc.name,
            kind,
            f"pid {handle.pid} port {runtime.record.port} revision {runtime.record.revision}",
            runtime,
        )
        if state == "READY":
            self._emit(svc.name, "replica-ready", f"port {runtime.record.port}", runtime)
            svc.update_backends(self.host)
        svc.dirty = True

    def _backoff(self, svc: ServiceRuntime, action: Backoff, now: float) -> None:
        runtime = svc.replicas.get(action.replica_id)
        if runtime is None:
            return
        self._write(
            svc, runtime, state="BACKOFF", next_start_at=action.until, failures=action.failures
        )
        delay = max(0.0, action.until - now)
        self._emit(
            svc.name,
            "replica-backoff",
            f"restarting in {delay:.2f}s ({action.failures} quick failures in a row)",
            runtime,
        )
        svc.dirty = True

    def _stop_replica(self, svc: ServiceRuntime, replica_id: str, reason: str) -> None:
        runtime = svc.replicas.get(replica_id)
        if runtime is None or runtime.stopping:
            return
        runtime.stopping = True
        was_ready = runtime.record.state == "READY"
        message = runtime.unhealthy or reason
        if runtime.handle is None:
            self._write(svc, runtime, state="EXITED", pid=None, ready_since=None, message=message)
            svc.dirty = True
            return
        self._write(svc, runtime, state="STOPPING", ready_since=None, message=message)
        if was_ready:
            svc.update_backends(self.host)
        self._emit(svc.name, "replica-stopping", message, runtime)
        handle = runtime.handle
        signal_name, grace = svc.stop_settings()
        drain: Callable[[], int] | None = None
        balancer, port = svc.balancer, runtime.record.port
        if was_ready and balancer is not None and port is not None:
            backend = (self.host, port)

            def drain() -> int:
                return balancer.active_connections(backend)

        try:
            self._stops.submit(_stop_quietly, handle, signal_name, grace, drain)
        except RuntimeError:  # shutting down: stop inline
            _stop_quietly(handle, signal_name, grace)

    def _set_rollout(self, svc: ServiceRuntime, action: SetRollout) -> None:
        old = svc.record.rollout or {}
        try:
            svc.set_record(
                self.store.update_service(
                    svc.name, expected_version=svc.record.version, rollout=action.rollout
                )
            )
        except (ConflictError, NotFoundError):
            self._refresh(svc)
            return
        if old.get("status") != action.status or old.get("message") != action.message:
            self._emit(svc.name, "rollout", f"{action.status}: {action.message}")

    def _rollback(self, svc: ServiceRuntime, action: Rollback) -> None:
        record = svc.record
        try:
            updated = self.store.update_service(
                svc.name,
                expected_version=record.version,
                spec=record.previous_spec,
                revision=action.to_revision,
                previous_spec=record.spec,
                previous_revision=record.revision,
                rollout=action.rollout,
            )
        except (ConflictError, NotFoundError):
            self._refresh(svc)
            return
        svc.set_record(updated)
        self._emit(svc.name, "rollout", f"ROLLED_BACK: {action.message}")

    def _refresh(self, svc: ServiceRuntime) -> None:
        found = self.store.find_service(svc.name)
        if found is not None:
            svc.set_record(found)
        svc.dirty = True

    def _write(self, svc: ServiceRuntime, runtime: ReplicaRuntime, **fields: Any) -> None:
        record = runtime.update(updated_at=self.clock.now(), **fields)
        if runtime.record.replica_id in svc.replicas:
            self.store.put_replica(record)

    def _ensure_balancer(self, svc: ServiceRuntime) -> None:
        address = svc.ensure_balancer(self.host)
        if svc.balancer_error != svc.reported_error:
            svc.reported_error = svc.balancer_error
            if svc.balancer_error is not None:
                self._emit(svc.name, "error", f"load balancer: {svc.balancer_error}")
        if address is None:
            return
        text = f"{address[0]}:{address[1]}"
        if svc.record.load_balancer != text:
            try:
                svc.set_record(
                    self.store.update_service(
                        svc.name, expected_version=svc.record.version, load_balancer=text
                    )
                )
            except (ConflictError, NotFoundError):
                self._refresh(svc)

    def _kill_all(self, services: list[ServiceRuntime]) -> None:
        """Stop every replica process of ``services`` (in parallel) and forget the records."""
        jobs = []
        for svc in services:
            signal_name, grace = svc.stop_settings()
            for runtime in list(svc.replicas.values()):
                handle = runtime.handle
                if handle is not None:
                    if self._watcher is not None:
                        self._watcher.unwatch(handle.pid)
                    jobs.append(
                        threading.Thread(target=_stop_quietly, args=(handle, signal_name, grace))
                    )
                runtime.handle = None
                self._quietly(self.store.delete_replica, svc.name, runtime.record.replica_id)
            svc.replicas.clear()
        for job in jobs:
            job.start()
        for job in jobs:
            job.join()


def _stop_quietly(
    handle: ProcessHandle,
    signal_name: str,
    grace: float,
    drain: Callable[[], int] | None = None,
) -> None:
    """Stop a replica's process group, first letting the balancer's open connections to it
    finish (at most ``grace`` seconds) when ``drain`` counts them."""
    if drain is not None:
        deadline = time.monotonic() + grace
        # A connection the balancer was opening when the backend was removed shows up soon.
        time.sleep(_DRAIN_SETTLE)
        while drain() > 0 and time.monotonic() < deadline:
            time.sleep(_DRAIN_POLL)
    try:
        stop(handle, signal_name=signal_name, grace_seconds=grace)
    except Exception:  # pragma: no cover - defensive
        _log.exception("stopping pid %s failed", handle.pid)


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else ""
