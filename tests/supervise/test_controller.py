"""The service controller with real processes (a tiny HTTP server written by the tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from stackflow.store import SQLiteStore
from stackflow.store.services import ReplicaRecord, ServiceRecord, ServiceStore, next_revision
from stackflow.supervise.controller import ControllerEvent, ServiceController

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

SERVER = """
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VERSION", "1")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"version={VERSION} port={os.environ['PORT']}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


print("serving", os.environ["PORT"], flush=True)
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

FAST_BACKOFF = {"InitialDelaySeconds": 0.1, "Factor": 2, "MaxDelaySeconds": 5, "Jitter": 0}
READINESS = {"HttpGet": {"Path": "/health"}, "PeriodSeconds": 0.1, "TimeoutSeconds": 1}


class Harness:
    """A store, the test server script, and controllers that are always stopped."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.script = tmp_path / "server.py"
        self.script.write_text(SERVER)
        self.home = tmp_path / "home"
        self.backend = SQLiteStore(tmp_path / "stackflow.db", durability="normal")
        self.store: ServiceStore = self.backend.services
        self.controllers: list[ServiceController] = []
        self.events: list[ControllerEvent] = []
        self.pids: set[int] = set()

    def spec(self, version: str = "1", **extra: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "Command": [sys.executable, str(self.script)],
            "Environment": {"VERSION": version},
            "Probes": {"Readiness": READINESS},
            "RestartBackoff": FAST_BACKOFF,
            "StopGracePeriodSeconds": 5,
        }
        spec.update(extra)
        return spec

    def add(self, name: str, replicas: int, spec: dict[str, Any]) -> ServiceRecord:
        now = time.time()
        return self.store.put_service(
            ServiceRecord(
                name=name,
                stack_name="test",
                logical_id=name,
                spec=spec,
                revision=1,
                replicas=replicas,
                base_dir=str(self.tmp_path),
                created_at=now,
                updated_at=now,
            )
        )

    def controller(self, owner: str, **options: Any) -> ServiceController:
        options.setdefault("poll_seconds", 0.2)
        controller = ServiceController(
            self.store, owner=owner, home=self.home, on_event=self.events.append, **options
        )
        self.controllers.append(controller)
        controller.start()
        return controller

    def replicas(self, name: str) -> list[ReplicaRecord]:
        found = self.store.list_replicas(name)
        self.pids.update(r.pid for r in found if r.pid is not None)
        return found

    def ready(self, name: str) -> list[ReplicaRecord]:
        return [r for r in self.replicas(name) if r.state == "READY"]

    def wait(self, controller: ServiceController, predicate: Callable[[], bool]) -> None:
        assert controller.run_until(predicate, 20.0), "condition not met within 20 s"

    def close(self) -> None:
        for controller in self.controllers:
            controller.stop(kill_replicas=True)
        for pid in self.pids:  # safety net: nothing may survive a test
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.backend.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    try:
        yield harness
    finally:
        harness.close()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def get(address: tuple[str, int], path: str = "/") -> str:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}{path}", timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def test_three_replicas_get_ready_and_answer(harness: Harness) -> None:
    harness.add("web", 3, harness.spec())
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("web")) == 3)
    replicas = harness.replicas("web")
    assert [r.slot for r in replicas] == [0, 1, 2]
    for record in replicas:
        assert record.port is not None
        assert get(("127.0.0.1", record.port)) == f"version=1 port={record.port}\n"
        assert record.log_path is not None
        log = Path(record.log_path)
        assert log.parent == harness.home / "services" / "web"
        assert log.name == f"{record.slot}-{record.replica_id}.log"
    harness.wait(
        controller, lambda: harness.store.get_service("web").rollout.get("status") == "COMPLETE"
    )
    assert controller.supervised() == ["web"]
    assert harness.store.live_controllers(time.time()) == ["c1"]


def test_fixed_port_gives_each_slot_its_port(harness: Harness, tmp_path: Path) -> None:
    with contextlib.closing(__import__("socket").socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    if base > 65000:
        base = 40000 + base % 20000
    harness.add("fixed", 2, harness.spec(Port=base))
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("fixed")) == 2)
    assert [r.port for r in harness.replicas("fixed")] == [base, base + 1]
    assert get(("127.0.0.1", base + 1)) == f"version=1 port={base + 1}\n"


def test_killed_replica_is_replaced_and_ready_again(harness: Harness) -> None:
    harness.add("web", 3, harness.spec())
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("web")) == 3)
    victim = harness.replicas("web")[1]
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)

    def replaced() -> bool:
        slot = [r for r in harness.replicas("web") if r.slot == 1]
        return len(slot) == 1 and slot[0].state == "READY" and slot[0].pid != victim.pid

    harness.wait(controller, replaced)
    record = next(r for r in harness.replicas("web") if r.slot == 1)
    assert record.restarts == 1 and record.last_exit_code == -signal.SIGKILL
    assert record.replica_id == victim.replica_id and record.port == victim.port
    assert len(harness.ready("web")) == 3
    assert not alive(victim.pid)


def test_crash_loop_backs_off_with_growing_delays(harness: Harness) -> None:
    crash = [sys.executable, "-c", "import sys; print('boom', flush=True); sys.exit(3)"]
    spec = {
        "Command": crash,
        "RestartBackoff": {**FAST_BACKOFF, "ResetAfterSeconds": 30},
    }
    harness.add("crash", 1, spec)
    controller = harness.controller("c1")

    def restarted(count: int) -> Callable[[], bool]:
        return lambda: sum(e.kind == "replica-restarted" for e in harness.events) >= count

    harness.wait(controller, restarted(4))
    exits = [e.time for e in harness.events if e.kind == "replica-exited"]
    restarts = [e.time for e in harness.events if e.kind == "replica-restarted"]
    gaps = [start - stop for stop, start in zip(exits, restarts, strict=False)][:4]
    for gap, expected in zip(gaps, [0.1, 0.2, 0.4, 0.8], strict=True):
        assert gap >= expected * 0.9
    assert gaps == sorted(gaps)
    backoffs = [e.message for e in harness.events if e.kind == "replica-backoff"]
    assert backoffs[0].startswith("restarting in 0.10s (1 quick failures")
    assert backoffs[2].startswith("restarting in 0.40s (3 quick failures")
    (record,) = harness.replicas("crash")
    assert record.last_exit_code == 3 and record.failures >= 4 and record.restarts >= 4
    assert record.log_path is not None and "boom" in Path(record.log_path).read_text()


def test_never_policy_leaves_an_exited_replica(harness: Harness) -> None:
    spec = {"Command": [sys.executable, "-c", "raise SystemExit(5)"], "RestartPolicy": "Never"}
    harness.add("once", 1, spec)
    controller = harness.controller("c1")
    harness.wait(controller, lambda: [r.state for r in harness.replicas("once")] == ["EXITED"])
    (record,) = harness.replicas("once")
    assert record.last_exit_code == 5 and record.restarts == 0


def test_new_controller_adopts_running_replicas_without_duplicates(harness: Harness) -> None:
    harness.add("web", 2, harness.spec())
    first = harness.controller("c1")
    harness.wait(first, lambda: len(harness.ready("web")) == 2)
    before = {r.replica_id: r.pid for r in harness.replicas("web")}
    first.stop()  # replicas keep running
    assert all(pid is not None and alive(pid) for pid in before.values())
    assert harness.store.get_service("web").owner is None
    assert harness.store.live_controllers(time.time()) == []

    second = harness.controller("c2")
    harness.wait(second, lambda: second.supervised() == ["web"])
    harness.wait(second, lambda: len(harness.ready("web")) == 2)
    after = {r.replica_id: r.pid for r in harness.replicas("web")}
    assert after == before
    adopted = [e for e in harness.events if e.kind == "replica-adopted"]
    assert len(adopted) == 2
    assert not [e for e in harness.events[-len(adopted) - 2 :] if e.kind == "replica-started"]
    # Supervision works on adopted replicas (not our children any more in real life).
    victim = next(iter(before.values()))
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    harness.wait(
        second,
        lambda: (
            len(harness.ready("web")) == 2 and victim not in {r.pid for r in harness.ready("web")}
        ),
    )


def test_dead_replicas_are_not_adopted(harness: Harness) -> None:
    harness.add("web", 1, harness.spec())
    first = harness.controller("c1")
    harness.wait(first, lambda: len(harness.ready("web")) == 1)
    (old,) = harness.replicas("web")
    first.stop()
    assert old.pid is not None
    os.killpg(old.pid, signal.SIGKILL)
    psutil.Process(old.pid).wait(5)

    second = harness.controller("c2")
    harness.wait(
        second,
        lambda: [(r.state, r.pid != old.pid) for r in harness.replicas("web")] == [("READY", True)],
    )
    assert any(e.message == "exited while unsupervised" for e in harness.events)


def test_a_held_lease_keeps_a_second_controller_away(harness: Harness) -> None:
    harness.add("web", 1, harness.spec())
    first = harness.controller("c1", lease_seconds=30)
    harness.wait(first, lambda: len(harness.ready("web")) == 1)
    second = harness.controller("c2", lease_seconds=30)
    passes = 0

    def polled_a_few_times() -> bool:
        nonlocal passes
        passes += 1
        return passes > 5

    second.run_until(polled_a_few_times, 5.0)
    assert second.supervised() == []
    assert len(harness.replicas("web")) == 1


def test_stop_with_kill_replicas_leaves_no_process(harness: Harness) -> None:
    harness.add("web", 3, harness.spec())
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("web")) == 3)
    pids = [r.pid for r in harness.replicas("web")]
    controller.stop(kill_replicas=True)
    assert not [pid for pid in pids if pid is not None and alive(pid)]
    assert harness.store.list_replicas("web") == []


def test_deleting_the_service_stops_everything_and_removes_it(harness: Harness) -> None:
    harness.add("web", 2, harness.spec(LoadBalancer={}))
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("web")) == 2)
    pids = [r.pid for r in harness.replicas("web")]
    harness.store.update_service("web", deleted=True)
    controller.wake()
    harness.wait(controller, lambda: harness.store.find_service("web") is None)
    assert not [pid for pid in pids if pid is not None and alive(pid)]
    assert harness.store.list_replicas("web") == []
    assert controller.balancer_address("web") is None


def test_scale_up_and_down(harness: Harness) -> None:
    harness.add("web", 1, harness.spec())
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("web")) == 1)
    harness.store.update_service("web", replicas=3)
    controller.wake()
    harness.wait(controller, lambda: len(harness.ready("web")) == 3)
    top = [r.pid for r in harness.replicas("web") if r.slot >= 1]
    harness.store.update_service("web", replicas=1)
    controller.wake()
    harness.wait(controller, lambda: [r.slot for r in harness.replicas("web")] == [0])
    assert not [pid for pid in top if pid is not None and alive(pid)]


def test_rolling_update_through_the_balancer_loses_no_request(harness: Harness) -> None:
    harness.add("web", 2, harness.spec(LoadBalancer={}))
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("web")) == 2)
    address = controller.balancer_address("web")
    assert address is not None
    assert harness.store.get_service("web").load_balancer == f"{address[0]}:{address[1]}"
    failures: list[str] = []
    versions: set[str] = set()
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                versions.add(get(address).split()[0])
            except OSError as exc:
                failures.append(repr(exc))

    thread = threading.Thread(target=client)
    thread.start()
    try:
        record = harness.store.get_service("web")
        harness.store.put_service(
            replace(
                record,
                spec=harness.spec("2", LoadBalancer={}),
                revision=next_revision(record),
                previous_spec=record.spec,
                previous_revision=record.revision,
            )
        )
        controller.wake()

        def rolled_out() -> bool:
            rollout = harness.store.get_service("web").rollout
            return rollout.get("revision") == 2 and rollout.get("status") == "COMPLETE"

        harness.wait(controller, rolled_out)
        harness.wait(controller, lambda: "version=2" in versions)
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert versions == {"version=1", "version=2"}
    assert [(r.slot, r.revision) for r in harness.replicas("web")] == [(0, 2), (1, 2)]


def test_a_revision_that_never_gets_ready_is_rolled_back(harness: Harness) -> None:
    policy = {"ProgressDeadlineSeconds": 1.5}
    harness.add("web", 2, harness.spec(UpdatePolicy=policy))
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("web")) == 2)
    pids = sorted(r.pid or 0 for r in harness.replicas("web"))
    record = harness.store.get_service("web")
    broken = harness.spec("2", UpdatePolicy=policy)
    broken["Command"] = [sys.executable, "-c", "raise SystemExit(7)"]
    harness.store.put_service(
        replace(
            record,
            spec=broken,
            revision=next_revision(record),
            previous_spec=record.spec,
            previous_revision=record.revision,
        )
    )
    controller.wake()
    harness.wait(
        controller,
        lambda: harness.store.get_service("web").rollout.get("status") == "ROLLED_BACK",
    )
    rolled = harness.store.get_service("web")
    assert rolled.revision == 1 and rolled.previous_revision == 2
    assert "last exit code 7" in rolled.rollout["message"]
    harness.wait(controller, lambda: len(harness.replicas("web")) == 2)
    assert sorted(r.pid or 0 for r in harness.replicas("web")) == pids
    assert next_revision(rolled) == 3


def test_failing_liveness_probe_restarts_the_replica(harness: Harness, tmp_path: Path) -> None:
    healthy = tmp_path / "healthy"
    healthy.write_text("ok")
    liveness = {
        "Exec": {"Command": ["test", "-e", str(healthy)]},
        "PeriodSeconds": 0.1,
        "FailureThreshold": 2,
    }
    harness.add("live", 1, harness.spec(Probes={"Readiness": READINESS, "Liveness": liveness}))
    controller = harness.controller("c1")
    harness.wait(controller, lambda: len(harness.ready("live")) == 1)
    (before,) = harness.replicas("live")
    healthy.unlink()
    harness.wait(controller, lambda: any(e.kind == "replica-unhealthy" for e in harness.events))
    healthy.write_text("ok")

    def restarted() -> bool:
        found = harness.ready("live")
        return len(found) == 1 and found[0].pid != before.pid

    harness.wait(controller, restarted)
    (after,) = harness.replicas("live")
    assert after.restarts == 1 and after.replica_id == before.replica_id
    assert after.last_exit_code == -signal.SIGTERM
    unhealthy = next(e for e in harness.events if e.kind == "replica-unhealthy")
    assert unhealthy.message.startswith("liveness probe failed")
