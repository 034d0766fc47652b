"""Services: restart latency, rolling updates under load, and the reconcile loop's idle CPU use.

Run from the repository root (not part of CI; ``--quick`` is its smoke test)::

    .venv/bin/python benchmarks/services.py            # full sizes (about a minute)
    .venv/bin/python benchmarks/services.py --quick    # small sizes, seconds
    .venv/bin/python benchmarks/services.py --json

A real ``stackflow server`` runs in a subprocess on a temporary home; stacks are applied in this
process (the provider sees the server and only waits). Replicas run ``tests/integration/
service_app.py``, a small HTTP server, with an HTTP readiness probe on ``/health``.

* ``restart``: a replica is SIGKILLed; the figures are the time until its replacement process
  started (``started_at`` recorded by the controller) and until it was READY (``ready_since``),
  median and max over several kills. The readiness probe runs every 0.1 s, and
  ``RestartBackoff.InitialDelaySeconds`` is 0 (by default a replica that dies within
  ``ResetAfterSeconds`` of its start waits 1 s, then 2 s, ... before it is restarted).
* ``rolling``: a rolling update of 5 replicas from v1 to v2 (MaxSurge 1, MaxUnavailable 0) while
  a client sends requests through the service's load balancer, each on a new connection: the
  apply's duration, the rollout's (from the controller's record) and the failed requests.
* ``cpu``: CPU time used by the server process (psutil ``cpu_times``, user + system) over a
  window while 50 replicas are idle (readiness probe every 10 s, Kubernetes' default).
* ``supervisord``: the same kill -> new process time under supervisord (which looks at its
  children once a second), when ``supervisord`` is on the PATH; "skipped" otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(_ROOT / "src"))

import psutil  # noqa: E402

from stackflow.engine import Engine  # noqa: E402
from stackflow.store.services import ReplicaRecord  # noqa: E402

APP = _ROOT / "tests" / "integration" / "service_app.py"
STACK = "bench"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Return ``probe()``'s first truthy value, polling every 10 ms until ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.01)
    raise TimeoutError(f"timed out waiting for {what}")


def free_port() -> int:
    """Return a TCP port that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_template(
    name: str,
    *,
    replicas: int,
    version: str = "1",
    period: float = 0.1,
    lb_port: int | None = None,
    marker: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Return a template with one Local::Service named ``name`` running the test app."""
    props: dict[str, Any] = {
        "Command": [sys.executable, str(APP), "--version", version, "--marker", marker],
        "Replicas": replicas,
        "StopGracePeriodSeconds": 5,
        "Probes": {"Readiness": {"httpGet": {"path": "/health"}, "periodSeconds": period}},
        "UpdatePolicy": {"MaxSurge": 1, "MaxUnavailable": 0},
        "ReadyTimeoutSeconds": 120,
        **extra,
    }
    if lb_port is not None:
        props["LoadBalancer"] = {"Port": lb_port}
    return {"Resources": {name: {"Type": "Local::Service", "Properties": props}}}


class Bench:
    """A temporary home with a ``stackflow server`` subprocess."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        self.marker = uuid.uuid4().hex
        self.engine = Engine.open(self.home)
        env = dict(os.environ, PYTHONPATH=str(_ROOT / "src"))
        self.log = open(tmp / "server.log", "wb")  # noqa: SIM115
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stackflow.cli.main",
                "--home",
                str(self.home),
                "server",
                "--no-api",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        store = self.engine.store.services
        wait_for("the server's heartbeat", lambda: store.live_controllers(time.time()), 30)

    def apply(self, template: dict[str, Any]) -> tuple[str, float]:
        """Apply ``template`` to the bench stack; return its status and duration."""
        path = self.tmp / "template.json"
        path.write_text(json.dumps(template))
        started = time.perf_counter()
        result = self.engine.stacks.apply(path, STACK)
        seconds = time.perf_counter() - started
        if not result.ok:
            raise RuntimeError(f"apply failed: {result.status} {result.status_reason}")
        return result.status, seconds

    def replicas(self, name: str) -> list[ReplicaRecord]:
        """The replica records of service ``name``."""
        return self.engine.store.services.list_replicas(f"{STACK}-{name}")

    def close(self) -> None:
        """Delete the stack, stop the server and kill whatever is left."""
        with contextlib.suppress(Exception):
            self.engine.stacks.delete(STACK)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.server.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)
        self.log.close()
        self.engine.close()
        for process in psutil.process_iter(["cmdline"]):
            if self.marker in (process.info.get("cmdline") or []):
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()


