"""Kill loop for code workflows: SIGKILL ``stackflow worker`` processes at random moments.

Run from the repository root (not part of CI)::

    .venv/bin/python benchmarks/code_kill_loop.py                  # 50 kills, lease 2 s
    .venv/bin/python benchmarks/code_kill_loop.py --kills 100 --seed 7 --json

Each round records ``--executions`` executions (``drive=False``) of the ``@stackflow.workflow``
of ``tests/integration/code_crashkit.py`` (a chain of ten steps, a ``step.map`` over four items,
a durable 2-second sleep, a ``wait_for_event`` and a last step; every step appends one line per
invocation to its execution's side-effect file), stores each execution's event in advance (it
waits in the store until the workflow asks for it), starts a worker, SIGKILLs it after a random
delay, and starts another; with probability ``--double-kill`` the replacement is SIGKILLed too
(after it had time to claim) before a third worker finishes the job. Rounds go on until
``--kills`` kills were made. Every execution is then checked: status and output, consecutive
history ids, every step entered and succeeded exactly once in the history, every succeeded step
run, no unknown step run, the sleep not ended before its due time, and no step run more than
once per kill plus once.
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

import code_crashkit as ck  # noqa: E402
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
    bad_histories: int = 0
    ids_not_consecutive: int = 0
    duplicate_steps: int = 0
    sleeps_skipped: int = 0
    steps_never_ran: int = 0
    unknown_runs: int = 0
    step_runs: int = 0
    step_reruns: int = 0
    executions_with_reruns: int = 0
    most_runs_of_one_step: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    kill_points: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


_POINT_BY_STEP = {"work": "chain", "item": "map"}


def _kill_point(engine: Engine, execution_id: str, data: dict[str, Any]) -> str:
    """Name where an execution was at a kill: its last recorded operation, or its end."""
    if engine.describe(execution_id).status != "RUNNING":
        return "finished"
    history = engine.history(execution_id)
    operations = [e for e in history if isinstance(e.details.get("step"), int)]
    if not operations:
        return "not started"
    last = operations[-1]
    if last.type.startswith("Wait"):
        return "sleep"
    if last.type.startswith("Event"):
        return "event wait"
    if last.details.get("step") == data["chain"] + data["items"] + 2:
        return "final step"
    return _POINT_BY_STEP.get(str(last.details.get("name")), "?")


def _run_round(
    engine: Engine, workdir: Path, args: argparse.Namespace, rng: random.Random, out: Outcomes
) -> None:
    home = workdir / "home"
    number = out.rounds
    runs: list[tuple[str, dict[str, Any], Path]] = []
    for i in range(args.executions):
        log = workdir / f"effects-{number}-{i}.jsonl"
        data = ck.make_input(log, nap=args.nap, items=args.items, sleep=args.step_sleep)
        execution_id = engine.start(ck.REF, data, drive=False).execution_id
        # Stored directly: Engine.send_event would drive an execution nobody holds right here.
        engine.store.add_request(execution_id, "event", ck.EVENT, {"round": number}, time.time())
        runs.append((execution_id, data, log))
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
            for execution_id, data, _ in runs:
                out.kill_points[_kill_point(engine, execution_id, data)] += 1
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
        _judge(engine, execution_id, data, log, kills, {"round": number}, out)
    out.rounds += 1


def _judge(
    engine: Engine,
    execution_id: str,
    data: dict[str, Any],
    log: Path,
    kills: int,
    answer: Any,
    out: Outcomes,
) -> None:
    out.executions += 1
    record = engine.describe(execution_id)
    history = engine.history(execution_id)
    report = ck.analyse(history, ck.read_invocations(log), data)
    name = f"{execution_id} ({record.status})"
    if record.status == "RUNNING":
        out.stuck += 1
        out.problems.append(f"stuck: {name}, last event {history[-1].type if history else None}")
    elif record.status != "SUCCEEDED":
        out.failed += 1
        out.errors[str(record.error)] += 1
        out.problems.append(f"failed: {name}: {record.error}: {str(record.cause)[:200]}")
    elif record.output != ck.expected_output(data, answer):
        out.wrong_output += 1
        out.problems.append(f"wrong output: {name}: {record.output}")
    elif not report.problems:
        out.succeeded_correct += 1
    if record.status == "SUCCEEDED" and report.problems:
        out.bad_histories += 1
        out.problems.append(f"history of {name}: {'; '.join(report.problems)}")
    out.ids_not_consecutive += not report.ids_consecutive
    out.duplicate_steps += any(
        v > 1 for v in (*report.entered.values(), *report.succeeded.values())
    )
    out.sleeps_skipped += report.sleep_skipped
    if record.status == "SUCCEEDED":
        out.steps_never_ran += len(report.never_ran)
    out.unknown_runs += len(report.unknown)
    out.step_runs += sum(report.runs.values())
    out.step_reruns += report.reruns
    out.executions_with_reruns += report.reruns > 0
    most = max(report.runs.values(), default=0)
    out.most_runs_of_one_step = max(out.most_runs_of_one_step, most)
    if most > kills + 1:
        out.problems.append(f"a step of {name} ran {most} times after {kills} kill(s)")


def run(args: argparse.Namespace) -> Outcomes:
    """Run rounds until ``args.kills`` kills were made; return the outcome counts."""
    rng = random.Random(args.seed)
    out = Outcomes()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sf-code-kill-loop-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        ck.write_module(workdir)
        sys.path.insert(0, str(workdir))  # Engine.start imports the workflow module
        engine = Engine.open(workdir / "home")
        try:
            while out.kills < args.kills:
                _run_round(engine, workdir, args, rng, out)
                if not args.json:
                    print(
                        f"round {out.rounds}: kills {out.kills}, executions {out.executions}, "
                        f"correct {out.succeeded_correct}, re-runs {out.step_reruns}",
                        file=sys.stderr,
                    )
        finally:
            engine.close()
            sys.path.remove(str(workdir))
    out.seconds = time.monotonic() - started
    return out


def table(out: Outcomes, args: argparse.Namespace) -> str:
    """Return the outcome counts as a Markdown table."""
    errors = ", ".join(f"{k}: {v}" for k, v in out.errors.most_common()) or "none"
    rows = [
        ("kills (SIGKILL of a worker)", out.kills),
        ("rounds (a kill during recovery in some)", out.rounds),
        ("executions", out.executions),
        ("succeeded, correct output, clean history", out.succeeded_correct),
        ("succeeded with a wrong output", out.wrong_output),
        (f"failed / timed out / aborted (errors: {errors})", out.failed),
        (f"stuck (not finished {args.stuck_after:g} s after the last restart)", out.stuck),
        ("succeeded with a bad history", out.bad_histories),
        ("histories with non-consecutive ids", out.ids_not_consecutive),
        ("histories with a step entered or succeeded twice", out.duplicate_steps),
        ("sleeps that ended before their due time", out.sleeps_skipped),
        ("succeeded steps that never ran", out.steps_never_ran),
        ("runs of steps a correct run does not have", out.unknown_runs),
        ("step invocations (side-effect lines)", out.step_runs),
        ("step re-runs (invocations beyond the first)", out.step_reruns),
        ("executions with at least one re-run", out.executions_with_reruns),
        ("most invocations of one step", out.most_runs_of_one_step),
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
    parser.add_argument("--max-delay", type=float, default=4.5, help="longest wait before a kill")
    parser.add_argument("--double-kill", type=float, default=0.3, help="chance of a second kill")
    parser.add_argument("--nap", type=float, default=2.0, help="seconds of the durable sleep")
    parser.add_argument("--items", type=int, default=4, help="items of the step.map")
    parser.add_argument("--step-sleep", type=float, default=0.15, help="seconds each step works")
    parser.add_argument("--stuck-after", type=float, default=30.0, help="seconds before 'stuck'")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--dir", default=None, help="where to make the temporary home")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    out = run(args)
    if args.json:
        report = asdict(out)
        report["kill_points"] = dict(out.kill_points)
        report["errors"] = dict(out.errors)
        print(json.dumps(report, indent=2))
    else:
        print(table(out, args))
        for problem in out.problems:
            print("PROBLEM:", problem)
    bad = out.executions - out.succeeded_correct
    return 1 if bad or out.problems else 0


if __name__ == "__main__":
    sys.exit(main())
