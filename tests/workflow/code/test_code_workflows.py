"""Workflows in Python code: checkpointed steps, retries, parallel steps, sleep, events,
code changes, and children across ASL and Python."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import stackflow
from stackflow.engine import Engine
from stackflow.store.sqlite import SQLiteStore
from stackflow.testing import run_workflow

CALLS: dict[str, int] = {}


def poll(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        threading.Event().wait(0.02)


@stackflow.step
def add_one(n: int) -> int:
    CALLS["add_one"] = CALLS.get("add_one", 0) + 1
    return n + 1


@stackflow.step(retries=3, interval=10, backoff=2)
def flaky(key: str) -> str:
    CALLS[key] = CALLS.get(key, 0) + 1
    if CALLS[key] < 3:
        raise ConnectionError("not yet")
    return f"ok after {CALLS[key]}"


@stackflow.step(retries=5, no_retry=(ValueError,))
def bad(_: Any) -> None:
    raise ValueError("never retried")


@stackflow.step(timeout=0.2)
def slow(_: Any) -> str:
    time.sleep(1)
    return "late"


@stackflow.workflow
def chain(n: int) -> int:
    for _ in range(5):
        n = add_one(n)
    return n


@stackflow.workflow(name="retrying")
def retrying(key: str) -> str:
    return flaky(key)


@stackflow.workflow
def not_retried(_: Any) -> str:
    try:
        bad(1)
    except ValueError as exc:
        return f"caught {exc}"
    return "no error"


@stackflow.workflow
def times_out(_: Any) -> str:
    return slow(1)


@stackflow.workflow
def fan(items: list[int]) -> dict[str, Any]:
    mapped = add_one.map(items, concurrency=3)
    futures = [add_one.submit(i * 10) for i in items]
    return {"mapped": mapped, "gathered": stackflow.gather(*futures)}


@stackflow.workflow
def napper(_: Any) -> str:
    stackflow.sleep(86_400)
    return "rested"


@stackflow.workflow
async def async_flow(n: int) -> int:
    return await async_double(n)


@stackflow.step
async def async_double(n: int) -> int:
    return n * 2


def test_chain_of_steps_is_recorded() -> None:
    CALLS.clear()
    result = run_workflow(chain, 1)
    assert (result.status, result.output) == ("SUCCEEDED", 6)
    assert CALLS["add_one"] == 5
    steps = [e.details["step"] for e in result.events if e.type == "TaskSucceeded"]
    assert steps == [0, 1, 2, 3, 4]
    assert result.events[0].type == "ExecutionStarted"
    assert result.events[-1].type == "ExecutionSucceeded"


def test_retries_with_backoff_on_the_fake_clock() -> None:
    CALLS.clear()
    result = run_workflow(retrying, "k1")
    assert (result.status, result.output) == ("SUCCEEDED", "ok after 3")
    failed = [e for e in result.events if e.type == "TaskFailed"]
    assert [e.details["final"] for e in failed] == [False, False]
    gap = failed[1].timestamp - failed[0].timestamp
    assert gap == pytest.approx(10, abs=1)


def test_no_retry_errors_and_timeouts() -> None:
    assert run_workflow(not_retried, None).output == "caught never retried"
    result = run_workflow(times_out, None, time_skipping=False)
    assert (result.status, result.error) == ("FAILED", "TimeoutError")


def test_map_submit_and_gather() -> None:
    result = run_workflow(fan, [1, 2, 3, 4])
    assert result.output == {"mapped": [2, 3, 4, 5], "gathered": [11, 21, 31, 41]}
    assert sorted(e.details["step"] for e in result.events if e.type == "TaskSucceeded") == list(
        range(8)
    )


def test_durable_sleep_skips_time_in_tests() -> None:
    started = time.monotonic()
    result = run_workflow(napper, None)
    assert (result.status, result.output) == ("SUCCEEDED", "rested")
    assert time.monotonic() - started < 5
    entered = next(e for e in result.events if e.type == "WaitStateEntered")
    assert entered.details["due"] - entered.timestamp == pytest.approx(86_400)


def test_async_workflow_and_step() -> None:
    assert run_workflow(async_flow, 21).output == 42


# ------------------------------------------------------------------------------ on SQLite


MODULE = """
import pathlib
import stackflow

@stackflow.step
def note(text):
    with open(pathlib.Path(__file__).with_name("side-effects.txt"), "a") as f:
        f.write(text + "\\n")
    return text

@stackflow.workflow
def approval(request):
    note("asked")
    answer = stackflow.wait_for_event("approval", timeout=3600)
    note("answered")
    return {"request": request, "answer": answer}
