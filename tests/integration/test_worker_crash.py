"""A worker process SIGKILLed in the middle of an execution: another worker finishes it.

Real ``stackflow worker`` processes share one SQLite home. The execution is recorded with
``drive=False``; the first worker runs it until a chosen point of its history, is SIGKILLed, and a
second worker (which claims it once the lease expires) must finish it with the right output,
consecutive history ids, no state entered twice, and every task run at least once -- twice only
for the tasks in flight at the kill.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import crashkit as kit
import pytest

from stackflow.engine import Engine
from stackflow.store.base import HistoryEvent

LEASE = 2.0
#: A recovered Wait must end this long after it was entered: its due time, not a fresh start.
NAP_AT_WAIT_KILL = 3.0


def _saw(kind: str, count: int = 1) -> Callable[[list[HistoryEvent]], bool]:
    return lambda history: sum(e.type == kind for e in history) >= count


def _parallel_tasks_started(history: list[HistoryEvent]) -> bool:
    started = [e.id for e in history if e.type == "ParallelStateStarted"]
    return (
        bool(started) and sum(e.type == "TaskStarted" and e.id > started[0] for e in history) == 2
    )


#: Kill point -> (condition on the committed history, Wait seconds).
KILL_POINTS: dict[str, tuple[Callable[[list[HistoryEvent]], bool], float]] = {
    "during-wait": (_saw("WaitStateEntered"), NAP_AT_WAIT_KILL),
    "parallel-tasks-in-flight": (_parallel_tasks_started, 1.0),
    "map-after-first-iteration": (_saw("MapIterationSucceeded"), 1.0),
}


class Workers:
    """Worker processes of one test; every one is SIGKILLed at the end."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.home = home
        self.cwd = cwd
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        err = self.cwd / f"worker-{len(self.processes)}.err"
        process = kit.start_worker(self.home, self.cwd, LEASE, err)
        self.processes.append(process)
        return process

    def stderr(self) -> str:
        return "\n".join(
            (self.cwd / f"worker-{i}.err").read_text(errors="replace")
            for i in range(len(self.processes))
        )

    def kill_all(self) -> None:
        for process in self.processes:
            kit.kill(process)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    kit.write_tasks(tmp_path)
    pool = Workers(tmp_path / "home", tmp_path)
    try:
        yield pool
    finally:
        pool.kill_all()


def _history_until(engine: Engine, execution_id: str, condition: Any) -> list[HistoryEvent]:
    return kit.wait_for(
        lambda: (lambda h: h if condition(h) else None)(engine.history(execution_id)), 20
    )


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkilled_worker_execution_is_finished_by_another(
    point: str, workers: Workers, tmp_path: Path
) -> None:
    condition, nap = KILL_POINTS[point]
    log = tmp_path / "side-effects.jsonl"
    data = kit.make_input(log, nap=nap)
    engine = Engine.open(workers.home)
    try:
        execution_id = engine.start(kit.definition(), data, drive=False).execution_id
        first = workers.start()
        try:
            _history_until(engine, execution_id, condition)
        except TimeoutError:
            pytest.fail(f"kill point {point} not reached; workers said:\n{workers.stderr()}")
        kit.kill(first)
        before = engine.history(execution_id)
        assert engine.describe(execution_id).status == "RUNNING", "finished before the kill"
        workers.start()
        try:
            final = kit.wait_for(
                lambda: (lambda r: r if r.status != "RUNNING" else None)(
                    engine.describe(execution_id)
                ),
                25,
            )
        except TimeoutError:
            pytest.fail(f"stuck after the kill at {point}; workers said:\n{workers.stderr()}")
        history = engine.history(execution_id)
    finally:
        engine.close()

    assert (final.status, final.output) == ("SUCCEEDED", kit.expected_output(data))
    assert history[: len(before)] == before, "history committed before the kill was rewritten"
    invocations = kit.read_invocations(log)
    report = kit.analyse(history, invocations, data)
    assert report.ids_consecutive, [e.id for e in history]
    assert not report.duplicate_entries, report.entries
    assert not report.missing_entries, report.entries
    assert not report.duplicate_iterations
    assert report.never_ran == [] and report.unknown == []

    # Tasks that succeeded before the kill, or started after it, ran exactly once; only those in
    # flight at the kill may have run twice: once in the dead worker, once in the new one.
    done_before = kit.succeeded_tokens(before)
    in_flight = set(kit.scheduled_tokens(before)) - done_before
    dead_pid = first.pid
    for token, count in report.runs.items():
        pids = [i.pid for i in invocations if i.token == token]
        if token in in_flight:
            assert count <= 2, (token, pids)
            assert dead_pid not in pids[1:], (token, pids)
        else:
            assert count == 1, (token, pids)
            assert (pids[0] == dead_pid) == (token in done_before), (token, pids)
    if point == "parallel-tasks-in-flight":
        assert len(in_flight) == 2

    if point == "during-wait":
        entered = next(e.timestamp for e in history if e.type == "WaitStateEntered")
        exited = next(e.timestamp for e in history if e.type == "WaitStateExited")
        # Restarting the Wait from zero would end it at least 2/3 of a lease (the earliest
        # another worker can claim) plus the full nap after it was entered.
        assert nap <= exited - entered < nap + LEASE * 2 / 3 - 0.1, exited - entered
    assert time.time() - final.start_time < 30
