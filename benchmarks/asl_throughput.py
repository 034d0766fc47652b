"""ASL engine throughput: state transitions per second, against a plain-Python floor.

Run from the repository root (``make bench`` does)::

    .venv/bin/python benchmarks/asl_throughput.py            # full sizes
    .venv/bin/python benchmarks/asl_throughput.py --quick    # 1/10 sizes (CI smoke)
    .venv/bin/python benchmarks/asl_throughput.py --json     # machine-readable results
    .venv/bin/python benchmarks/asl_throughput.py --profile /tmp/prof --only pass-chain

Workloads (each on the in-memory store and on SQLite):

* ``pass-chain``: one execution of a chain of 10,000 Pass states (memory, SQLite full/normal).
* ``map-python-task``: one inline Map over 10,000 items calling ``python:benchmarks._tasks:double``
  (memory, SQLite full).
* ``concurrent-executions``: 1,000 executions of 10 Pass states, all started with
  :meth:`Engine.start` before any is waited on (memory, SQLite full).

A *transition* is a state entered (a ``...StateEntered`` history event). The engine time runs from
the first :meth:`Engine.start` call (definition validation included) to the end of the last
:meth:`Engine.wait`. The *floor* is the same workload walked by a minimal plain-Python loop (follow
``Next``, call the task function): no history, no store, no threads. Engine overhead per transition
is ``(engine time - floor time) / transitions``; the aims are < 50 µs in memory and < 150 µs on
SQLite with FULL durability (SQLite NORMAL is reported without an aim).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # so that python:benchmarks._tasks:double resolves
    sys.path.insert(0, str(_ROOT))
if str(_ROOT / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.append(str(_ROOT / "src"))

from benchmarks._tasks import double  # noqa: E402

from stackflow.engine import Engine  # noqa: E402
from stackflow.store.base import Store  # noqa: E402
from stackflow.store.memory import MemoryStore  # noqa: E402
from stackflow.store.sqlite import SQLiteStore  # noqa: E402

#: Task resource of the Map workload.
TASK_RESOURCE = "python:benchmarks._tasks:double"
#: Aims for engine overhead per transition, in microseconds, by store configuration.
AIMS_US: dict[str, float | None] = {"memory": 50.0, "sqlite-full": 150.0, "sqlite-normal": None}
#: Longest wait for one workload, in seconds (a hang fails loudly instead of blocking CI).
WAIT_TIMEOUT = 900.0

WORKLOADS = ("pass-chain", "map-python-task", "concurrent-executions")
STORES: dict[str, tuple[str, ...]] = {
    "pass-chain": ("memory", "sqlite-full", "sqlite-normal"),
    "map-python-task": ("memory", "sqlite-full"),
    "concurrent-executions": ("memory", "sqlite-full"),
}


@dataclass
class Sizes:
    """Workload sizes.

    Attributes:
        chain: Pass states in the chain.
        map_items: Items of the Map.
        executions: Concurrent executions.
        states_per_execution: Pass states of each concurrent execution.
    """

    chain: int = 10_000
    map_items: int = 10_000
    executions: int = 1_000
    states_per_execution: int = 10

    @classmethod
    def quick(cls) -> Sizes:
        """Return the 1/10 sizes used by ``--quick``."""
        return cls(chain=1_000, map_items=1_000, executions=100, states_per_execution=10)


@dataclass
class Result:
    """One workload on one store configuration.

    Attributes:
        workload: Workload name.
        store: ``memory``, ``sqlite-full`` or ``sqlite-normal``.
        executions: Executions run.
        transitions: States entered, over all executions.
        engine_seconds: Wall time from the first start to the last wait's return.
        start_seconds: Part of ``engine_seconds`` spent inside ``Engine.start`` calls.
        floor_seconds: Wall time of the plain-Python floor (best of several runs).
        transitions_per_second: ``transitions / engine_seconds``.
        us_per_transition: ``engine_seconds / transitions`` in microseconds.
        floor_us_per_transition: ``floor_seconds / transitions`` in microseconds.
        overhead_us_per_transition: ``(engine - floor) / transitions`` in microseconds.
        aim_us: The aim for the overhead, or None when none is set.
        verdict: ``PASS``, ``MISS`` or ``-`` (no aim).
    """

    workload: str
    store: str
    executions: int
    transitions: int
    engine_seconds: float
    start_seconds: float
    floor_seconds: float
    transitions_per_second: float
    us_per_transition: float
    floor_us_per_transition: float
    overhead_us_per_transition: float
    aim_us: float | None
    verdict: str


# --------------------------------------------------------------------------- definitions


def pass_chain(length: int) -> dict[str, Any]:
    """Return a definition of ``length`` Pass states in a row."""
    states: dict[str, Any] = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(length)}
    states[f"S{length - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}


def map_definition() -> dict[str, Any]:
    """Return a definition of one inline Map calling :data:`TASK_RESOURCE` on each item."""
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Double",
                    "States": {"Double": {"Type": "Task", "Resource": TASK_RESOURCE, "End": True}},
                },
                "End": True,
            }
        },
    }


# --------------------------------------------------------------------------- the floor


def walk(states: dict[str, Any], start: str, value: Any, call: Callable[[Any], Any]) -> Any:
    """Run a flat state machine of Pass and Task states the cheapest way Python can.

    Args:
        states: The ``States`` object.
        start: The first state.
        value: The input.
        call: What a Task state calls with its input.

    Returns:
        The output of the last state.
    """
    name: str | None = start
    while name is not None:
        state = states[name]
        if state["Type"] == "Task":
            value = call(value)
        name = state.get("Next")
    return value


def floor_seconds(work: Callable[[], Any], repeats: int = 5) -> float:
    """Return the best wall time of ``repeats`` runs of ``work``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def floor_work(workload: str, sizes: Sizes) -> Callable[[], Any]:
    """Return the plain-Python equivalent of a workload."""
    if workload == "pass-chain":
        chain = pass_chain(sizes.chain)["States"]
        return lambda: walk(chain, "S0", {"a": 1}, double)
    if workload == "map-python-task":
        processor = map_definition()["States"]["Map"]["ItemProcessor"]["States"]
        items = list(range(sizes.map_items))
        return lambda: [walk(processor, "Double", item, double) for item in items]
    short = pass_chain(sizes.states_per_execution)["States"]
    count = sizes.executions
    return lambda: [walk(short, "S0", {"i": i}, double) for i in range(count)]


