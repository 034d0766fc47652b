"""Durable execution: start rate, worker throughput, failover time, Distributed Map memory.

Run from the repository root (not part of CI; ``--quick`` is its smoke test)::

    .venv/bin/python benchmarks/durable.py            # full sizes (a few minutes)
    .venv/bin/python benchmarks/durable.py --quick    # small sizes, seconds
    .venv/bin/python benchmarks/durable.py --json --only failover
    .venv/bin/python benchmarks/durable.py --only map-memory --profile /tmp/map.prof

Everything runs on SQLite (``durability=full`` unless ``--durability normal``) in a temporary home.

* ``start-rate``: :meth:`Engine.start` calls per second for a one-Pass workflow given as a parsed
  definition (validated on every call), with ``drive=False`` (only recorded, for a worker) and
  with ``drive=True`` (recorded and run in this process; the time until all finished is also
  shown).
* ``worker-throughput``: executions of a chain of Pass states are recorded with ``drive=False``,
  then 1 or 2 ``stackflow worker`` processes are started; transitions (states entered) per second
  from the workers' start to the last execution's end (``wall``, process start-up included) and
  from the first ``ExecutionStarted`` to the last stop time (``engine``).
* ``failover``: executions loop on a one-second Wait, held by worker A while an idle worker B
  runs; A is SIGKILLed and the time until each execution's next history event (written by B) is
  measured. B can claim only once A's lease expired: between 2/3 of a lease (A renews every third)
  and a full lease after the kill, plus B's poll interval.
* ``map-memory``: a Distributed Map (children are executions) over N items read from a JSON Lines
  file, a Pass processor, MaxConcurrency 1000 and a ResultWriter, run in a fresh process; its
  peak RSS (psutil samples every 50 ms when installed, and ``ru_maxrss``) and duration. The full
  run measures 10,000 items first and runs 100,000 only if that projects under 10 minutes, else it
  reports the extrapolation.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(_ROOT / "src"))

from stackflow.engine import Engine  # noqa: E402

SECTIONS = ("start-rate", "worker-throughput", "failover", "map-memory")
#: Longest wait for any one measurement (a hang fails loudly).
TIMEOUT = 900.0
#: The budget of the full 100,000-item Map; beyond it the 10,000-item run is extrapolated.
MAP_BUDGET = 600.0

ONE_PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}

TICKING = {
    "Comment": "loops forever on a one-second Wait: a new history event at least every second",
    "StartAt": "Tick",
    "States": {
        "Tick": {"Type": "Wait", "Seconds": 1, "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More"},
        "More": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericLessThan": 1000000, "Next": "Tick"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def pass_chain(length: int) -> dict[str, Any]:
    """Return a definition of ``length`` Pass states in a row."""
    states: dict[str, Any] = {}
    for i in range(length):
        states[f"S{i}"] = {"Type": "Pass", **({"Next": f"S{i + 1}"} if i + 1 < length else {})}
        if i + 1 == length:
            states[f"S{i}"]["End"] = True
    return {"StartAt": "S0", "States": states}


def map_definition(items: Path, results: Path, concurrency: int) -> dict[str, Any]:
    """Return a Distributed Map over a JSON Lines file with a Pass processor and a ResultWriter."""
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "MaxConcurrency": concurrency,
                "ItemReader": {
                    "Resource": "stackflow:file",
                    "ReaderConfig": {"InputType": "JSONL"},
                    "Parameters": {"Path": str(items)},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Touch",
                    "States": {"Touch": {"Type": "Pass", "End": True}},
                },
                "ResultWriter": {
                    "Resource": "stackflow:file",
                    "Parameters": {"Path": str(results), "Prefix": "out"},
                },
                "End": True,
            }
        },
    }


# ------------------------------------------------------------------------------ processes


class Workers:
    """``stackflow worker`` processes on one home; :meth:`kill_all` SIGKILLs every one."""

    def __init__(self, home: Path, durability: str) -> None:
        self.home = home
        self.durability = durability
        self.processes: list[subprocess.Popen] = []

    def start(self, lease: float, max_executions: int = 1000) -> subprocess.Popen:
        """Start one worker; its stderr goes to ``worker-N.err`` next to the home."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_ROOT / "src"), env.get("PYTHONPATH")) if p
        )
        env["STACKFLOW_DURABILITY"] = self.durability
        command = [
            sys.executable,
            "-m",
            "stackflow.cli.main",
            "worker",
            "--home",
            str(self.home),
            "--lease-seconds",
            str(lease),
            "--max-executions",
            str(max_executions),
        ]
        err = self.home.parent / f"worker-{len(self.processes)}.err"
        with err.open("ab") as stream:
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stream
            )
        self.processes.append(process)
        return process

    def started(self, process: subprocess.Popen) -> bool:
        """Return True once the worker printed its start line."""
        index = self.processes.index(process)
        err = self.home.parent / f"worker-{index}.err"
        return err.exists() and "started" in err.read_text(errors="replace")

    def kill_all(self) -> None:
        """SIGKILL and reap every worker still running."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)


def wait_for(condition: Callable[[], Any], timeout: float = TIMEOUT, step: float = 0.01) -> Any:
    """Return the first truthy ``condition()``; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(step)