"""

MODULE_V2 = MODULE.replace('note("answered")', 'note("changed")')

MODULE_V3 = MODULE.replace(
    "    answer = stackflow.wait_for_event",
    '    if stackflow.patched("audit"):\n'
    '        note("audited")\n'
    "    answer = stackflow.wait_for_event",
)


@pytest.fixture
def code_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(text: str) -> None:
        (tmp_path / "sf_code_flows.py").write_text(textwrap.dedent(text))
        sys.modules.pop("sf_code_flows", None)

    yield write
    sys.modules.pop("sf_code_flows", None)


def test_wait_for_event_and_send_event(tmp_path: Path, code_module: Callable[[str], None]) -> None:
    code_module(MODULE)
    with Engine(SQLiteStore(tmp_path / "sf.db"), poll_interval=0.02) as engine:
        record = engine.start("sf_code_flows:approval", {"id": 7})
        poll(lambda: any(e.type == "EventWaitStarted" for e in engine.history(record.execution_id)))
        engine.send_event(record.execution_id, "approval", {"ok": True})
        final = engine.wait(record.execution_id, timeout=20)
        assert final.output == {"request": {"id": 7}, "answer": {"ok": True}}
    lines = (tmp_path / "side-effects.txt").read_text().split()
    assert lines == ["asked", "answered"]


def crash_and_resume(tmp_path: Path, code_module: Callable[[str], None], new_code: str) -> Any:
    """Run v1 until it waits, crash, install ``new_code``, resume on a worker, send the event."""
    code_module(MODULE)
    path = tmp_path / "sf.db"
    first = Engine(SQLiteStore(path), lease_seconds=1.0, poll_interval=0.02)
    record = first.start("sf_code_flows:approval", {"id": 1})
    poll(lambda: any(e.type == "EventWaitStarted" for e in first.history(record.execution_id)))
    first.close(release=False)  # a crash
    code_module(new_code)
    second = Engine(SQLiteStore(path), claim=True, lease_seconds=1.0, poll_interval=0.02)
    try:
        second.send_event(record.execution_id, "approval", "yes")
        return second.wait(record.execution_id, timeout=20), second.history(record.execution_id)
    finally:
        second.close()


def test_recovery_replays_completed_steps_without_running_them(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    final, history = crash_and_resume(tmp_path, code_module, MODULE)
    assert (final.status, final.output) == ("SUCCEEDED", {"request": {"id": 1}, "answer": "yes"})
    assert (tmp_path / "side-effects.txt").read_text().split() == ["asked", "answered"]
    assert [e.id for e in history] == list(range(1, len(history) + 1))


def test_a_changed_step_fails_with_the_documented_error(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    final, _ = crash_and_resume(
        tmp_path,
        code_module,
        MODULE_V2.replace(
            'answer = stackflow.wait_for_event("approval", timeout=3600)',
            'note("extra")\n    answer = stackflow.wait_for_event("approval", timeout=3600)',
        ),
    )
    assert (final.status, final.error) == ("FAILED", "Stackflow.StepMismatch")
    assert final.cause is not None
    assert "Step 1: the history records event 'approval' but the code now calls step 'note'" in (
        final.cause
    )


def test_patched_keeps_old_executions_on_the_old_path(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    final, _ = crash_and_resume(tmp_path, code_module, MODULE_V3)
    assert final.status == "SUCCEEDED"
    # the execution was past the patch point before the change: it did not audit
    assert (tmp_path / "side-effects.txt").read_text().split() == ["asked", "answered"]
    with Engine(SQLiteStore(tmp_path / "new.db"), poll_interval=0.02) as engine:
        fresh = engine.start("sf_code_flows:approval", {"id": 2})
        poll(lambda: any(e.type == "EventWaitStarted" for e in engine.history(fresh.execution_id)))
        engine.send_event(fresh.execution_id, "approval", "yes")
        assert engine.wait(fresh.execution_id, timeout=20).status == "SUCCEEDED"
    lines = (tmp_path / "side-effects.txt").read_text().split()
    assert lines[2:] == ["asked", "audited", "answered"]  # a new execution takes the new path


# ------------------------------------------------------------------------------ ASL <-> Python

CHILDREN = """
import stackflow

@stackflow.step
def double(n):
    return n * 2

@stackflow.workflow
def doubler(event):
    return {"doubled": double(event["n"])}

@stackflow.workflow
def calls_asl(event):
    return stackflow.run_child("asl-adder", {"n": event["n"]})
"""


def test_asl_task_runs_a_python_workflow_as_a_child(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    code_module(CHILDREN)
    definition = {
        "StartAt": "Code",
        "States": {
            "Code": {"Type": "Task", "Resource": "python:sf_code_flows:doubler", "End": True}
        },
    }
    with Engine(SQLiteStore(tmp_path / "sf.db"), poll_interval=0.02) as engine:
        result = engine.run(definition, {"n": 21}, timeout=20)
        assert (result.status, result.output) == ("SUCCEEDED", {"doubled": 42})
        child = engine.list_executions(parent_id=result.execution_id)[0]
        assert (child.workflow, child.status) == ("doubler", "SUCCEEDED")


def test_python_workflow_runs_an_asl_child(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    code_module(CHILDREN)
    adder = {
        "StartAt": "Add",
        "States": {
            "Add": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.n, 1)"}, "End": True}
        },
    }
    with Engine(SQLiteStore(tmp_path / "sf.db"), poll_interval=0.02) as engine:
        engine.deploy(adder, "asl-adder")
        result = engine.run("sf_code_flows:calls_asl", {"n": 1}, timeout=20)
        assert (result.status, result.output) == ("SUCCEEDED", {"sum": 2})


SLOW = """
import time
import stackflow

