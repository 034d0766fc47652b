"""Crash recovery: an apply killed with SIGKILL mid-way is rolled back by the next command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackflow.stacks import StackService
from stackflow.store import open_store

TEMPLATE = """
Resources:
  Done:
    Type: Local::File
    Properties: {Path: done.txt, Content: created before the crash}
  Slow:
    Type: Local::Command
    DependsOn: Done
    Properties:
      Create: "touch started; while [ ! -f release ]; do sleep 0.05; done"
      Delete: "rm -f started"
"""

APPLY_SCRIPT = """
import sys
from stackflow.stacks import StackService
from stackflow.store import open_store
store = open_store(sys.argv[1], durability="normal")
StackService(store.stacks, home=sys.argv[2], lease_seconds=60).apply(sys.argv[3], "crashy")
"""


def wait_for(path: Path, deadline_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.02)


@pytest.mark.parametrize("command", ["apply", "recover"])
def test_kill_9_mid_apply_then_recovery(tmp_path: Path, command: str) -> None:
    template = tmp_path / "crash.yaml"
    template.write_text(TEMPLATE)
    db = tmp_path / "home" / "stackflow.db"
    db.parent.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", APPLY_SCRIPT, str(db), str(tmp_path / "home"), str(template)],
        cwd=tmp_path,
    )
    try:
        wait_for(tmp_path / "started")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        (tmp_path / "release").touch()  # lets the orphaned shell loop end
    assert (tmp_path / "done.txt").exists()
    store = open_store(str(db), durability="normal")
    try:
        service = StackService(store.stacks, home=tmp_path / "home", lease_seconds=60)
        interrupted = store.stacks.get_stack("crashy")
        assert interrupted.status == "CREATE_IN_PROGRESS"
        assert interrupted.lock_owner is not None  # the dead owner's lease is still running
        if command == "recover":
            result = service.recover("crashy")
            assert result is not None and result.status == "ROLLBACK_COMPLETE"
        else:
            # the next apply recovers first (ROLLBACK_COMPLETE), then creates the stack afresh
            (tmp_path / "release").touch()
            result = service.apply(template, "crashy")
            assert result.status == "CREATE_COMPLETE", result.root_causes
            assert service.delete("crashy").status == "DELETE_COMPLETE"
        assert not (tmp_path / "done.txt").exists()
        assert not (tmp_path / "started").exists()
        assert store.stacks.list_resources(interrupted.stack_id) == []
        old = store.stacks.get_stack(interrupted.stack_id)
        assert old.status in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE")
        intents = store.stacks.list_intents(interrupted.operation_id or "")
        assert {i.logical_id: i.state for i in intents if i.seq > 0} == {
            "Done": "UNDONE",
            "Slow": "UNDONE",
        }
    finally:
        store.close()
