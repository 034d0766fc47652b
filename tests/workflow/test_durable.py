"""Durable executions on the real SQLite store: callbacks, activities, children, redrive,
versions, unique names, and recovery by another runtime after a crash."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stackflow.engine import Engine
from stackflow.errors import ExecutionAlreadyExists, StackflowError, TaskTokenError
from stackflow.store.sqlite import SQLiteStore

CALLBACK_TASKS = '''
import json, pathlib

def hand_out(event):
    """Write the task token where the test can find it (the execution then waits for it)."""
    pathlib.Path(event["where"]).write_text(event["token"])
    return "ignored: the task ends with its token"

def attempt(event):
    """Fail until the marker file exists (a fix deployed between run and redrive)."""
    if not pathlib.Path(event["fixed"]).exists():
        raise RuntimeError("not fixed yet")
    return {"fixed": True}
'''


def poll(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Return the first truthy value of ``condition()``, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        threading.Event().wait(0.02)


@pytest.fixture
def tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "sf_callback_tasks.py").write_text(CALLBACK_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "sf_callback_tasks"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(SQLiteStore(tmp_path / "sf.db"), lease_seconds=2.0, poll_interval=0.02)
    yield eng
    eng.close()


def callback_definition(tasks: str, **task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Wait for approval",
        "States": {
            "Wait for approval": {
                "Type": "Task",
                "Resource": f"python:{tasks}:hand_out.waitForTaskToken",
                "Parameters": {"where.$": "$.where", "token.$": "$$.Task.Token"},
                "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "No"}],
                "End": True,
                **task,
            },
            "No": {"Type": "Pass", "Result": "rejected", "End": True},
        },
    }


# ------------------------------------------------------------------------------ callbacks


def test_wait_for_task_token_success(engine: Engine, tasks: str, tmp_path: Path) -> None:
    where = tmp_path / "token"
    record = engine.start(callback_definition(tasks), {"where": str(where)})
    token = poll(lambda: where.exists() and where.read_text())
    assert engine.describe(record.execution_id).status == "RUNNING"
    engine.send_task_success(token, {"approved": True})
    final = engine.wait(record.execution_id, timeout=20)
    assert (final.status, final.output) == ("SUCCEEDED", {"approved": True})
    with pytest.raises(TaskTokenError):
        engine.send_task_success(token, {"again": True})


def test_wait_for_task_token_failure_is_caught(engine: Engine, tasks: str, tmp_path: Path) -> None:
    where = tmp_path / "token"
    record = engine.start(callback_definition(tasks), {"where": str(where)})
    token = poll(lambda: where.exists() and where.read_text())
    engine.send_task_failure(token, error="Rejected", cause="not today")
    final = engine.wait(record.execution_id, timeout=20)
    assert (final.status, final.output) == ("SUCCEEDED", "rejected")


def test_heartbeat_timeout(engine: Engine, tasks: str, tmp_path: Path) -> None:
    where = tmp_path / "token"
    definition = callback_definition(tasks, HeartbeatSeconds=1)
    record = engine.start(definition, {"where": str(where)})
    final = engine.wait(record.execution_id, timeout=20)
    assert (final.status, final.error) == ("FAILED", "States.HeartbeatTimeout")


def test_heartbeats_keep_a_task_alive(engine: Engine, tasks: str, tmp_path: Path) -> None:
    where = tmp_path / "token"
    definition = callback_definition(tasks, HeartbeatSeconds=1)
    record = engine.start(definition, {"where": str(where)})
    token = poll(lambda: where.exists() and where.read_text())
    until = time.monotonic() + 2.5
    while time.monotonic() < until:
        engine.send_task_heartbeat(token)
        threading.Event().wait(0.3)
    assert engine.describe(record.execution_id).status == "RUNNING"
    engine.send_task_success(token, "done")
    assert engine.wait(record.execution_id, timeout=20).output == "done"


def test_wrong_tokens_are_rejected(engine: Engine) -> None:
    with pytest.raises(TaskTokenError):
        engine.send_task_success("not-a-token", {})
    with pytest.raises(TaskTokenError):
        engine.send_task_success("sf1.bm9zdWNo", {})


def test_many_concurrent_callbacks_do_not_mix_tokens(
    engine: Engine, tasks: str, tmp_path: Path
) -> None:
    runs = []
    for i in range(8):
        where = tmp_path / f"token-{i}"
        runs.append((engine.start(callback_definition(tasks), {"where": str(where)}), where))
    for i, (_, where) in enumerate(reversed(runs)):
        engine.send_task_success(poll(lambda w=where: w.exists() and w.read_text()), {"n": i})
    outputs = sorted(engine.wait(r.execution_id, timeout=20).output["n"] for r, _ in runs)
    assert outputs == list(range(8))


# ------------------------------------------------------------------------------ activities


def test_activity_with_two_concurrent_pollers(engine: Engine) -> None:
    definition = {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": "stackflow:activity:review", "End": True}},
    }
    records = [engine.start(definition, {"doc": i}) for i in range(2)]
    taken: list[dict[str, Any]] = []
    lock = threading.Lock()

    def poller(name: str) -> None:
        task = poll(lambda: engine.get_activity_task("review", name))
        with lock:
            taken.append(task)
        engine.send_task_success(task["taskToken"], {"reviewed": task["input"]["doc"]})

    threads = [threading.Thread(target=poller, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(t["input"]["doc"] for t in taken) == [0, 1]
    assert len({t["taskToken"] for t in taken}) == 2
    outputs = [engine.wait(r.execution_id, timeout=20).output for r in records]
    assert sorted(o["reviewed"] for o in outputs) == [0, 1]
    assert engine.get_activity_task("review") is None


# ------------------------------------------------------------------------------ children


CHILD = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ok", "BooleanEquals": False, "Next": "Bad"}],
            "Default": "Good",
        },
        "Good": {
            "Type": "Pass",
            "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
            "End": True,
        },
        "Bad": {"Type": "Fail", "Error": "ChildFailed", "Cause": "asked to fail"},
    },
}


def parent(resource: str) -> dict[str, Any]:
    return {
        "StartAt": "Child",
        "States": {
            "Child": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": {
                    "StateMachineArn": "child",
                    "Input": {
                        "n.$": "$.n",
                        "ok.$": "$.ok",
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                    },
                },
                "End": True,
            }
        },
    }


def test_child_workflow_sync_and_sync2(engine: Engine) -> None:
    engine.deploy(CHILD, "child")
    sync2 = engine.run(
        parent("arn:aws:states:::states:startExecution.sync:2"), {"n": 4, "ok": True}, timeout=30
    )
    assert sync2.status == "SUCCEEDED"
    assert sync2.output["Status"] == "SUCCEEDED"
    assert sync2.output["Output"] == {"doubled": 8}
    sync = engine.run(
        parent("arn:aws:states:::states:startExecution.sync"), {"n": 1, "ok": True}, timeout=30
    )
    assert json.loads(sync.output["Output"]) == {"doubled": 2}
    children = engine.list_executions(parent_id=sync.execution_id)
    assert [c.workflow for c in children] == ["child"]
    started_by = children[0].input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"]
    assert started_by.endswith(sync.name)


def test_child_failure_fails_the_parent_task(engine: Engine) -> None:
    engine.deploy(CHILD, "child")
    result = engine.run(
        parent("arn:aws:states:::states:startExecution.sync:2"), {"n": 1, "ok": False}, timeout=30
    )
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert json.loads(result.cause or "{}")["Error"] == "ChildFailed"


def test_stopping_a_parent_stops_its_child(engine: Engine) -> None:
    engine.deploy(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}, "child"
    )
    record = engine.start(
        parent("arn:aws:states:::states:startExecution.sync"), {"n": 1, "ok": True}
    )
    child = poll(lambda: engine.list_executions(parent_id=record.execution_id))[0]
    engine.stop(record.execution_id, error="Manual", cause="test")
    assert engine.wait(record.execution_id, timeout=20).status == "ABORTED"
    assert engine.wait(child.execution_id, timeout=20).status == "ABORTED"


# ----------------------------------------------------------------- redrive, versions, names


def test_redrive_restarts_from_the_failed_state(engine: Engine, tasks: str, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Result": {"fixed": str(fixed)}, "Next": "Flaky"},
            "Flaky": {
                "Type": "Task",
                "Resource": f"python:{tasks}:attempt",
                "ResultSelector": {"fixed.$": "$.fixed", "redrives.$": "$$.Execution.RedriveCount"},
                "End": True,
            },
        },
    }
    failed = engine.run(definition, {}, timeout=20)
    assert (failed.status, failed.error) == ("FAILED", "RuntimeError")
    fixed.write_text("yes")
    engine.redrive(failed.execution_id)
    again = engine.wait(failed.execution_id, timeout=20)
    assert (again.status, again.output) == ("SUCCEEDED", {"fixed": True, "redrives": 1})
    types = [e.type for e in engine.history(failed.execution_id)]
    assert types.count("PassStateEntered") == 1
    assert "ExecutionRedriven" in types
    with pytest.raises(StackflowError):
        engine.redrive(failed.execution_id)


def test_executions_keep_their_version(engine: Engine) -> None:
    v1 = engine.deploy(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}}, "versioned"
    )
    waiting = engine.start("versioned", {})
    v2 = engine.deploy(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 2, "End": True}}}, "versioned"
    )
    assert (v1.version, v2.version) == (1, 2)
    assert engine.wait(waiting.execution_id, timeout=20).output == 1
    assert engine.run("versioned", {}, timeout=20).output == 2
    assert engine.run("versioned:1", {}, timeout=20).output == 1


def test_execution_names_are_unique_per_workflow(engine: Engine) -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    first = engine.start(definition, {"x": 1}, name="nightly", workflow="w")
    assert (
        engine.start(definition, {"x": 1}, name="nightly", workflow="w").execution_id
        == first.execution_id
    )
    with pytest.raises(ExecutionAlreadyExists):
        engine.start(definition, {"x": 2}, name="nightly", workflow="w")


# ------------------------------------------------------------------------------ recovery


def test_another_runtime_finishes_a_crashed_runtimes_wait(tmp_path: Path) -> None:
    path = tmp_path / "sf.db"
    definition = {
        "StartAt": "Before",
        "States": {
            "Before": {"Type": "Pass", "Result": {"n": 1}, "Next": "Nap"},
            "Nap": {"Type": "Wait", "Seconds": 2, "Next": "After"},
            "After": {"Type": "Pass", "End": True},
        },
    }
    first = Engine(SQLiteStore(path), lease_seconds=1.0, poll_interval=0.02)
    record = first.start(definition, {})
    poll(lambda: any(e.type == "WaitStateEntered" for e in first.history(record.execution_id)))
    entered = time.time()
    first.close(release=False)  # a crash: the lease is not given back
    second = Engine(SQLiteStore(path), claim=True, lease_seconds=1.0, poll_interval=0.02)
    try:
        final = second.wait(record.execution_id, timeout=20)
        assert (final.status, final.output) == ("SUCCEEDED", {"n": 1})
        assert time.time() - entered >= 1.9  # the Wait was not skipped
        types = [e.type for e in second.history(record.execution_id)]
        assert types.count("PassStateEntered") == 2
        assert types.count("WaitStateEntered") == 1
        ids = [e.id for e in second.history(record.execution_id)]
        assert ids == list(range(1, len(ids) + 1))
    finally:
        second.close()


def test_submitted_execution_runs_on_a_worker(tmp_path: Path) -> None:
    path = tmp_path / "sf.db"
    client = Engine(SQLiteStore(path))
    worker = Engine(SQLiteStore(path), claim=True, poll_interval=0.02)
    try:
        record = client.start(
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 7, "End": True}}},
            {},
            drive=False,
        )
        assert client.describe(record.execution_id).owner is None
        assert worker.wait(record.execution_id, timeout=20).output == 7
    finally:
        worker.close()
        client.close()


def test_children_started_by_a_crashed_runtime_still_report_to_their_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sf.db"
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    first = Engine(SQLiteStore(path), lease_seconds=1.0, poll_interval=0.02)
    real_post = first.runtime._post

    def post(item: tuple[Any, ...]) -> None:  # dies after the step that created the children
        if not (item[0] == "start" and item[1].parent_id is not None):
            real_post(item)

    monkeypatch.setattr(first.runtime, "_post", post)
    parent = first.start(definition, [1, 2, 3])
    poll(lambda: len(first.list_executions(parent_id=parent.execution_id)) == 3)
    first.close(release=False)
    second = Engine(SQLiteStore(path), claim=True, lease_seconds=1.0, poll_interval=0.02)
    try:
        final = second.wait(parent.execution_id, timeout=20)
        assert (final.status, final.output) == ("SUCCEEDED", [1, 2, 3])
    finally:
        second.close()
