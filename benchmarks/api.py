"""The HTTP API and the scheduler: StartExecution requests per second, schedule start delay.

Run from the repository root (not part of CI; ``--quick`` is its smoke test)::

    .venv/bin/python benchmarks/api.py            # full sizes (about two minutes)
    .venv/bin/python benchmarks/api.py --quick    # small sizes, about 15 seconds
    .venv/bin/python benchmarks/api.py --json

A real ``stackflow server`` runs in a subprocess on a temporary home (SQLite, the default
durability), bound to a free loopback port (no token needed).

* ``start``: ``POST /api/v1/executions`` of a deployed one-``Pass`` workflow, ``--requests``
  requests spread over 1 and 8 concurrent clients (threads, each with its own keep-alive
  ``httpx2`` connection); requests per second over the whole run and the latency of each request
  (p50, p99, max). Every request is a new execution, which the same server then runs: the figures
  include the runtime's work competing for the store. ``drain`` is how long after the last
  request the last of those executions finished.
* ``schedule``: ``--schedules`` ``Stackflow::Schedule`` resources (``rate(1 minute)``, each with
  a ``StartDate`` a few seconds ahead, staggered) applied in a stack through the API; for each of
  their first ``--fires`` fire times, the delay from the fire time to the execution's
  ``ExecutionStarted`` event. The first fire time is far enough ahead for the scheduler to have
  read the new schedule (it looks at the store every 5 seconds) and to sleep until it is due.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(_ROOT / "src"))

import httpx2  # noqa: E402

from stackflow.scheduler.schedule import execution_name  # noqa: E402

T = TypeVar("T")

WORKFLOW = "bench-pass"
STACK = "bench-schedules"
#: Seconds between a schedule's creation and its first fire time: more than the scheduler's
#: poll interval (5 s), so it has read the schedule and sleeps until the fire time.
FIRST_FIRE_LEAD = 7
#: Seconds between the first fire times of two schedules.
STAGGER = 2
PASS_DEFINITION: dict[str, Any] = {
    "StartAt": "Pass",
    "States": {"Pass": {"Type": "Pass", "End": True}},
}


def free_port() -> int:
    """Return a TCP port that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def percentile(values: list[float], fraction: float) -> float:
    """Return the ``fraction`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class Server:
    """A ``stackflow server`` subprocess on a temporary home and a free loopback port."""

    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "home"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(_ROOT / "src"))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stackflow.cli.main",
                "--home",
                str(self.home),
                "server",
                "--port",
                str(self.port),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp,
            start_new_session=True,
        )
        self.client = httpx2.Client(base_url=f"{self.url}/api/v1", timeout=30)
        wait_for("the server's API", self._healthy, 60)

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the server exited ({self.process.returncode}): "
                + self.log_path.read_text(errors="replace")[-2000:]
            )
        try:
            return self.client.get("/health").status_code == 200
        except httpx2.HTTPError:
            return False

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; return the JSON answer, raising on an error status."""
        answer = self.client.request(method, path, **kwargs)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json()

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s)."""
        self.client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        self.log.close()


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    """Yield a :class:`Server` in a temporary directory, stopped and removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            yield server
        finally:
            server.close()


def measure_start(server: Server, requests: int, clients: int) -> dict[str, Any]:
    """Send ``requests`` StartExecution requests over ``clients`` concurrent connections."""
    per_client = [
        requests // clients + (1 if i < requests % clients else 0) for i in range(clients)
    ]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    ready = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        with httpx2.Client(base_url=f"{server.url}/api/v1", timeout=60) as http:
            http.get("/health")  # connect before the clock starts
            ready.wait()
            for i in range(per_client[index]):
                body = {"workflow": WORKFLOW, "input": {"client": index, "i": i}}
                sent = time.perf_counter()
                answer = http.post("/executions", json=body)
                latencies[index].append(time.perf_counter() - sent)
                if answer.status_code != 201:
                    errors.append(f"{answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {requests} starts failed, e.g. {errors[0]}")
    drain_started = time.perf_counter()
    wait_for(
        "the started executions to finish",
        lambda: not server.call("GET", "/executions", params={"status": "RUNNING", "limit": 1}),
        300,
    )
    flat = [value for values in latencies for value in values]
    return {
        "clients": clients,
        "requests": requests,
        "seconds": seconds,
        "requests_per_second": requests / seconds,
        "p50_ms": percentile(flat, 0.50) * 1000,
        "p99_ms": percentile(flat, 0.99) * 1000,
        "max_ms": max(flat) * 1000,
        "drain_seconds": time.perf_counter() - drain_started,
    }