@stackflow.step
def work(i):
    time.sleep(0.4)
    return i

@stackflow.workflow
def slow_flow(n):
    return [work(i) for i in range(5)]
"""


def test_a_worker_keeps_the_lease_of_a_long_code_execution(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    code_module(SLOW)
    path = tmp_path / "sf.db"
    claims: list[str] = []
    client = Engine(SQLiteStore(path))
    worker = Engine(SQLiteStore(path), claim=True, lease_seconds=1.0, poll_interval=0.02)
    worker.runtime.on_claim = lambda record: claims.append(record.execution_id)
    try:
        record = client.start("sf_code_flows:slow_flow", 0, drive=False)
        final = worker.wait(record.execution_id, timeout=30)
        assert (final.status, final.output) == ("SUCCEEDED", [0, 1, 2, 3, 4])
        assert claims == [record.execution_id]  # renewed, never lost and taken again
    finally:
        worker.close()
        client.close()


PINGPONG = """
import stackflow

@stackflow.workflow
def waiter(_):
    return stackflow.wait_for_event("ping", timeout=600)

@stackflow.workflow
def sender(target):
    stackflow.send_event(target, "ping", {"from": stackflow.current_execution_id()})
    return "sent"
"""


def test_a_workflow_sends_an_event_to_another(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    code_module(PINGPONG)
    with Engine(SQLiteStore(tmp_path / "sf.db"), poll_interval=0.02) as engine:
        waiting = engine.start("sf_code_flows:waiter", None)
        sent = engine.run("sf_code_flows:sender", waiting.execution_id, timeout=20)
        assert sent.output == "sent"
        received = engine.wait(waiting.execution_id, timeout=20)
        assert received.output == {"from": sent.execution_id}
        types = [e.type for e in engine.history(sent.execution_id)]
        assert types.count("EventSent") == 1


def test_send_event_from_the_cli(tmp_path: Path, code_module: Callable[[str], None]) -> None:
    import json as jsonlib
    import os
    import subprocess

    code_module(PINGPONG)
    home = tmp_path / "home"
    env = {**os.environ, "STACKFLOW_HOME": str(home)}
    stackflow_bin = str(Path(sys.executable).with_name("stackflow"))
    started = subprocess.run(
        [stackflow_bin, "workflow", "start", "sf_code_flows:waiter", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    execution_id = jsonlib.loads(started.stdout)["execution"]
    worker = subprocess.Popen(
        [stackflow_bin, "worker", "--lease-seconds", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sent = subprocess.run(
            [stackflow_bin, "workflow", "send-event", execution_id, "ping", "--payload", '"pong"'],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert sent.returncode == 0, sent.stderr
        with Engine.open(home) as reader:
            final = poll(lambda: (r := reader.describe(execution_id)).status != "RUNNING" and r)
        assert (final.status, final.output) == ("SUCCEEDED", "pong")
    finally:
        worker.terminate()
        worker.wait(timeout=20)


RETRYING = """
import pathlib
import stackflow

@stackflow.step(retries=3, interval=2, backoff=1)
def wobbly(n):
    calls = pathlib.Path(__file__).with_name("calls.txt")
    with open(calls, "a") as f:
        f.write("x")
    if len(calls.read_text()) < 2:
        raise ConnectionError("first attempt fails")
    return n + 1

@stackflow.workflow
def with_retry(n):
    return wobbly(n)
"""


def test_a_takeover_keeps_a_steps_retry_schedule(
    tmp_path: Path, code_module: Callable[[str], None]
) -> None:
    code_module(RETRYING)
    path = tmp_path / "sf.db"
    first = Engine(SQLiteStore(path), lease_seconds=1.0, poll_interval=0.02)
    record = first.start("sf_code_flows:with_retry", 1)
    failed = poll(lambda: [e for e in first.history(record.execution_id) if e.type == "TaskFailed"])
    first.close(release=False)  # a crash during the retry's wait
    second = Engine(SQLiteStore(path), claim=True, lease_seconds=1.0, poll_interval=0.02)
    try:
        final = second.wait(record.execution_id, timeout=20)
        history = second.history(record.execution_id)
    finally:
        second.close()
    assert (final.status, final.output) == ("SUCCEEDED", 2)
    assert (tmp_path / "calls.txt").read_text() == "xx"  # two attempts in all, not a new budget
    succeeded = next(e for e in history if e.type == "TaskSucceeded")
    assert succeeded.timestamp >= failed[0].details["retry_at"] - 0.01
    assert [e.type for e in history].count("TaskFailed") == 1
