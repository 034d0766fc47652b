"""End-to-end tests of services: real ``stackflow`` processes, real replicas, real ports.

Every test applies a template with a ``Local::Service`` running ``service_app.py`` (a small HTTP
server) through ``stackflow stack apply`` in a subprocess, with ``stackflow server`` as another
subprocess where supervision must outlive the apply. Each replica carries a marker argument unique
to the test, so the test can find (with psutil) every process it caused and check none is left;
whatever remains is killed at the end. Waits poll with deadlines.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

APP = Path(__file__).with_name("service_app.py")
SCRIPT = Path(sys.executable).parent / "stackflow"
STACK = "e2e"
SERVICE = f"{STACK}-Web"
NO_SERVER = "no stackflow server is running"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Return probe()'s first truthy value, polling until ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@dataclass
class Env:
    """One test's home, marker and processes."""

    tmp: Path
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.tmp / "home"

    def sf(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the stackflow CLI on this test's home."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return subprocess.run(
            [str(SCRIPT), "--home", str(self.home), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def apply(self, template: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
        path = self.tmp / "service.json"
        path.write_text(json.dumps(template, indent=2))
        return self.sf("stack", "apply", str(path), "--stack", STACK, "--yes", *extra)

    def start_server(self) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"server-{len(self.servers)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [str(SCRIPT), "--home", str(self.home), "server", "--port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.servers.append(process)
        # Its controller heartbeats before it says so: an apply after this sees a live server.
        log_path = self.tmp / f"server-{len(self.servers) - 1}.log"
        wait_for("the server to start", lambda: b" started on " in log_path.read_bytes())
        return process

    def status(self) -> dict[str, Any]:
        result = self.sf("service", "status", SERVICE, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def ready(self, count: int, version: str | None = None) -> dict[str, Any] | None:
        """The status once exactly ``count`` replicas run, all READY (and serving ``version``)."""
        data = self.status()
        alive = [r for r in data["replica_records"] if r["pid"] is not None]
        if len(alive) != count or any(r["state"] != "READY" for r in alive):
            return None
        if version is not None:
            for replica in alive:
                if f"version={version} " not in http_get(replica["port"])[1]:
                    return None
        return data

    def marked(self) -> list[psutil.Process]:
        """Every live process whose command line carries this test's marker."""
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            cmdline = process.info.get("cmdline") or []
            if self.marker in cmdline and process.info.get("status") != psutil.STATUS_ZOMBIE:
                found.append(process)
        return found

    def server_log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("server-*")))

    def cleanup(self) -> None:
        for process in self.servers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        for process in self.marked():
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    if not SCRIPT.exists():
        pytest.skip("the stackflow console script is not installed in this environment")
    environment = Env(tmp_path)
    try:
        yield environment
    finally:
        environment.cleanup()


def template(
    marker: str,
    *,
    version: str = "1",
    replicas: int = 3,
    flags: tuple[str, ...] = (),
    lb_port: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A stack with one Local::Service running service_app.py."""
    props: dict[str, Any] = {
        "Command": [sys.executable, str(APP), "--marker", marker, "--version", version, *flags],
        "Replicas": replicas,
        "StopGracePeriodSeconds": 3,
        "Probes": {
            "Readiness": {
                "httpGet": {"path": "/health"},
                "periodSeconds": 0.2,
                "timeoutSeconds": 1,
                "failureThreshold": 2,
            }
        },
        "UpdatePolicy": {"MaxSurge": 1, "MaxUnavailable": 0, "ProgressDeadlineSeconds": 3},
        "ReadyTimeoutSeconds": 30,
        **extra,
    }
    if lb_port is not None:
        props["LoadBalancer"] = {"Port": lb_port}
    return {
        "Resources": {"Web": {"Type": "Local::Service", "Properties": props}},
        "Outputs": {
            "Ports": {"Value": {"Fn::Join": [",", {"Fn::GetAtt": ["Web", "Ports"]}]}},
            "Count": {"Value": {"Fn::GetAtt": ["Web", "Replicas"]}},
        },
    }


def pids(data: dict[str, Any]) -> set[int]:
    return {r["pid"] for r in data["replica_records"] if r["pid"] is not None}


def test_replicas_ready_replaced_adopted_and_deleted(env: Env) -> None:
    """3 replicas get ready (no server: supervised by the apply itself), a server adopts them,
    a SIGKILLed replica is replaced, a SIGKILLed server's successor adopts them without
    duplicates, and ``stack delete`` leaves no process behind."""
    result = env.apply(template(env.marker))
    assert result.returncode == 0, result.stderr
    assert NO_SERVER in result.stdout + result.stderr
    first = wait_for("3 ready replicas", lambda: env.ready(3, "1"))
    ports = [r["port"] for r in sorted(first["replica_records"], key=lambda r: r["slot"])]
    assert f"Ports = {','.join(map(str, ports))}" in result.stdout + result.stderr
    original = pids(first)
    assert len(env.marked()) == 3  # the apply exited; its replicas keep running

    # A server adopts them: same processes, now supervised.
    env.start_server()
    adopted = wait_for("the server's lease", lambda: (s := env.status())["owner"] and s)
    assert pids(adopted) == original
    # SIGKILL one replica: the server sees the exit at once and replaces it.
    victim = sorted(original)[0]
    os.kill(victim, signal.SIGKILL)
    replaced = wait_for(
        "the killed replica's replacement",
        lambda: (s := env.ready(3, "1")) and victim not in pids(s) and s,
    )
    restarted = [r for r in replaced["replica_records"] if r["pid"] not in original]
    assert len(restarted) == 1
    assert restarted[0]["restarts"] == 1
    # An adopted process is not the server's child: its exit code may be unknown.
    assert restarted[0]["last_exit_code"] in (None, -signal.SIGKILL)
    assert restarted[0]["last_exit_at"] is not None
    survivors = pids(replaced)

    # SIGKILL the server: the replicas keep running; the next server adopts them (same pids).
    old_server = env.servers[-1]
    old_owner = replaced["owner"]
    os.kill(old_server.pid, signal.SIGKILL)
    old_server.wait(timeout=10)
    assert {p.pid for p in env.marked()} == survivors
    env.start_server()
    readopted = wait_for(
        "adoption by the new server",
        lambda: (s := env.ready(3, "1")) and s["owner"] not in (None, old_owner) and s,
        timeout=25,
    )
    assert pids(readopted) == survivors
    assert {p.pid for p in env.marked()} == survivors  # no duplicates were started

    # stack delete stops everything.
    result = env.sf("stack", "delete", STACK, "--yes")
    assert result.returncode == 0, result.stderr
    assert env.marked() == []
    listing = env.sf("service", "list", "--json")
    assert json.loads(listing.stdout) == []


def test_crash_loop_backs_off_as_configured_and_is_reported(env: Env) -> None:
    """A command that exits at once is restarted after 0.3, 0.6, 1.2, 1.2... seconds."""
    env.start_server()
    backoff = {"InitialDelaySeconds": 0.3, "Factor": 2, "MaxDelaySeconds": 1.2, "Jitter": 0}
    result = env.apply(
        template(
            env.marker,
            replicas=1,
            flags=("--crash",),
            RestartBackoff=backoff,
            ReadyTimeoutSeconds=3,
        ),
        "--no-rollback",
    )
    assert result.returncode == 1, result.stdout
    assert "exited with code 3" in result.stderr
    delays: dict[int, float] = {}

    def enough_backoffs() -> bool:
        (replica,) = env.status()["replica_records"]
        if replica["state"] == "BACKOFF":
            delays[replica["failures"]] = replica["next_start_at"] - replica["last_exit_at"]
        return len(delays) >= 3 and max(delays) >= 4

    wait_for("several backoffs", enough_backoffs, timeout=20)
    for failures, delay in delays.items():
        expected = min(0.3 * 2 ** (failures - 1), 1.2)
        assert delay == pytest.approx(expected, abs=0.02), delays
    data = env.status()
    (replica,) = data["replica_records"]
    assert replica["restarts"] >= 3
    assert replica["last_exit_code"] == 3
    assert data["ready"] == 0
    text = env.sf("service", "status", SERVICE).stdout
    assert "BACKOFF" in text or "STARTING" in text or "RUNNING" in text
    assert "crashing at start" in env.sf("service", "logs", SERVICE, "-n", "3").stdout
    # `logs -f` prints the lines of the next crashes as they are written.
    follower = subprocess.Popen(
        [str(SCRIPT), "--home", str(env.home), "service", "logs", SERVICE, "-f", "-n", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert follower.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(follower.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=15), "no line followed within 15 s"
        assert b"crashing at start" in follower.stdout.readline()
    finally:
        os.killpg(follower.pid, signal.SIGKILL)
        follower.wait(timeout=10)


class Load:
    """A steady stream of requests through the load balancer, each on a new connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ok = 0
        self.failures: list[str] = []
        self.versions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = http_get(self.port)
            except OSError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            else:
                if status == 200:
                    self.ok += 1
                    self.versions.append(body.split()[0])
                else:
                    self.failures.append(f"HTTP {status}")
            self._stop.wait(0.005)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_rolling_update_loses_no_request_and_bad_version_rolls_back(env: Env) -> None:
    """v1 -> v2 under load through the load balancer: no request fails. Then a v3 that never
    gets ready: the apply fails with the probe's output and the service keeps serving v2."""
    env.start_server()
    lb_port = free_port()
    result = env.apply(template(env.marker, lb_port=lb_port))
    assert result.returncode == 0, result.stderr
    wait_for("v1 ready", lambda: env.ready(3, "1"))
    with Load(lb_port) as load:
        wait_for("requests flowing", lambda: load.ok >= 20)
        result = env.apply(template(env.marker, version="2", lb_port=lb_port))
        assert result.returncode == 0, result.stderr
        wait_for("v2 answers", lambda: load.versions[-20:].count("version=2") == 20)
    assert load.failures == []
    assert {"version=1", "version=2"} <= set(load.versions)
    data = wait_for("v2 ready", lambda: env.ready(3, "2"))
    assert data["revision"] == 2
    assert data["rollout"]["status"] == "COMPLETE"

    with Load(lb_port) as load:
        result = env.apply(
            template(env.marker, version="3", lb_port=lb_port, flags=("--never-ready",))
        )
    assert result.returncode == 1, result.stdout
    assert "not ready: warming up forever" in result.stderr
    assert "rolled back to revision 2" in result.stderr
    assert load.failures == []
    assert set(load.versions) == {"version=2"}
    data = wait_for("v2 serving again", lambda: env.ready(3, "2"))
    assert data["revision"] == 2
    assert data["rollout"]["status"] == "ROLLED_BACK"
    assert http_get(lb_port)[1].startswith("version=2 ")
