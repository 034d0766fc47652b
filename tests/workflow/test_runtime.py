"""The durable runtime on the real SQLite store: recording, concurrency, listeners, abort."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from stackflow.engine import Engine
from stackflow.store.base import HistoryEvent
from stackflow.store.sqlite import SQLiteStore
from stackflow.workflow.asl.execstate import ExecState
from stackflow.workflow.snapshots import load_frames

PASS_CHAIN = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Result": {"step": 1}, "Next": "B"},
        "B": {"Type": "Pass", "ResultPath": "$.b", "Result": 2, "End": True},
    },
}


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    eng = Engine(SQLiteStore(tmp_path / "sf.db"))
    yield eng
    eng.close()


def test_execution_recorded_with_history_and_snapshot(engine: Engine, tmp_path: Path) -> None:
    record = engine.run(PASS_CHAIN, {"in": 1}, name="first", timeout=30)
    assert record.status == "SUCCEEDED"
    assert record.output == {"step": 1, "b": 2}
    assert record.stop_time is not None and record.stop_time >= record.start_time
    history = engine.history(record.execution_id)
    assert history[0].type == "ExecutionStarted"
    assert history[-1].type == "ExecutionSucceeded"
    snapshot = engine.store.load_snapshot(record.execution_id)
    assert snapshot is not None
    state = ExecState.from_json(json.loads(snapshot.header), load_frames(snapshot.frames))
    assert state.status == "SUCCEEDED" and state.output == {"step": 1, "b": 2}
    engine.close()
    reopened = SQLiteStore(tmp_path / "sf.db")
    try:
        again = reopened.get_execution(record.execution_id)
        assert (again.status, again.output, again.name) == (
            "SUCCEEDED",
            {"step": 1, "b": 2},
            "first",
        )
        assert len(reopened.get_history(record.execution_id)) == len(history)
    finally:
        reopened.close()


def test_many_concurrent_executions(engine: Engine) -> None:
    records = [engine.start(PASS_CHAIN, {"i": i}) for i in range(200)]
    done = [engine.wait(r.execution_id, timeout=60) for r in records]
    assert all(r.status == "SUCCEEDED" for r in done)
    assert len(engine.list_executions(status="SUCCEEDED", limit=1000)) == 200


def test_slow_task_does_not_stall_other_executions(engine: Engine, task_module: str) -> None:
    slow = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": f"python:{task_module}:slow", "End": True}},
    }
    slow_run = engine.start(slow, {"seconds": 3})
    fast = engine.run(PASS_CHAIN, {}, timeout=30)
    assert fast.status == "SUCCEEDED"
    assert engine.describe(slow_run.execution_id).status == "RUNNING"
    assert engine.wait(slow_run.execution_id, timeout=30).output == "slow done"


def test_listener_sees_every_event_in_order(engine: Engine) -> None:
    seen: list[HistoryEvent] = []
    record = engine.run(PASS_CHAIN, {}, listener=seen.append, timeout=30)
    assert [e.id for e in seen] == [e.id for e in engine.history(record.execution_id)]


def test_stop_aborts_a_waiting_execution(engine: Engine) -> None:
    waiting = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    record = engine.start(waiting, {})
    deadline = time.monotonic() + 10
    while not any(e.type == "WaitStateEntered" for e in engine.history(record.execution_id)):
        assert time.monotonic() < deadline, "execution never reached the Wait state"
        threading.Event().wait(0.01)
    engine.stop(record.execution_id, error="Manual", cause="stopped by test")
    final = engine.wait(record.execution_id, timeout=10)
    assert (final.status, final.error, final.cause) == ("ABORTED", "Manual", "stopped by test")
    assert engine.history(record.execution_id)[-1].type == "ExecutionAborted"
