"""The service controller: the reconcile loop that keeps services in their desired state (I/O).

One loop thread per controller. It sleeps until the earliest of: a replica exit (reported at
once by :class:`~stackflow.supervise.process.ExitWatcher`, no polling), a probe result, a
scheduled wake (backoff, MinReadySeconds, progress deadline, next probe), :meth:`wake`, or the
store poll (every ``poll_seconds``: one query for new or changed services). Each pass runs the
pure :func:`~stackflow.supervise.reconcile.decide` for the services whose state changed and
applies its actions. Probes run in a small thread pool, stops (which wait for the grace period)
in another. Replica records are written on every state change so other processes see them.

A controller supervises a service only while it holds the service's lease in the store; on
taking it, it adopts the replicas recorded with a pid and start time that
:func:`~stackflow.supervise.process.is_same_process` confirms, and records the others as exited.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from stackflow.clock import Clock, SystemClock
from stackflow.errors import StoreError
from stackflow.store.services import ServiceRecord, ServiceStore
from stackflow.supervise.actions import ControllerActions, ControllerEvent
from stackflow.supervise.logs import LogRotator
from stackflow.supervise.probe_state import ProbeResult, ProbeSpec
from stackflow.supervise.probes import run_probe
from stackflow.supervise.process import ExitWatcher, ProcessHandle, is_same_process
from stackflow.supervise.reconcile import (
    ALIVE_STATES,
    ReplicaView,
    decide,
)
from stackflow.supervise.replicas import (
    ReplicaRuntime,
)
from stackflow.supervise.service_runtime import ServiceRuntime

__all__ = ["ControllerEvent", "ServiceController", "default_owner"]

_log = logging.getLogger(__name__)

#: Seconds between log rotation checks.
_ROTATE_EVERY = 5.0


def default_owner() -> str:
    """Return a controller id naming this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def owner_is_dead_local_process(owner: str) -> bool:
    """Return True when ``owner`` (``host:pid:...``) names a process of this host that is gone."""
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    return not psutil.pid_exists(int(parts[1]))