# --------------------------------------------------------------------------- the engine


def open_store(kind: str, folder: str) -> Store:
    """Open a fresh store of the given configuration (a new SQLite file under ``folder``)."""
    if kind == "memory":
        return MemoryStore()
    path = Path(folder) / f"bench-{time.monotonic_ns()}.db"
    return SQLiteStore(path, durability="full" if kind == "sqlite-full" else "normal")


def engine_run(engine: Engine, workload: str, sizes: Sizes) -> tuple[float, float, list[str]]:
    """Run a workload on an engine.

    Returns:
        The total wall time, the part of it spent in ``Engine.start``, and the execution ids.
    """
    if workload == "pass-chain":
        jobs: list[tuple[dict[str, Any], Any]] = [(pass_chain(sizes.chain), {"a": 1})]
    elif workload == "map-python-task":
        jobs = [(map_definition(), {"items": list(range(sizes.map_items))})]
    else:
        short = pass_chain(sizes.states_per_execution)
        jobs = [(short, {"i": i}) for i in range(sizes.executions)]
    in_start = 0.0
    ids: list[str] = []
    started = time.perf_counter()
    for definition, data in jobs:
        before = time.perf_counter()
        ids.append(engine.start(definition, data, workflow=workload).execution_id)
        in_start += time.perf_counter() - before
    for execution_id in ids:
        record = engine.wait(execution_id, timeout=WAIT_TIMEOUT)
        if record.status != "SUCCEEDED":
            raise RuntimeError(f"{workload}: execution ended {record.status}: {record.error}")
    return time.perf_counter() - started, in_start, ids


def count_transitions(engine: Engine, ids: list[str]) -> int:
    """Count the states entered by the given executions (from their histories)."""
    return sum(
        1
        for execution_id in ids
        for event in engine.history(execution_id)
        if event.type.endswith("StateEntered")
    )


@contextmanager
def profiled(engine: Engine, out: Path | None, label: str) -> Iterator[None]:
    """Profile the caller's thread and the engine's loop thread; write and summarise the stats."""
    if out is None:
        yield
        return
    main, loop = cProfile.Profile(), cProfile.Profile()
    runtime = engine.runtime
    inner = runtime._run
    runtime._run = lambda: loop.runcall(inner)  # type: ignore[method-assign]
    main.enable()
    try:
        yield
    finally:
        main.disable()
    out.mkdir(parents=True, exist_ok=True)
    for part, profile in (("main", main), ("loop", loop)):
        path = out / f"{label}.{part}.prof"
        profile.dump_stats(str(path))
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats("tottime").print_stats(12)
        print(f"\n=== profile {label} [{part} thread] -> {path}", file=sys.stderr)
        print(text.getvalue(), file=sys.stderr)