@contextlib.contextmanager
def bench() -> Iterator[Bench]:
    """Yield a :class:`Bench` in a temporary directory, cleaned up afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        running = Bench(Path(tmp))
        try:
            yield running
        finally:
            running.close()


def measure_restart(b: Bench, kills: int) -> dict[str, Any]:
    """SIGKILL a replica ``kills`` times; time until it is replaced and until it is ready."""
    # No backoff: a replica killed soon after it started would otherwise wait InitialDelaySeconds.
    no_backoff = {"InitialDelaySeconds": 0}
    b.apply(service_template("Restart", replicas=3, marker=b.marker, RestartBackoff=no_backoff))
    respawn: list[float] = []
    ready: list[float] = []
    for round_ in range(kills):
        victim = b.replicas("Restart")[round_ % 3]
        assert victim.pid is not None
        killed_at = time.time()
        os.kill(victim.pid, signal.SIGKILL)

        def replaced(slot: int = victim.slot, pid: int = victim.pid) -> ReplicaRecord | None:
            for replica in b.replicas("Restart"):
                if (
                    replica.slot == slot
                    and replica.pid not in (None, pid)
                    and replica.state == "READY"
                ):
                    return replica
            return None

        new = wait_for("the replacement", replaced, 30)
        respawn.append((new.started_at or killed_at) - killed_at)
        ready.append((new.ready_since or killed_at) - killed_at)
    return {
        "kills": kills,
        "respawn_median": statistics.median(respawn),
        "respawn_max": max(respawn),
        "ready_median": statistics.median(ready),
        "ready_max": max(ready),
        "probe_period": 0.1,
    }


class Load:
    """Requests through a port, each on a new connection, until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/", headers={"Connection": "close"})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"HTTP {response.status}")
            except OSError as exc:
                self.failed.append(f"{type(exc).__name__}: {exc}")
            finally:
                connection.close()
            self._stop.wait(0.002)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def measure_rolling(b: Bench, replicas: int) -> dict[str, Any]:
    """Roll ``replicas`` replicas from v1 to v2 under load through the load balancer."""
    port = free_port()
    b.apply(service_template("Rolling", replicas=replicas, lb_port=port, marker=b.marker))
    with Load(port) as load:
        wait_for("requests through the load balancer", lambda: load.ok >= 20, 30)
        before = load.ok
        _status, seconds = b.apply(
            service_template(
                "Rolling", replicas=replicas, version="2", lb_port=port, marker=b.marker
            )
        )
        during = load.ok - before
    record = b.engine.store.services.get_service(f"{STACK}-Rolling")
    rollout = record.rollout
    rollout_seconds = None
    if rollout.get("completed_at") and rollout.get("started_at"):
        rollout_seconds = float(rollout["completed_at"]) - float(rollout["started_at"])
    return {
        "replicas": replicas,
        "apply_seconds": seconds,
        "rollout_seconds": rollout_seconds,
        "requests_ok": during,
        "requests_failed": len(load.failed),
        "failures": load.failed[:5],
    }


def measure_cpu(b: Bench, replicas: int, window: float) -> dict[str, Any]:
    """CPU used by the server process over ``window`` seconds with ``replicas`` idle replicas."""
    b.apply(service_template("Idle", replicas=replicas, period=10.0, marker=b.marker))
    server = psutil.Process(b.server.pid)
    time.sleep(1.0)  # let the start-up work settle
    before = server.cpu_times()
    started = time.perf_counter()
    time.sleep(window)
    after = server.cpu_times()
    elapsed = time.perf_counter() - started
    used = (after.user - before.user) + (after.system - before.system)
    return {
        "replicas": replicas,
        "window_seconds": elapsed,
        "cpu_seconds": used,
        "cpu_percent": used / elapsed * 100,
    }


