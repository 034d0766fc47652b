"""A worker SIGKILLed in the middle of a code workflow: another worker finishes it.

The workflow (``code_crashkit.SOURCE``) runs a chain of ten steps, a ``step.map`` over four
items, a 2-second ``stackflow.sleep`` and a ``wait_for_event``. Real ``stackflow worker``
processes share one SQLite home; the first is SIGKILLed at a chosen point, a second one takes
the execution over when the lease expires, the test sends the event, and the execution must
succeed with the right output, every step succeeded once in the history, every step run once
(twice only when it was in flight at the kill), the sleep neither skipped nor restarted, and
consecutive history ids.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import code_crashkit as ck
import crashkit as kit
import pytest

from stackflow.engine import Engine
from stackflow.store.base import HistoryEvent

LEASE = 1.0


def _succeeded(count: int) -> Callable[[list[HistoryEvent]], bool]:
    return lambda history: sum(e.type == "TaskSucceeded" for e in history) >= count


def _map_in_flight(history: list[HistoryEvent]) -> bool:
    items = [e for e in history if e.type == "TaskStateEntered" and e.details["name"] == "item"]
    return bool(items)


def _sleeping(history: list[HistoryEvent]) -> bool:
    return any(e.type == "WaitStateEntered" for e in history)


#: Kill point -> condition on the committed history.
KILL_POINTS: dict[str, Callable[[list[HistoryEvent]], bool]] = {
    "in-the-chain": _succeeded(5),
    "during-the-map": _map_in_flight,
    "during-the-sleep": _sleeping,
}


class Workers:
    """Worker processes of one test; every one is SIGKILLed at the end."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.home = home
        self.cwd = cwd
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
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
def workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:
    ck.write_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # Engine.start imports the module too
    monkeypatch.setenv("STACKFLOW_HOME", str(tmp_path / "home"))
    pool = Workers(tmp_path / "home", tmp_path)
    try:
        yield pool
    finally:
        pool.kill_all()
        import sys

        sys.modules.pop(ck.MODULE, None)


def _history_until(engine: Engine, execution_id: str, condition: Any) -> list[HistoryEvent]:
    return kit.wait_for(
        lambda: (lambda h: h if condition(h) else None)(engine.history(execution_id)), 20
    )


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkilled_worker_code_execution_is_finished_by_another(
    point: str, workers: Workers, tmp_path: Path
) -> None:
    started = time.monotonic()
    log = tmp_path / "side-effects.jsonl"
    data = ck.make_input(log)
    engine = Engine.open(workers.home)
    try:
        execution_id = engine.start(ck.REF, data, drive=False).execution_id
        first = workers.start()
        try:
            _history_until(engine, execution_id, KILL_POINTS[point])
        except TimeoutError:
            pytest.fail(f"kill point {point} not reached; workers said:\n{workers.stderr()}")
        kit.kill(first)
        before = engine.history(execution_id)
        assert engine.describe(execution_id).status == "RUNNING", "finished before the kill"
        workers.start()
        try:
            _history_until(
                engine, execution_id, lambda h: any(e.type == "EventWaitStarted" for e in h)
            )
        except TimeoutError:
            pytest.fail(f"stuck after the kill at {point}; workers said:\n{workers.stderr()}")
        # The second worker holds the execution (it recorded the wait): the event is only stored.
        engine.send_event(execution_id, ck.EVENT, {"approved": point})
        try:
            final = kit.wait_for(
                lambda: (lambda r: r if r.status != "RUNNING" else None)(
                    engine.describe(execution_id)
                ),
                15,
            )
        except TimeoutError:
            pytest.fail(f"event not taken after {point}; workers said:\n{workers.stderr()}")
        history = engine.history(execution_id)
    finally:
        engine.close()

    assert (final.status, final.output) == (
        "SUCCEEDED",
        ck.expected_output(data, {"approved": point}),
    ), (final.error, final.cause, workers.stderr())
    assert history[: len(before)] == before, "history committed before the kill was rewritten"
    invocations = ck.read_invocations(log)
    report = ck.analyse(history, invocations, data)
    assert report.problems == []
    assert set(report.succeeded.values()) == {1}
    assert len(report.succeeded) == len(ck.expected_jobs(data))

    # Steps that succeeded before the kill ran exactly once, in the dead worker; steps the dead
    # worker had started without a recorded result (in flight) ran at most twice; all the
    # others ran exactly once, in the new worker.
    done_before = ck.succeeded_jobs(before)
    dead = first.pid
    in_flight = {name for name, pid in invocations if pid == dead} - done_before
    for name, count in report.runs.items():
        pids = [pid for job, pid in invocations if job == name]
        if name in done_before:
            assert pids == [dead], (name, pids)
        elif name in in_flight:
            assert count <= 2 and dead not in pids[1:], (name, pids)
        else:
            assert count == 1 and dead not in pids, (name, pids)
    if point == "in-the-chain":
        assert len(in_flight) <= 1, in_flight
    if point == "during-the-map":
        assert in_flight <= {f"item-{j}" for j in range(data["items"])}, in_flight

    # The sleep ended at its recorded due time (never earlier), and a sleep interrupted by the
    # kill was not started again: restarted from zero it would end at least 2/3 of a lease (the
    # earliest another worker can claim) plus the full nap after it was entered.
    assert not report.sleep_skipped
    assert report.sleep_span is not None and report.sleep_span >= data["nap"] - 0.005
    if point == "during-the-sleep":
        assert report.sleep_span < data["nap"] + LEASE * 2 / 3 - 0.1, report.sleep_span
    assert time.monotonic() - started < 30