def measure(
    workload: str, store_kind: str, sizes: Sizes, folder: str, profile_dir: Path | None
) -> Result:
    """Run one workload on one store configuration and compare it with the floor."""
    engine = Engine(open_store(store_kind, folder))
    try:
        with profiled(engine, profile_dir, f"{workload}-{store_kind}"):
            total, in_start, ids = engine_run(engine, workload, sizes)
        transitions = count_transitions(engine, ids)
    finally:
        engine.close()
    floor = floor_seconds(floor_work(workload, sizes))
    per = total / transitions * 1e6
    overhead = (total - floor) / transitions * 1e6
    aim = AIMS_US[store_kind]
    verdict = "-" if aim is None else ("PASS" if overhead < aim else "MISS")
    return Result(
        workload=workload,
        store=store_kind,
        executions=len(ids),
        transitions=transitions,
        engine_seconds=total,
        start_seconds=in_start,
        floor_seconds=floor,
        transitions_per_second=transitions / total,
        us_per_transition=per,
        floor_us_per_transition=floor / transitions * 1e6,
        overhead_us_per_transition=overhead,
        aim_us=aim,
        verdict=verdict,
    )


def warm_up(folder: str) -> None:
    """Import and exercise every code path once so the first workload pays no import cost."""
    tiny = Sizes(chain=20, map_items=20, executions=5, states_per_execution=3)
    for workload in WORKLOADS:
        measure(workload, "memory", tiny, folder, None)
    measure("pass-chain", "sqlite-full", tiny, folder, None)


# --------------------------------------------------------------------------- output


def environment(quick: bool) -> dict[str, Any]:
    """Describe where the benchmark ran."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": quick,
    }


def table(results: list[Result]) -> str:
    """Format results as a fixed-width text table."""
    head = (
        f"{'workload':<22} {'store':<13} {'trans':>7} {'engine s':>9} {'start s':>8}"
        f" {'floor s':>8} {'trans/s':>9} {'µs/tr':>7} {'floor µs':>8} {'ovh µs':>7}"
        f" {'aim µs':>6}  result"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        aim = "-" if r.aim_us is None else f"{r.aim_us:.0f}"
        lines.append(
            f"{r.workload:<22} {r.store:<13} {r.transitions:>7} {r.engine_seconds:>9.3f}"
            f" {r.start_seconds:>8.3f} {r.floor_seconds:>8.4f} {r.transitions_per_second:>9,.0f}"
            f" {r.us_per_transition:>7.1f} {r.floor_us_per_transition:>8.2f}"
            f" {r.overhead_us_per_transition:>7.1f} {aim:>6}  {r.verdict}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1/10 sizes (CI smoke)")
    parser.add_argument("--json", action="store_true", help="print results as JSON only")
    parser.add_argument(
        "--only", choices=WORKLOADS, action="append", help="run only this workload (repeatable)"
    )
    parser.add_argument(
        "--store", choices=tuple(AIMS_US), action="append", help="only this store (repeatable)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per workload; the fastest is kept"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="cProfile the caller and the runtime loop thread; write .prof files to DIR",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any workload misses its aim"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results; return the exit status."""
    args = parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    env = environment(args.quick)
    if not args.json:
        print(
            f"stackflow ASL throughput  python {env['python']} ({env['implementation']})"
            f"  cpus {env['cpus']}  {env['date']}  {env['platform']}"
        )
        print(
            f"sizes: chain {sizes.chain}, map items {sizes.map_items}, executions"
            f" {sizes.executions} x {sizes.states_per_execution} states"
            f"{'  (quick)' if args.quick else ''}"
        )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="stackflow-bench-") as folder:
        warm_up(folder)
        for workload in args.only or WORKLOADS:
            for store_kind in STORES[workload]:
                if args.store and store_kind not in args.store:
                    continue
                runs = [
                    measure(workload, store_kind, sizes, folder, args.profile)
                    for _ in range(max(1, args.repeat))
                ]
                best = min(runs, key=lambda r: r.engine_seconds)
                results.append(best)
                if not args.json:
                    print(
                        f"  {workload} on {store_kind}: {best.transitions} transitions in"
                        f" {best.engine_seconds:.3f}s",
                        flush=True,
                    )
    if args.json:
        print(json.dumps({"environment": env, "results": [asdict(r) for r in results]}, indent=2))
    else:
        print()
        print(table(results))
        print(
            "\nµs/tr = engine µs per transition; ovh µs = (engine - floor) / transitions;"
            " start s = time inside Engine.start (validation + create)."
        )
    missed = any(r.verdict == "MISS" for r in results)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
