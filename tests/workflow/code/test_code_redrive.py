"""Redrive of code executions: after a Stackflow.StepMismatch, and after a failed step."""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stackflow.cli.main import cli
from stackflow.engine import Engine
from stackflow.store.sqlite import SQLiteStore

MODULE_NAME = "sf_redrive_flows"

V1 = """
import pathlib
import stackflow

LOG = pathlib.Path(__file__).with_name("side-effects.txt")

@stackflow.step
def note(text):
    with open(LOG, "a") as f:
        f.write(text + "\\n")
    return text

@stackflow.workflow
def approval(request):
    note("asked")
    answer = stackflow.wait_for_event("approval")
    note("answered")
    return {"request": request, "answer": answer}

@stackflow.step
def fragile(n):
    note("fragile")
    if not pathlib.Path(__file__).with_name("fixed").exists():
        raise ConnectionError("backend down")
    return n * 2

@stackflow.workflow
def breaks(n):
    first = note("before")
    return {"first": first, "doubled": fragile(n)}
"""

#: The code changed under the running execution: a new step before the wait.
V2 = V1.replace(
    '    answer = stackflow.wait_for_event("approval")',
    '    note("extra")\n    answer = stackflow.wait_for_event("approval")',
)

#: The fix: the new step only where the history has room for it.
V3 = V1.replace(
    '    answer = stackflow.wait_for_event("approval")',
    '    if stackflow.patched("extra"):\n'
    '        note("extra")\n'
    '    answer = stackflow.wait_for_event("approval")',
)


def poll(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        threading.Event().wait(0.02)


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(text: str) -> None:
        (tmp_path / f"{MODULE_NAME}.py").write_text(textwrap.dedent(text))
        sys.modules.pop(MODULE_NAME, None)

    yield write
    sys.modules.pop(MODULE_NAME, None)


def effects(tmp_path: Path) -> list[str]:
    return (tmp_path / "side-effects.txt").read_text().split()


def mismatched_execution(tmp_path: Path, install: Callable[[str], None]) -> str:
    """Run V1 until it waits, crash, resume on V2: the execution fails with StepMismatch."""
    install(V1)
    (tmp_path / "home").mkdir()
    first = Engine(SQLiteStore(tmp_path / "home" / "stackflow.db"), lease_seconds=1.0)
    execution_id = first.start(f"{MODULE_NAME}:approval", {"id": 1}).execution_id
    poll(lambda: any(e.type == "EventWaitStarted" for e in first.history(execution_id)))
    first.close(release=False)  # a crash
    install(V2)
    second = Engine(
        SQLiteStore(tmp_path / "home" / "stackflow.db"),
        claim=True,
        lease_seconds=1.0,
        poll_interval=0.02,
    )
    try:
        final = second.wait(
            poll(lambda: second.describe(execution_id).status != "RUNNING" and execution_id),
            timeout=20,
        )
    finally:
        second.close()
    assert (final.status, final.error) == ("FAILED", "Stackflow.StepMismatch")
    assert final.cause is not None
    assert final.cause.startswith(
        "Step 1: the history records event 'approval' but the code now calls step 'note'."
    )
    return execution_id


def test_redrive_after_a_step_mismatch_goes_on_with_the_patched_code(
    tmp_path: Path, install: Callable[[str], None]
) -> None:
    execution_id = mismatched_execution(tmp_path, install)
    install(V3)
    with Engine.open(tmp_path / "home", poll_interval=0.02) as engine:
        assert engine.redrive(execution_id).execution_id == execution_id
        poll(lambda: any(e.type == "ExecutionRedriven" for e in engine.history(execution_id)))
        assert engine.describe(execution_id).status == "RUNNING"
        engine.send_event(execution_id, "approval", "yes")
        final = engine.wait(execution_id, timeout=20)
        history = engine.history(execution_id)
        assert (final.status, final.output) == (
            "SUCCEEDED",
            {"request": {"id": 1}, "answer": "yes"},
        )
        # the old execution stays on the old path: patched("extra") was False for it
        assert effects(tmp_path) == ["asked", "answered"]
        assert not any(e.type == "StepPatched" for e in history)
        assert [e.id for e in history] == list(range(1, len(history) + 1))
        assert [e.type for e in history].count("ExecutionRedriven") == 1
        fresh = engine.start(f"{MODULE_NAME}:approval", {"id": 2}).execution_id
        poll(lambda: any(e.type == "EventWaitStarted" for e in engine.history(fresh)))
        engine.send_event(fresh, "approval", "ok")
        assert engine.wait(fresh, timeout=20).status == "SUCCEEDED"
    assert effects(tmp_path)[2:] == ["asked", "extra", "answered"]


@pytest.mark.parametrize("wait", [True, False])
def test_redrive_on_the_command_line(
    wait: bool, tmp_path: Path, install: Callable[[str], None]
) -> None:
    execution_id = mismatched_execution(tmp_path, install)
    install(V3)
    home = str(tmp_path / "home")
    if wait:
        # the event is stored before the redrive (send_event refuses an ended execution)
        with Engine.open(home) as engine:
            engine.store.add_request(execution_id, "event", "approval", "cli", time.time())
        args = ["--json"]
    else:
        args = ["--no-wait", "--json"]
    result = CliRunner().invoke(cli, ["workflow", "redrive", execution_id, *args, "--home", home])
    assert result.exit_code == 0, result.output
    if wait:
        data = json.loads(result.output)
        assert (data["status"], data["output"]) == (
            "SUCCEEDED",
            {"request": {"id": 1}, "answer": "cli"},
        )
        return
    assert json.loads(result.output) == {"execution": execution_id, "status": "RUNNING"}
    with Engine.open(home, claim=True, poll_interval=0.02) as engine:
        engine.send_event(execution_id, "approval", "cli")
        final = engine.wait(execution_id, timeout=20)
    assert (final.status, final.output) == ("SUCCEEDED", {"request": {"id": 1}, "answer": "cli"})


def test_redrive_after_a_failed_step_runs_that_step_again(
    tmp_path: Path, install: Callable[[str], None]
) -> None:
    install(V1)
    with Engine.open(tmp_path / "home", poll_interval=0.02) as engine:
        failed = engine.run(f"{MODULE_NAME}:breaks", 4, timeout=20)
        assert (failed.status, failed.error) == ("FAILED", "ConnectionError")
        (tmp_path / "fixed").write_text("")  # the backend is back
        engine.redrive(failed.execution_id)
        again = engine.wait(failed.execution_id, timeout=20)
        history = engine.history(failed.execution_id)
    # As Step Functions' redrive: the operation that failed runs again (the steps before it
    # replay their recorded results and do not run again).
    assert again.status == "SUCCEEDED"
    assert effects(tmp_path) == ["before", "fragile", "fragile"]
    assert [e.type for e in history].count("ExecutionRedriven") == 1
    assert [e.type for e in history].count("ExecutionFailed") == 1
