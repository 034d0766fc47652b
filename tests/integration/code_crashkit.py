"""Shared pieces of the code-workflow crash test and its kill-loop benchmark.

A ``@stackflow.workflow`` module written into the workers' working directory: a chain of steps,
a ``step.map`` over a few items, a durable ``stackflow.sleep``, a ``wait_for_event`` and a last
step. Every step appends one JSON line (its job name and the worker's pid) to a side-effect file
before working a little. :func:`analyse` checks a finished execution's history against that file.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Module name of the workflow (written into the workers' working directory).
MODULE = "sf_code_crash_flow"

#: ``module:function`` of the workflow.
REF = f"{MODULE}:crashy"

#: Name of the event the workflow waits for.
EVENT = "go"

SOURCE = '''
import json, os, time

import stackflow


def _record(job):
    line = json.dumps({"name": job["name"], "pid": os.getpid()})
    with open(job["log"], "a") as f:
        f.write(line + "\\n")
    time.sleep(job["sleep"])
    return job["value"] + 1


@stackflow.step
def work(job):
    """A chain step: record the invocation, work, return value + 1."""
    return _record(job)


@stackflow.step
def item(job):
    """A map item: record the invocation, work, return value + 1."""
    return _record(job)


def _job(event, name, value):
    return {"name": name, "value": value, "log": event["log"], "sleep": event["sleep"]}


@stackflow.workflow
def crashy(event):
    n = event["n"]
    for i in range(event["chain"]):
        n = work(_job(event, f"chain-{i}", n))
    mapped = item.map([_job(event, f"item-{j}", j) for j in range(event["items"])])
    stackflow.sleep(event["nap"])
    answer = stackflow.wait_for_event("go")
    last = work(_job(event, "final", n))
    return {"n": last, "mapped": mapped, "answer": answer}
'''


def write_module(directory: Path) -> None:
    """Write the workflow module into ``directory`` and forget any imported copy of it."""
    (directory / f"{MODULE}.py").write_text(SOURCE)
    sys.modules.pop(MODULE, None)


def make_input(
    log: Path,
    *,
    n: int = 100,
    chain: int = 10,
    items: int = 4,
    nap: float = 2.0,
    sleep: float = 0.15,
) -> dict[str, Any]:
    """Return an execution input.

    Args:
        log: The side-effect file.
        n: Start value of the chain.
        chain: Steps in the chain.
        items: Items of the map.
        nap: Seconds of the durable sleep.
        sleep: Seconds each step works.
    """
    return {"n": n, "chain": chain, "items": items, "nap": nap, "sleep": sleep, "log": str(log)}


def expected_output(data: dict[str, Any], answer: Any) -> dict[str, Any]:
    """Return the output a correct run produces for ``data`` when the event carries ``answer``."""
    return {
        "n": data["n"] + data["chain"] + 1,
        "mapped": [j + 1 for j in range(data["items"])],
        "answer": answer,
    }


def expected_jobs(data: dict[str, Any]) -> list[str]:
    """Return the job names of a correct run, in program order."""
    return [
        *(f"chain-{i}" for i in range(data["chain"])),
        *(f"item-{j}" for j in range(data["items"])),
        "final",
    ]


def read_invocations(log: Path) -> list[tuple[str, int]]:
    """Return ``(job name, pid)`` per line of the side-effect file (a cut-short line is skipped)."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        found.append((data["name"], data["pid"]))
    return found


def job_names(history: list[Any]) -> dict[int, str]:
    """Return step index -> job name, from the TaskStateEntered events of a history."""
    return {
        e.details["step"]: e.details["input"]["name"]
        for e in history
        if e.type == "TaskStateEntered" and isinstance(e.details.get("input"), dict)
    }


def succeeded_jobs(history: list[Any]) -> set[str]:
    """Return the job names whose step has a TaskSucceeded in ``history``."""
    names = job_names(history)
    return {names[e.details["step"]] for e in history if e.type == "TaskSucceeded"}


@dataclass
class Analysis:
    """What a finished execution's history and side-effect file show.

    Attributes:
        ids_consecutive: History ids are exactly 1..n.
        entered: Step index -> TaskStateEntered events.
        succeeded: Step index -> TaskSucceeded events.
        runs: Job name -> invocations in the side-effect file.
        missing: Jobs of a correct run with no TaskSucceeded.
        never_ran: Jobs that succeeded in the history but never ran.
        unknown: Jobs that ran but that a correct run does not have.
        sleep_skipped: The sleep ended before its recorded due time.
        sleep_span: Seconds from WaitStateEntered to WaitStateExited (None if absent).
        problems: Everything wrong, in words.
    """

    ids_consecutive: bool
    entered: Counter[int]
    succeeded: Counter[int]
    runs: Counter[str]
    missing: list[str] = field(default_factory=list)
    never_ran: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    sleep_skipped: bool = False
    sleep_span: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def reruns(self) -> int:
        """Invocations beyond the first of each job."""
        return sum(count - 1 for count in self.runs.values() if count > 1)


def analyse(
    history: list[Any], invocations: list[tuple[str, int]], data: dict[str, Any]
) -> Analysis:
    """Check the history of a finished execution of the module's workflow and its side effects."""
    ids = [e.id for e in history]
    entered = Counter(e.details["step"] for e in history if e.type == "TaskStateEntered")
    succeeded = Counter(e.details["step"] for e in history if e.type == "TaskSucceeded")
    runs = Counter(name for name, _ in invocations)
    jobs = expected_jobs(data)
    done = succeeded_jobs(history)
    report = Analysis(ids == list(range(1, len(ids) + 1)), entered, succeeded, runs)
    report.missing = [j for j in jobs if j not in done]
    report.never_ran = [j for j in jobs if j in done and runs[j] == 0]
    report.unknown = sorted(j for j in runs if j not in jobs)
    waits = [e for e in history if e.type == "WaitStateEntered"]
    exits = [e for e in history if e.type == "WaitStateExited"]
    if waits and exits:
        report.sleep_span = exits[0].timestamp - waits[0].timestamp
        report.sleep_skipped = exits[0].timestamp < waits[0].details["due"] - 0.005
    if not report.ids_consecutive:
        around = [
            f"{e.id}:{e.type}:{e.details.get('step')}"
            for first, second in itertools.pairwise(history)
            if second.id != first.id + 1
            for e in (first, second)
        ]
        report.problems.append(f"history ids not consecutive, at {around}: {ids}")
    for what, counts in (("entered", entered), ("succeeded", succeeded)):
        twice = sorted(k for k, v in counts.items() if v > 1)
        if twice:
            report.problems.append(f"steps {what} more than once: {twice}")
    if report.missing:
        report.problems.append(f"jobs without TaskSucceeded: {report.missing}")
    if report.never_ran:
        report.problems.append(f"jobs that succeeded without running: {report.never_ran}")
    if report.unknown:
        report.problems.append(f"unknown jobs ran: {report.unknown}")
    if len(waits) != 1 or len(exits) != 1:
        report.problems.append(f"{len(waits)} sleeps entered, {len(exits)} exited")
    if report.sleep_skipped:
        report.problems.append("the sleep ended before its due time")
    return report
