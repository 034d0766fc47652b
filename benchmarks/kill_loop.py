"""Kill loop: SIGKILL ``stackflow worker`` processes at random moments and check every execution.

Run from the repository root (not part of CI)::

    .venv/bin/python benchmarks/kill_loop.py                      # 50 kills, lease 2 s
    .venv/bin/python benchmarks/kill_loop.py --kills 100 --seed 7 --json

Each round records ``--executions`` executions (``drive=False``) of the crash-test workflow of
``tests/integration/crashkit.py`` (Task -> Wait -> Parallel of two Tasks -> inline Map of Tasks
-> Pass; every task appends one line per invocation to its execution's side-effect file), starts
a worker, SIGKILLs it after a random delay, and starts another; with probability
``--double-kill`` the replacement is SIGKILLed too (a kill during recovery) before a third worker
finishes the job. Rounds go on until ``--kills`` kills were made. The report counts, per
execution: succeeded with the correct output, wrong output, failed, stuck (not finished within
``--stuck-after`` seconds of the last restart), histories with duplicated or missing states or
non-consecutive ids, tasks that never ran, and task re-runs (invocations beyond the first of one
task attempt: the at-least-once cost of a kill).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
for _path in (_ROOT / "src", _ROOT / "tests" / "integration"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import crashkit as kit  # noqa: E402

from stackflow.engine import Engine  # noqa: E402


@dataclass
class Outcomes:
    """Counts over every execution of the loop."""

    kills: int = 0
    rounds: int = 0
    executions: int = 0
    succeeded_correct: int = 0
    wrong_output: int = 0
    failed: int = 0
    stuck: int = 0
    duplicate_states: int = 0
    missing_states: int = 0
    ids_not_consecutive: int = 0
    tasks_never_ran: int = 0
    unknown_invocations: int = 0
    task_attempts: int = 0
    task_reruns: int = 0
    executions_with_reruns: int = 0
    most_runs_of_one_task: int = 0
    kill_points: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _kill_point(engine: Engine, execution_id: str) -> str:
    """Name where an execution was at a kill: the last state entered, or its end."""
    record = engine.describe(execution_id)
    if record.status != "RUNNING":
        return "finished"
    entered = [e for e in engine.history(execution_id) if e.type.endswith("StateEntered")]
    return entered[-1].details.get("name", "?") if entered else "not started"


def _run_round(
    engine: Engine, workdir: Path, args: argparse.Namespace, rng: random.Random, out: Outcomes
) -> None:
    home = workdir / "home"
    number = out.rounds
    runs: list[tuple[str, dict[str, Any], Path]] = []
    for i in range(args.executions):
        log = workdir / f"effects-{number}-{i}.jsonl"
        data = kit.make_input(log, nap=args.nap, items=args.items, sleep=args.task_sleep)
        record = engine.start(kit.definition(distributed=args.distributed), data, drive=False)
        runs.append((record.execution_id, data, log))
    processes: list[subprocess.Popen[bytes]] = []
    kills = 2 if rng.random() < args.double_kill else 1
    try:
        for _ in range(kills):
            err = workdir / f"worker-{number}-{len(processes)}.err"
            process = kit.start_worker(home, workdir, args.lease, err)
            processes.append(process)
            # A replacement first waits for the lease to expire: kill it after it claimed.
            time.sleep(rng.uniform(0.0, args.max_delay) + (args.lease if processes[:-1] else 0))
            kit.kill(process)
            out.kills += 1
            for execution_id, _, _ in runs:
                out.kill_points[_kill_point(engine, execution_id)] += 1
        err = workdir / f"worker-{number}-{len(processes)}.err"
        processes.append(kit.start_worker(home, workdir, args.lease, err))
        deadline = time.monotonic() + args.stuck_after + args.lease
        pending = {execution_id for execution_id, _, _ in runs}
        while pending and time.monotonic() < deadline:
            pending = {e for e in pending if engine.describe(e).status == "RUNNING"}
            time.sleep(0.05)
    finally:
        for process in processes:
            kit.kill(process)
    for execution_id, data, log in runs:
        _judge(engine, execution_id, data, log, kills, out, args.distributed)
    out.rounds += 1


def _judge(
    engine: Engine,
    execution_id: str,
    data: dict[str, Any],
    log: Path,
    kills: int,
    out: Outcomes,
    distributed: bool,
) -> None:
    out.executions += 1
    record = engine.describe(execution_id)
    history = engine.history(execution_id)
    report = kit.analyse(history, kit.read_invocations(log), data, distributed=distributed)
    name = f"{execution_id} ({record.status})"
    if record.status == "RUNNING":
        out.stuck += 1
        out.problems.append(f"stuck: {name}, last event {history[-1].type if history else None}")
    elif record.status != "SUCCEEDED":
        out.failed += 1
        out.problems.append(f"failed: {name}: {record.error}: {record.cause}")
    elif record.output != kit.expected_output(data, distributed=distributed):
        out.wrong_output += 1
        out.problems.append(f"wrong output: {name}: {record.output}")
    elif report.clean:
        out.succeeded_correct += 1
    if record.status != "RUNNING":
        out.duplicate_states += bool(report.duplicate_entries or report.duplicate_iterations)
        out.missing_states += bool(report.missing_entries)
        out.tasks_never_ran += len(report.never_ran)
    out.ids_not_consecutive += not report.ids_consecutive
    out.unknown_invocations += len(report.unknown)
    out.task_attempts += len(report.scheduled)
    out.task_reruns += report.reruns
    out.executions_with_reruns += report.reruns > 0
    most = max(report.runs.values(), default=0)
    out.most_runs_of_one_task = max(out.most_runs_of_one_task, most)
    if most > kills + 1:
        out.problems.append(f"a task of {name} ran {most} times after {kills} kill(s)")
    if not report.clean and record.status != "RUNNING":
        out.problems.append(
            f"history of {name}: duplicates {report.duplicate_entries} "
            f"iterations {report.duplicate_iterations} missing {report.missing_entries} "
            f"consecutive ids {report.ids_consecutive} never ran {len(report.never_ran)} "
            f"unknown {len(report.unknown)}"
        )


def run(args: argparse.Namespace) -> Outcomes:
    """Run rounds until ``args.kills`` kills were made; return the outcome counts."""
    rng = random.Random(args.seed)
    out = Outcomes()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sf-kill-loop-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        kit.write_tasks(workdir)
        engine = Engine.open(workdir / "home")
        try:
            while out.kills < args.kills:
                _run_round(engine, workdir, args, rng, out)
                if not args.json:
                    print(
                        f"round {out.rounds}: kills {out.kills}, executions {out.executions}, "
                        f"correct {out.succeeded_correct}, re-runs {out.task_reruns}",
                        file=sys.stderr,
                    )
        finally:
            engine.close()
    out.seconds = time.monotonic() - started
    return out


def table(out: Outcomes, args: argparse.Namespace) -> str:
    """Return the outcome counts as a Markdown table."""
    rows = [
        ("kills (SIGKILL of a worker)", out.kills),
        ("rounds (a kill during recovery in some)", out.rounds),
        ("executions", out.executions),
        ("succeeded, correct output, clean history", out.succeeded_correct),
        ("succeeded with a wrong output", out.wrong_output),
        ("failed / timed out / aborted", out.failed),
        (f"stuck (not finished {args.stuck_after:g} s after the last restart)", out.stuck),
        ("histories with a duplicated state or Map iteration", out.duplicate_states),
        ("histories with a missing state", out.missing_states),
        ("histories with non-consecutive ids", out.ids_not_consecutive),
        ("task attempts never run", out.tasks_never_ran),
        ("task invocations the history never scheduled", out.unknown_invocations),
        ("task attempts (TaskScheduled)", out.task_attempts),
        ("task re-runs (invocations beyond the first)", out.task_reruns),
        ("executions with at least one re-run", out.executions_with_reruns),
        ("most invocations of one task attempt", out.most_runs_of_one_task),
    ]
    lines = ["| outcome | count |", "| --- | ---: |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    points = ", ".join(f"{k}: {v}" for k, v in out.kill_points.most_common())
    lines.append("")
    lines.append(f"Where the executions were at the kills: {points}.")
    lines.append(f"Wall time: {out.seconds:.0f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the loop, print the report; exit 1 if any execution went wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="kills to make (default 50)")
    parser.add_argument("--executions", type=int, default=3, help="executions per round")
    parser.add_argument("--lease", type=float, default=2.0, help="worker lease seconds")
    parser.add_argument("--max-delay", type=float, default=2.5, help="longest wait before a kill")
    parser.add_argument("--double-kill", type=float, default=0.3, help="chance of a second kill")
    parser.add_argument("--nap", type=float, default=1.0, help="seconds of the Wait state")
    parser.add_argument("--items", type=int, default=4, help="Map items")
    parser.add_argument("--task-sleep", type=float, default=0.25, help="seconds each task works")
    parser.add_argument("--stuck-after", type=float, default=30.0, help="seconds before 'stuck'")
    parser.add_argument(
        "--distributed", action="store_true", help="add a Distributed Map (child executions)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--dir", default=None, help="where to make the temporary home")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    out = run(args)
    if args.json:
        report = asdict(out)
        report["kill_points"] = dict(out.kill_points)
        print(json.dumps(report, indent=2))
    else:
        print(table(out, args))
        for problem in out.problems:
            print("PROBLEM:", problem)
    bad = out.executions - out.succeeded_correct
    return 1 if bad or out.problems else 0


if __name__ == "__main__":
    sys.exit(main())