class ServiceController(ControllerActions):
    """Keeps services in their desired state: one loop thread plus probe and stop workers.

    Args:
        store: The service store (``store.services``).
        owner: This controller's id in leases and heartbeats (see :func:`default_owner`).
        home: The stackflow home; replica logs go to ``<home>/services/<name>/``.
        clock: Source of time.
        lease_seconds: Lease length on each supervised service (renewed at half-life).
        poll_seconds: How often the store is read for new or changed services.
        services: Names of the services to supervise; None: every service in the store.
        host: Host the replicas listen on (probes and the load balancer connect there).
        on_event: Called (on the loop thread) with each :class:`ControllerEvent`.
        random_fraction: Source of the backoff jitter's random numbers in [0, 1).
    """

    def __init__(
        self,
        store: ServiceStore,
        *,
        owner: str,
        home: Path,
        clock: Clock | None = None,
        lease_seconds: float = 15.0,
        poll_seconds: float = 1.0,
        services: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        on_event: Callable[[ControllerEvent], None] | None = None,
        random_fraction: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.home = Path(home)
        self.clock: Clock = clock or SystemClock()
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.names = None if services is None else frozenset(services)
        self.host = host
        self._on_event = on_event
        self._random = random_fraction or random.random
        self._services: dict[str, ServiceRuntime] = {}
        self._lock = threading.Lock()
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._wakeup = threading.Event()
        self._changed = threading.Condition()
        self._passes = 0
        self._stopping = False
        self._poll_now = True
        self._thread: threading.Thread | None = None
        self._watcher = None
        self._probes = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stackflow-probe")
        self._stops = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stackflow-stop")
        self._rotator = LogRotator()
        self._next_heartbeat = 0.0
        self._next_rotate = 0.0

    # ------------------------------------------------------------------ public API

    def start(self) -> None:
        """Start the loop thread (idempotent); it adopts the replicas recorded in the store."""
        with self._lock:
            if self._thread is not None:
                return
            self._watcher = ExitWatcher()
            self._thread = threading.Thread(
                target=self._run, name=f"stackflow-controller-{self.owner}", daemon=True
            )
            self._thread.start()

    def stop(self, *, kill_replicas: bool = False) -> None:
        """Stop the loop and release the leases.

        Args:
            kill_replicas: Also stop every replica of the supervised services (their records
                are removed); by default they keep running and a later controller adopts them.
        """
        with self._lock:
            thread = self._thread
            self._stopping = True
        self._wakeup.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        services = list(self._services.values())
        if kill_replicas:
            self._kill_all(services)
        for svc in services:
            for runtime in svc.replicas.values():
                if runtime.handle is not None and self._watcher is not None:
                    self._watcher.unwatch(runtime.handle.pid)
            svc.close_balancer()
            self._quietly(self.store.release_service_lease, svc.name, self.owner)
        with self._lock:
            self._services.clear()
        if thread is not None:
            self._quietly(self.store.remove_controller, self.owner)
        self._stops.shutdown(wait=True)
        self._probes.shutdown(wait=True, cancel_futures=True)
        if self._watcher is not None:
            self._watcher.close()
        with self._changed:
            self._changed.notify_all()

    def wake(self) -> None:
        """Read the store and reconcile now (e.g. right after writing a service record)."""
        self._poll_now = True
        self._wakeup.set()

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Start the controller if needed and wait until ``predicate()`` is true.

        ``predicate`` is checked on the caller's thread after every reconcile pass (and at
        least every ``poll_seconds``).

        Returns:
            True when the predicate became true, False when ``timeout`` seconds passed first.
        """
        self.start()
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen = self._passes
            if predicate():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping:
                return False
            with self._changed:
                if self._passes == seen:
                    self._changed.wait(min(remaining, max(self.poll_seconds, 0.05)))

    def supervised(self) -> list[str]:
        """Return the names of the services whose lease this controller holds."""
        with self._lock:
            return sorted(self._services)

    def balancer_address(self, name: str) -> tuple[str, int] | None:
        """Return the (host, port) of the service's load balancer, or None."""
        with self._lock:
            svc = self._services.get(name)
            return None if svc is None else svc.balancer_address()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stopping

    # ------------------------------------------------------------------ loop

    def _run(self) -> None:
        next_poll = 0.0
        while not self._stopping:
            self._wakeup.clear()
            now = self.clock.now()
            try:
                if self._poll_now or now >= next_poll:
                    self._poll_now = False
                    self._poll(now)
                    next_poll = now + min(self.poll_seconds, self.lease_seconds / 3)
                self._drain(self.clock.now())
                now = self.clock.now()
                for svc in list(self._services.values()):
                    if svc.dirty or (svc.wake_at is not None and svc.wake_at <= now):
                        self._reconcile(svc, now)
                self._drain(self.clock.now())
                self._schedule_probes(self.clock.now())
            except StoreError as exc:
                if self._stopping:
                    break
                _log.warning("service controller %s: %s", self.owner, exc)
            except Exception:  # pragma: no cover - defensive: keep supervising
                _log.exception("service controller %s: unexpected error", self.owner)
            with self._changed:
                self._passes += 1
                self._changed.notify_all()
            if self._inbox or any(svc.dirty for svc in self._services.values()):
                continue
            self.clock.sleep_until(self._next_wake(next_poll), self._wakeup)

    def _next_wake(self, next_poll: float) -> float:
        times = [next_poll]
        for svc in self._services.values():
            if svc.wake_at is not None:
                times.append(svc.wake_at)
            for runtime in svc.replicas.values():
                due = runtime.next_probe_due()
                if due is not None:
                    times.append(due)
        return min(times)

    # ------------------------------------------------------------------ store poll

    def _poll(self, now: float) -> None:
        if now >= self._next_heartbeat:
            self.store.heartbeat(self.owner, now, self.lease_seconds)
            self._next_heartbeat = now + self.lease_seconds / 3
        records = {
            record.name: record
            for record in self.store.list_services(include_deleted=True)
            if self.names is None or record.name in self.names
        }
        for name, record in records.items():
            svc = self._services.get(name)
            if svc is None:
                self._try_adopt(record, now)
                continue
            if svc.lease_until - now < self.lease_seconds / 2:
                if not self.store.acquire_service_lease(name, self.owner, self.lease_seconds, now):
                    self._drop(svc, f"lease taken by {self.store.get_service(name).owner}")
                    continue
                svc.lease_until = now + self.lease_seconds
            if record.version != svc.record.version:
                svc.set_record(record)
        for name in [n for n in self._services if n not in records]:
            svc = self._services[name]
            self._emit(name, "service-deleted", "record removed: stopping its replicas")
            self._kill_all([svc])
            svc.close_balancer()
            with self._lock:
                self._services.pop(name, None)
        if now >= self._next_rotate:
            self._next_rotate = now + _ROTATE_EVERY
            for svc in self._services.values():
                svc.rotate_logs(self._rotator)

    def _try_adopt(self, record: ServiceRecord, now: float) -> None:
        expires = record.lease_expires
        if (
            record.owner not in (None, self.owner)
            and expires is not None
            and expires > now
            and not owner_is_dead_local_process(record.owner or "")
        ):
            return
        taken = self.store.acquire_service_lease(
            record.name,
            self.owner,
            self.lease_seconds,
            now,
            break_if=owner_is_dead_local_process,
        )
        if not taken:
            return
        svc = ServiceRuntime(record, lease_until=now + self.lease_seconds)
        with self._lock:
            self._services[record.name] = svc
        if svc.spec_error is not None:
            self._emit(record.name, "error", f"invalid spec: {svc.spec_error}")
        self._emit(record.name, "lease-acquired", f"supervising revision {record.revision}")
        for stored in self.store.list_replicas(record.name):
            runtime = ReplicaRuntime(stored)
            svc.replicas[stored.replica_id] = runtime
            alive = stored.state in ALIVE_STATES or stored.state == "STOPPING"
            if not alive:
                continue
            handle = None
            if stored.pid is not None and stored.start_time is not None:
                handle = ProcessHandle(stored.pid, stored.start_time, stored.pgid or stored.pid)
            if handle is not None and is_same_process(handle):
                runtime.handle = handle
                if svc.spec is not None:
                    runtime.begin(svc.spec, now, adopted_state=stored.state)
                    runtime.env, runtime.cwd = svc.exec_context(stored)
                self._watch(svc.name, runtime)
                self._emit(svc.name, "replica-adopted", f"pid {handle.pid}", runtime)
            else:
                self._write(
                    svc,
                    runtime,
                    state="EXITED",
                    pid=None,
                    ready_since=None,
                    last_exit_code=None,
                    last_exit_at=now,
                    message="exited while unsupervised",
                )
                self._emit(svc.name, "replica-exited", "exited while unsupervised", runtime)
        svc.dirty = True

    def _drop(self, svc: ServiceRuntime, why: str) -> None:
        """Stop supervising ``svc`` (its replicas keep running)."""
        self._emit(svc.name, "lease-lost", why)
        for runtime in svc.replicas.values():
            if runtime.handle is not None and self._watcher is not None:
                self._watcher.unwatch(runtime.handle.pid)
        svc.close_balancer()
        with self._lock:
            self._services.pop(svc.name, None)

    # ------------------------------------------------------------------ events

    def _drain(self, now: float) -> None:
        while self._inbox:
            item = self._inbox.popleft()
            svc = self._services.get(item[1])
            runtime = None if svc is None else svc.replicas.get(item[2])
            if svc is None or runtime is None or runtime.handle is None:
                continue
            if runtime.handle.pid != item[3]:
                continue
            if item[0] == "exit":
                self._on_exit(svc, runtime, item[4], now)
            else:
                runtime.probing = False
                self._on_probe(svc, runtime, item[4], item[5], now)

    def _schedule_probes(self, now: float) -> None:
        for svc in self._services.values():
            for runtime in svc.replicas.values():
                chosen = runtime.next_probe(now)
                if chosen is None:
                    continue
                kind, spec = chosen
                runtime.probing = True
                self._submit_probe(svc.name, runtime, kind, spec)

    def _submit_probe(self, name: str, runtime: ReplicaRuntime, kind: str, spec: ProbeSpec) -> None:
        handle = runtime.handle
        assert handle is not None
        replica_id, port = runtime.record.replica_id, runtime.record.port
        env, cwd = runtime.env or None, runtime.cwd

        def probe() -> None:
            try:
                result = run_probe(spec, host=self.host, port=port, cwd=cwd, env=env)
            except Exception as exc:  # pragma: no cover - run_probe does not raise
                result = ProbeResult(False, f"probe error: {exc}")
            self._inbox.append(("probe", name, replica_id, handle.pid, kind, result))
            self._wakeup.set()

        try:
            self._probes.submit(probe)
        except RuntimeError:  # shutting down
            runtime.probing = False

    # ------------------------------------------------------------------ reconcile

    def _reconcile(self, svc: ServiceRuntime, now: float) -> None:
        svc.dirty = False
        svc.wake_at = None
        if svc.spec is None and not svc.record.deleted:
            return
        self._ensure_balancer(svc)
        views = [
            ReplicaView.from_record(runtime.record, unhealthy=runtime.unhealthy)
            for runtime in svc.replicas.values()
        ]
        try:
            decision = decide(svc.record, views, now, random_fraction=self._random(), spec=svc.spec)
        except ValueError as exc:
            self._emit(svc.name, "error", f"invalid spec: {exc}")
            return
        svc.wake_at = decision.wake_at
        for action in decision.actions:
            if svc.name not in self._services:
                return
            self._apply(svc, action, now)
