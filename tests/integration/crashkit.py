"""Shared pieces of the worker crash test and the kill-loop benchmark.

A workflow with a Task, a Wait, a Parallel and an inline Map, whose tasks (``python:`` functions in
a module written next to the store) append one JSON line per invocation to a side-effect file
before sleeping a little; helpers to start and SIGKILL real ``stackflow worker`` processes; and
:func:`analyse`, which checks a finished execution's history against that side-effect file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Name of the task module written into the working directory of the workers.
TASK_MODULE = "sf_crash_tasks"

#: The task module: one line per invocation (written before the work), then a short sleep.
TASK_SOURCE = '''
import json, os, time


def step(event):
    """Record this invocation, work a little, and return twice the value."""
    line = json.dumps({"name": event["name"], "token": event["token"], "pid": os.getpid()})
    with open(event["log"], "a") as f:
        f.write(line + "\\n")
    time.sleep(event["sleep"])
    return {"name": event["name"], "value": event["value"] * 2, "token": event["token"]}
'''

#: History event types that mean a state was entered.
ENTERED_SUFFIX = "StateEntered"


def _task(name: str, value_path: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"python:{TASK_MODULE}:step",
        "Parameters": {
            "name": name,
            "value.$": value_path,
            "token.$": "$$.Task.Token",
            "log.$": "$$.Execution.Input.log",
            "sleep.$": "$$.Execution.Input.sleep",
        },
        "ResultSelector": {"name.$": "$.name", "value.$": "$.value"},
    }


def definition(max_concurrency: int = 2, *, distributed: bool = False) -> dict[str, Any]:
    """Return the workflow: Task -> Wait -> Parallel of two Tasks -> inline Map of Tasks -> Pass.

    Args:
        max_concurrency: MaxConcurrency of the Map.
        distributed: Add a Distributed Map (a child execution per item, Pass processor) before
            the final Pass; its result goes to ``$.fan``.
    """
    document: dict[str, Any] = {
        "Comment": "crash test: every kind of pending work (task, timer, branches, iterations)",
        "StartAt": "Prep",
        "States": {
            "Prep": {**_task("prep", "$.n"), "ResultPath": "$.prep", "Next": "Nap"},
            "Nap": {"Type": "Wait", "SecondsPath": "$.nap", "Next": "Both"},
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {**_task("left", "$.n"), "End": True}}},
                    {
                        "StartAt": "Right",
                        "States": {"Right": {**_task("right", "$.prep.value"), "End": True}},
                    },
                ],
                "ResultPath": "$.both",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": max_concurrency,
                "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Item",
                    "States": {"Item": {**_task("item", "$.v"), "End": True}},
                },
                "ResultPath": "$.each",
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    if distributed:
        document["States"]["Each"]["Next"] = "Fan"
        document["States"]["Fan"] = {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": max_concurrency,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Echo",
                "States": {"Echo": {"Type": "Pass", "End": True}},
            },
            "ResultPath": "$.fan",
            "Next": "Done",
        }
    return document


def make_input(
    log: Path, *, n: int = 3, items: int = 4, nap: float = 1, sleep: float = 0.25
) -> dict:
    """Return an execution input.

    Args:
        log: The side-effect file tasks append to.
        n: The value Prep and Left double.
        items: How many Map items (values 1..items).
        nap: Seconds the Wait state waits.
        sleep: Seconds each task works after recording its invocation.
    """
    return {
        "n": n,
        "items": list(range(1, items + 1)),
        "nap": nap,
        "sleep": sleep,
        "log": str(log),
    }


def expected_output(data: dict[str, Any], *, distributed: bool = False) -> dict[str, Any]:
    """Return the output a correct run of :func:`definition` produces for ``data``."""
    output: dict[str, Any] = {
        **data,
        "prep": {"name": "prep", "value": 2 * data["n"]},
        "both": [
            {"name": "left", "value": 2 * data["n"]},
            {"name": "right", "value": 4 * data["n"]},
        ],
        "each": [{"name": "item", "value": 2 * v} for v in data["items"]],
    }
    if distributed:
        output["fan"] = list(data["items"])
    return output


def expected_entries(data: dict[str, Any], *, distributed: bool = False) -> Counter[str]:
    """Return how often each state is entered in a correct run (no retries: once per attempt)."""
    counts = Counter({"Prep": 1, "Nap": 1, "Both": 1, "Left": 1, "Right": 1, "Each": 1, "Done": 1})
    counts["Item"] = len(data["items"])
    if distributed:
        counts["Fan"] = 1
    return counts


def write_tasks(directory: Path) -> None:
    """Write the task module into ``directory`` (the workers' working directory)."""
    (directory / f"{TASK_MODULE}.py").write_text(TASK_SOURCE)


# ---------------------------------------------------------------------------------- processes


def worker_command(home: Path, lease_seconds: float) -> list[str]:
    """Return the command line of a ``stackflow worker`` on ``home``."""
    return [
        sys.executable,
        "-m",
        "stackflow.cli.main",
        "worker",
        "--home",
        str(home),
        "--lease-seconds",
        str(lease_seconds),
    ]


def start_worker(home: Path, cwd: Path, lease_seconds: float, stderr: Path) -> subprocess.Popen:
    """Start a worker process in ``cwd`` (where the task module is) writing stderr to a file."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    with stderr.open("ab") as err:
        return subprocess.Popen(
            worker_command(home, lease_seconds),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL a process (if it still runs) and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(condition: Callable[[], Any], timeout: float, step: float = 0.02) -> Any:
    """Return the first truthy ``condition()``; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(step)


# ---------------------------------------------------------------------------------- analysis


@dataclass
class Invocation:
    """One line of the side-effect file: a task invocation."""

    name: str
    token: str
    pid: int


def read_invocations(log: Path) -> list[Invocation]:
    """Return the invocations recorded in a side-effect file (none when it does not exist).

    A line cut short by a SIGKILL in the middle of the write is ignored.
    """
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        found.append(Invocation(data["name"], data["token"], data["pid"]))
    return found


@dataclass
class Analysis:
    """What a finished execution's history and side-effect file show.

    Attributes:
        ids_consecutive: History ids are exactly 1..n.
        entries: State name -> times entered.
        duplicate_entries: States entered more often than a correct run enters them.
        missing_entries: States entered less often than a correct run enters them.
        duplicate_iterations: Map iteration indexes started more than once.
        scheduled: Task tokens in the history (one per task attempt).
        runs: Task token -> invocations recorded in the side-effect file.
        never_ran: Scheduled tokens with no invocation.
        unknown: Invoked tokens the history never scheduled.
    """

    ids_consecutive: bool
    entries: Counter[str]
    duplicate_entries: dict[str, int]
    missing_entries: dict[str, int]
    duplicate_iterations: list[int]
    scheduled: list[str]
    runs: Counter[str]
    never_ran: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def reruns(self) -> int:
        """Invocations beyond the first of each task attempt."""
        return sum(count - 1 for count in self.runs.values() if count > 1)

    @property
    def clean(self) -> bool:
        """No duplicated or missing state, consecutive ids, every task ran, none unknown."""
        return (
            self.ids_consecutive
            and not self.duplicate_entries
            and not self.missing_entries
            and not self.duplicate_iterations
            and not self.never_ran
            and not self.unknown
        )


def scheduled_tokens(history: list[Any]) -> list[str]:
    """Return the task tokens of the TaskScheduled events of a history, in order."""
    return [
        e.details["parameters"]["token"]
        for e in history
        if e.type == "TaskScheduled" and isinstance(e.details.get("parameters"), dict)
    ]


def succeeded_tokens(history: list[Any]) -> set[str]:
    """Return the task tokens whose TaskSucceeded is in a history (the task returns its token)."""
    return {
        e.details["output"]["token"]
        for e in history
        if e.type == "TaskSucceeded" and isinstance(e.details.get("output"), dict)
    }


def analyse(
    history: list[Any],
    invocations: list[Invocation],
    data: dict[str, Any],
    *,
    distributed: bool = False,
) -> Analysis:
    """Check a history (of :func:`definition` run on ``data``) and the side-effect file.

    Args:
        history: The execution's history events.
        invocations: The side-effect file's lines.
        data: The execution input.
        distributed: The definition has the Distributed Map.
    """
    ids = [e.id for e in history]
    entries: Counter[str] = Counter(
        e.details.get("name") for e in history if e.type.endswith(ENTERED_SUFFIX)
    )
    expected = expected_entries(data, distributed=distributed)
    iterations = Counter(e.details.get("index") for e in history if e.type == "MapIterationStarted")
    scheduled = scheduled_tokens(history)
    runs = Counter(i.token for i in invocations)
    return Analysis(
        ids_consecutive=ids == list(range(1, len(ids) + 1)),
        entries=entries,
        duplicate_entries={k: v for k, v in entries.items() if v > expected.get(k, 0)},
        missing_entries={k: v for k, v in expected.items() if entries.get(k, 0) < v},
        duplicate_iterations=sorted(k for k, v in iterations.items() if v > 1),
        scheduled=scheduled,
        runs=runs,
        never_ran=[t for t in scheduled if t not in runs],
        unknown=sorted(t for t in runs if t not in set(scheduled)),
    )