def schedule_template(starts: list[datetime]) -> str:
    """Return a stack template (JSON text) with one rate(1 minute) schedule per start date."""
    resources = {
        f"Every{i}": {
            "Type": "Stackflow::Schedule",
            "Properties": {
                "Name": f"bench-every-{i}",
                "ScheduleExpression": "rate(1 minute)",
                "StartDate": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Target": {"Arn": WORKFLOW, "Input": json.dumps({"schedule": i})},
            },
        }
        for i, start in enumerate(starts)
    }
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def measure_schedule(server: Server, schedules: int, fires: int) -> dict[str, Any]:
    """Delay from each fire time to ExecutionStarted, for ``fires`` fires of each schedule."""
    first = datetime.fromtimestamp(math.ceil(time.time()) + FIRST_FIRE_LEAD, UTC)
    starts = [first + timedelta(seconds=STAGGER * i) for i in range(schedules)]
    result = server.call(
        "POST", f"/stacks/{STACK}/apply", json={"template": schedule_template(starts)}
    )
    if result.get("StackStatus") != "CREATE_COMPLETE":
        raise RuntimeError(f"the schedule stack failed: {json.dumps(result)[:500]}")
    expected = {
        execution_name(f"bench-every-{i}", start + timedelta(minutes=k)): (
            start + timedelta(minutes=k)
        ).timestamp()
        for i, start in enumerate(starts)
        for k in range(fires)
    }
    last_due = max(expected.values())

    def all_started() -> dict[str, str] | None:
        listed = server.call("GET", "/executions", params={"workflow": WORKFLOW, "limit": 1000})
        found = {r["name"]: r["execution"] for r in listed if r["name"] in expected}
        return found if len(found) == len(expected) else None

    found = wait_for("the scheduled executions", all_started, last_due - time.time() + 60)
    delays: list[float] = []
    for name, execution in sorted(found.items()):
        history = server.call("GET", f"/executions/{execution}/history")
        started = next(e for e in history if e["type"] == "ExecutionStarted")
        delays.append(float(started["timestamp"]) - expected[name])
    return {
        "schedules": schedules,
        "fires": len(delays),
        "delay_median_ms": statistics.median(delays) * 1000,
        "delay_min_ms": min(delays) * 1000,
        "delay_max_ms": max(delays) * 1000,
        "delays_ms": [round(d * 1000, 1) for d in delays],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the smoke test)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--requests", type=int, help="StartExecution requests per client count")
    parser.add_argument(
        "--clients", default="1,8", help="comma-separated client counts (default 1,8)"
    )
    parser.add_argument("--schedules", type=int, help="schedules (default 5; --quick 1)")
    parser.add_argument("--fires", type=int, help="fire times per schedule (default 2; --quick 1)")
    args = parser.parse_args(argv)
    requests = args.requests or (200 if args.quick else 2000)
    schedules = args.schedules or (1 if args.quick else 5)
    fires = args.fires or (1 if args.quick else 2)
    clients = [int(c) for c in args.clients.split(",") if c.strip()]

    report: dict[str, Any] = {
        "quick": args.quick,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    with running_server() as server:
        server.call("POST", "/workflows", json={"name": WORKFLOW, "definition": PASS_DEFINITION})
        report["start"] = [measure_start(server, requests, n) for n in clients]
        report["schedule"] = measure_schedule(server, schedules, fires)

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"stackflow server, Python {report['python']}, {report['cpus']} CPUs")
    print("StartExecution (POST /api/v1/executions, one-Pass workflow):")
    for row in report["start"]:
        print(
            f"  {row['clients']} client(s): {row['requests']} requests in {row['seconds']:.2f} s"
            f" = {row['requests_per_second']:.0f} req/s; latency p50 {row['p50_ms']:.1f} ms,"
            f" p99 {row['p99_ms']:.1f} ms, max {row['max_ms']:.1f} ms;"
            f" executions drained {row['drain_seconds']:.2f} s after the last request"
        )
    sched = report["schedule"]
    print(
        f"Schedule due time -> ExecutionStarted ({sched['schedules']} rate(1 minute) schedules,"
        f" {sched['fires']} fires): median {sched['delay_median_ms']:.1f} ms,"
        f" min {sched['delay_min_ms']:.1f} ms, max {sched['delay_max_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