def measure_supervisord(kills: int) -> dict[str, Any]:
    """Time kill -> new process under supervisord, when it is installed."""
    binary = shutil.which("supervisord")
    if binary is None:
        return {"skipped": "supervisord not on PATH"}
    marker = uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp, "supervisord.conf")
        port = free_port()
        conf.write_text(
            "[supervisord]\n"
            f"logfile={tmp}/supervisord.log\npidfile={tmp}/supervisord.pid\nnodaemon=true\n"
            "[program:app]\n"
            f"command={sys.executable} {APP} --marker {marker}\n"
            f"environment=PORT={port}\nstartsecs=0\nautorestart=true\n"
        )
        daemon = subprocess.Popen(
            [binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:

            def app_pid() -> int | None:
                for process in psutil.process_iter(["cmdline"]):
                    if marker in (process.info.get("cmdline") or []):
                        return process.pid
                return None

            times: list[float] = []
            for _ in range(kills):
                pid = wait_for("supervisord's app", app_pid, 30)
                killed_at = time.time()
                os.kill(pid, signal.SIGKILL)

                def replaced(old: int = pid) -> bool:
                    new = app_pid()
                    return new is not None and new != old

                wait_for("a new app process", replaced, 30)
                times.append(time.time() - killed_at)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)
            for process in psutil.process_iter(["cmdline"]):
                if marker in (process.info.get("cmdline") or []):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        process.kill()
    return {"kills": kills, "respawn_median": statistics.median(times), "respawn_max": max(times)}


def main() -> int:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    kills, rolling, idle, window = (2, 5, 10, 2.0) if args.quick else (10, 5, 50, 10.0)
    figures: dict[str, Any] = {
        "environment": {"python": sys.version.split()[0], "cpus": os.cpu_count()},
        "quick": args.quick,
    }
    with bench() as b:
        figures["restart"] = measure_restart(b, kills)
        figures["rolling"] = measure_rolling(b, rolling)
        figures["cpu"] = measure_cpu(b, idle, window)
    figures["supervisord"] = measure_supervisord(kills)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    r = figures["restart"]
    print(
        f"restart     kill -> new process  median {r['respawn_median'] * 1000:6.0f} ms"
        f"  max {r['respawn_max'] * 1000:6.0f} ms  ({r['kills']} kills, no backoff)"
    )
    print(
        f"restart     kill -> ready        median {r['ready_median'] * 1000:6.0f} ms"
        f"  max {r['ready_max'] * 1000:6.0f} ms  (readiness probe every {r['probe_period']:g} s)"
    )
    roll = figures["rolling"]
    rollout = roll["rollout_seconds"]
    rollout_text = f"{rollout:.2f} s" if rollout is not None else "?"
    print(
        f"rolling     {roll['replicas']} replicas v1 -> v2    apply {roll['apply_seconds']:.2f} s"
        f"  rollout {rollout_text}  requests {roll['requests_ok']} ok,"
        f" {roll['requests_failed']} failed (goal 0)"
    )
    cpu = figures["cpu"]
    print(
        f"cpu         {cpu['replicas']} idle replicas     server"
        f" {cpu['cpu_percent']:.2f}% of a core"
        f" ({cpu['cpu_seconds']:.3f} s CPU in {cpu['window_seconds']:.1f} s)"
    )
    sup = figures["supervisord"]
    if "skipped" in sup:
        print(f"supervisord skipped ({sup['skipped']})")
    else:
        print(
            f"supervisord kill -> new process  median {sup['respawn_median'] * 1000:6.0f} ms"
            f"  max {sup['respawn_max'] * 1000:6.0f} ms  ({sup['kills']} kills)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