def _all_done(engine: Engine) -> bool:
    return not engine.list_executions(status="RUNNING", limit=1)


# ------------------------------------------------------------------------------ measurements


def start_rate(home: Path, count: int, durability: str) -> list[dict[str, Any]]:
    """Measure Engine.start with drive=False and with drive=True."""
    results = []
    with Engine.open(home, durability=durability) as engine:  # type: ignore[arg-type]
        began = time.perf_counter()
        for _ in range(count):
            engine.start(ONE_PASS, {}, drive=False)
        seconds = time.perf_counter() - began
        results.append(
            {
                "mode": "drive=False",
                "executions": count,
                "seconds": seconds,
                "per_s": count / seconds,
            }
        )
    with Engine.open(home / "driven", durability=durability) as engine:  # type: ignore[arg-type]
        began = time.perf_counter()
        ids = [engine.start(ONE_PASS, {}).execution_id for _ in range(count)]
        seconds = time.perf_counter() - began
        for execution_id in ids:
            engine.wait(execution_id, TIMEOUT)
        finished = time.perf_counter() - began
        results.append(
            {
                "mode": "drive=True",
                "executions": count,
                "seconds": seconds,
                "per_s": count / seconds,
                "all_finished_s": finished,
            }
        )
    return results


def worker_throughput(
    base: Path, executions: int, chain: int, worker_counts: tuple[int, ...], durability: str
) -> list[dict[str, Any]]:
    """Measure transitions per second of 1 and 2 worker processes on one SQLite home."""
    results = []
    for count in worker_counts:
        home = base / f"throughput-{count}" / "home"
        home.mkdir(parents=True)
        workers = Workers(home, durability)
        with Engine.open(home, durability=durability) as engine:  # type: ignore[arg-type]
            ids = [
                engine.start(pass_chain(chain), {}, drive=False).execution_id
                for _ in range(executions)
            ]
            try:
                began = time.time()
                for _ in range(count):
                    # Several claims per worker, so both workers get a share.
                    workers.start(lease=10.0, max_executions=max(1, executions // (2 * count)))
                wait_for(functools.partial(_all_done, engine))
                wall = time.time() - began
            finally:
                workers.kill_all()
            records = [engine.describe(i) for i in ids]
            first = min(engine.history(i)[0].timestamp for i in ids)
            last = max(r.stop_time or 0.0 for r in records)
            ok = sum(r.status == "SUCCEEDED" for r in records)
        transitions = executions * chain
        results.append(
            {
                "workers": count,
                "executions": executions,
                "succeeded": ok,
                "transitions": transitions,
                "wall_s": wall,
                "wall_per_s": transitions / wall,
                "engine_s": last - first,
                "engine_per_s": transitions / max(last - first, 1e-9),
            }
        )
    return results


def failover(
    base: Path, leases: tuple[float, ...], trials: int, executions: int, durability: str
) -> list[dict[str, Any]]:
    """Measure the time from a worker's SIGKILL to its executions' next history event."""
    results = []
    for lease in leases:
        for trial in range(trials):
            home = base / f"failover-{lease:g}-{trial}" / "home"
            home.mkdir(parents=True)
            workers = Workers(home, durability)
            with Engine.open(home, durability=durability) as engine:  # type: ignore[arg-type]
                ids = [
                    engine.start(TICKING, {"n": 0}, drive=False).execution_id
                    for _ in range(executions)
                ]
                try:
                    a = workers.start(lease)
                    wait_for(functools.partial(_all_moving, engine, ids), 60)
                    b = workers.start(lease)
                    wait_for(functools.partial(workers.started, b), 60)
                    time.sleep(1.0 + trial * 0.37 % 1.0)  # land at various renewal phases
                    killed = time.time()
                    a.send_signal(signal.SIGKILL)
                    a.wait(10)
                    last = {i: engine.history(i)[-1].id for i in ids}
                    moved = wait_for(functools.partial(_moved, engine, last), lease * 3 + 30)
                finally:
                    workers.kill_all()
            delays = [moved[i] - killed for i in ids]
            results.append(
                {
                    "lease_s": lease,
                    "trial": trial,
                    "executions": executions,
                    "first_s": min(delays),
                    "median_s": statistics.median(delays),
                    "last_s": max(delays),
                }
            )
    return results


def _all_moving(engine: Engine, ids: list[str]) -> bool:
    """Return True once every execution has gone past its first Wait."""
    return all(len(engine.history(i)) > 2 for i in ids)


def _moved(engine: Engine, last: dict[str, int]) -> dict[str, float] | None:
    """Return each execution's first event after ``last`` (its timestamp), once all have one."""
    moved = {}
    for execution_id, last_id in last.items():
        new = engine.store.get_history(execution_id, last_id)
        if not new:
            return None
        moved[execution_id] = new[0].timestamp
    return moved


def map_memory(base: Path, items: int, concurrency: int, profile: str | None) -> dict[str, Any]:
    """Run the Distributed Map in a fresh process and return its report."""
    work = base / f"map-{items}"
    work.mkdir()
    command = [sys.executable, __file__, "--map-child", str(items), str(concurrency), str(work)]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"map run failed: {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _map_child(items: int, concurrency: int, work: Path, profile: str | None) -> None:
    """Body of the map-memory process: run the Map, print one JSON line."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is optional
        psutil = None
    source = work / "items.jsonl"
    source.write_text("".join(f"{i}\n" for i in range(items)))
    results = work / "results"
    results.mkdir()
    peak = [0]
    stop = threading.Event()
    if psutil is not None:
        me = psutil.Process()

        def sample() -> None:
            while not stop.wait(0.05):
                peak[0] = max(peak[0], me.memory_info().rss)

        threading.Thread(target=sample, daemon=True).start()
    engine = Engine.open(work / "home")
    baseline = psutil.Process().memory_info().rss if psutil is not None else 0
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    began = time.perf_counter()
    record = engine.run(map_definition(source, results, concurrency), {}, timeout=TIMEOUT)
    seconds = time.perf_counter() - began
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    stop.set()
    children = engine.store.count_children(record.execution_id)
    engine.close()
    report = {
        "items": items,
        "max_concurrency": concurrency,
        "status": record.status,
        "error": record.error,
        "children": children,
        "seconds": seconds,
        "children_per_s": items / seconds,
        "baseline_rss_mib": baseline / 2**20,
        "peak_rss_mib": peak[0] / 2**20 if psutil is not None else None,
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "db_mib": sum(f.stat().st_size for f in (work / "home").iterdir()) / 2**20,
    }
    print(json.dumps(report))


def map_section(base: Path, quick: bool, items: int | None, profile: str | None) -> dict[str, Any]:
    """Measure the Map: the asked size, or 10,000 then 100,000 if it fits the budget."""
    if quick or items is not None:
        size = items or 1000
        return {"runs": [map_memory(base, size, min(1000, size), profile)], "extrapolated": None}
    small = map_memory(base, 10_000, 1000, None)
    projected = small["seconds"] * 10
    if projected > MAP_BUDGET:
        return {"runs": [small], "extrapolated": {"items": 100_000, "seconds": projected}}
    return {"runs": [small, map_memory(base, 100_000, 1000, profile)], "extrapolated": None}


# ------------------------------------------------------------------------------ report


def _print_report(report: dict[str, Any]) -> None:
    env = report["environment"]
    print(
        f"python {env['python']}  cpus {env['cpus']}  durability {env['durability']}  "
        f"quick {env['quick']}"
    )
    if "start-rate" in report:
        print("\nstart-rate (Engine.start of a one-Pass workflow)")
        for r in report["start-rate"]:
            extra = (
                f"  (all finished after {r['all_finished_s']:.2f} s)"
                if "all_finished_s" in r
                else ""
            )
            print(f"  {r['mode']:<12} {r['executions']:>6} starts  {r['per_s']:>8.0f} /s{extra}")
    if "worker-throughput" in report:
        print("\nworker-throughput (Pass chains run by stackflow worker processes)")
        for r in report["worker-throughput"]:
            print(
                f"  {r['workers']} worker(s)  {r['transitions']:>7} transitions  "
                f"wall {r['wall_per_s']:>8.0f} /s  engine {r['engine_per_s']:>8.0f} /s  "
                f"succeeded {r['succeeded']}/{r['executions']}"
            )
    if "failover" in report:
        print("\nfailover (SIGKILL of the owner -> next history event, written by another worker)")
        for r in report["failover"]:
            print(
                f"  lease {r['lease_s']:>4g} s  trial {r['trial']}  first {r['first_s']:.2f} s  "
                f"median {r['median_s']:.2f} s  last {r['last_s']:.2f} s  "
                f"({r['executions']} executions)"
            )
    if "map-memory" in report:
        print("\nmap-memory (Distributed Map, Pass processor, ResultWriter)")
        for r in report["map-memory"]["runs"]:
            peak = r["peak_rss_mib"]
            print(
                f"  {r['items']:>7} items  conc {r['max_concurrency']}  {r['status']}  "
                f"{r['seconds']:.1f} s ({r['children_per_s']:.0f} children/s)  "
                f"peak RSS {peak if peak is None else round(peak)} MiB "
                f"(baseline {r['baseline_rss_mib']:.0f}, ru_maxrss {r['ru_maxrss_mib']:.0f})  "
                f"db {r['db_mib']:.0f} MiB"
            )
        extra = report["map-memory"]["extrapolated"]
        if extra:
            print(f"  100000 items extrapolated: {extra['seconds']:.0f} s (over the budget)")


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the chosen sections, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--map-items", type=int, help="items of the Map (one run of this size)")
    parser.add_argument("--profile", help="write a cProfile of the (largest) Map run here")
    parser.add_argument("--map-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.map_child:
        items, concurrency, work = args.map_child
        _map_child(int(items), int(concurrency), Path(work), args.profile)
        return 0
    quick = args.quick
    sections = args.only or SECTIONS
    report: dict[str, Any] = {
        "environment": {
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "durability": args.durability,
            "quick": quick,
        }
    }
    with tempfile.TemporaryDirectory(prefix="sf-durable-") as tmp:
        base = Path(tmp)
        if "start-rate" in sections:
            report["start-rate"] = start_rate(
                base / "start", 100 if quick else 2000, args.durability
            )
        if "worker-throughput" in sections:
            report["worker-throughput"] = worker_throughput(
                base, 40 if quick else 2000, 20, (1, 2), args.durability
            )
        if "failover" in sections:
            report["failover"] = failover(
                base,
                (1.0,) if quick else (2.0, 10.0),
                1 if quick else 3,
                5 if quick else 20,
                args.durability,
            )
        if "map-memory" in sections:
            report["map-memory"] = map_section(base, quick, args.map_items, args.profile)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
