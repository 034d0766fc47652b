"""Tests of the stackflow:exec Task resource."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from stackflow.errors import WorkflowFailure
from stackflow.workflow.tasks import EXEC_RESOURCE, TaskRequest, exec_task, resolve_task
from stackflow.workflow.tasks.exec_task import KILL_GRACE_SECONDS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


def run(payload: object, **kwargs: object) -> object:
    handler = resolve_task(EXEC_RESOURCE)
    return handler(TaskRequest(EXEC_RESOURCE, payload, {}, **kwargs))  # type: ignore[arg-type]


def wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if predicate():
            return True
        pause.wait(0.01)
    return bool(predicate())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_list_command_success() -> None:
    result = run(
        {
            "Command": [
                sys.executable,
                "-c",
                "import sys; print('out'); print('err', file=sys.stderr)",
            ]
        }
    )
    assert result == {"ExitCode": 0, "Stdout": "out\n", "Stderr": "err\n"}


def test_string_command_runs_through_shell() -> None:
    result = run({"Command": "echo a && echo b | tr b c"})
    assert result == {"ExitCode": 0, "Stdout": "a\nc\n", "Stderr": ""}


def test_non_zero_exit_fails_with_tails() -> None:
    with pytest.raises(WorkflowFailure) as info:
        run({"Command": "echo partial; echo oops >&2; exit 3"})
    assert info.value.error == "Exec.NonZeroExit"
    cause = json.loads(info.value.cause or "")
    assert cause == {"ExitCode": 3, "Stdout": "partial\n", "Stderr": "oops\n"}


def test_env_is_merged_over_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKFLOW_INHERITED", "kept")
    monkeypatch.setenv("STACKFLOW_REMOVED", "gone")
    result = run(
        {
            "Command": 'echo "$GREETING $COUNT $STACKFLOW_INHERITED ${STACKFLOW_REMOVED:-unset}"',
            "Env": {"GREETING": "hello", "COUNT": 3, "STACKFLOW_REMOVED": None},
        }
    )
    assert result["Stdout"] == "hello 3 kept unset\n"  # type: ignore[index]


def test_cwd(tmp_path: Path) -> None:
    result = run({"Command": ["pwd"], "Cwd": str(tmp_path)})
    assert Path(result["Stdout"].strip()).resolve() == tmp_path.resolve()  # type: ignore[index]


def test_stdin_is_passed() -> None:
    result = run({"Command": ["cat"], "Stdin": "line one\nline two\n"})
    assert result["Stdout"] == "line one\nline two\n"  # type: ignore[index]


def test_stdin_reaches_a_command_that_runs_longer_than_one_poll() -> None:
    # The command reads its input only after a few polls went by without it finishing.
    result = run({"Command": "sleep 0.3; cat", "Stdin": "late reader\n"})
    assert result["Stdout"] == "late reader\n"  # type: ignore[index]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Command": []},
        {"Command": ""},
        {"Command": [None]},
        {"Command": 5},
        "echo",
        {"Command": "x", "Cwd": 1},
    ],
)
def test_invalid_input(payload: object) -> None:
    with pytest.raises(WorkflowFailure) as info:
        run(payload)
    assert info.value.error == "Exec.InvalidInput"


def test_missing_program_fails_to_start() -> None:
    with pytest.raises(WorkflowFailure) as info:
        run({"Command": ["/nonexistent/program-xyz"]})
    assert info.value.error == "Exec.StartFailed"


def test_cancel_kills_the_process_group_quickly(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 30 & echo $! > {pids}.bg; echo $$ > {pids}.tmp; mv {pids}.tmp {pids}; wait"
    cancel = threading.Event()
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            run({"Command": ["sh", "-c", script]}, cancel=cancel)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target)
    worker.start()
    assert wait_for(pids.exists), "the command never started"
    leader = int(pids.read_text())
    background = int(Path(f"{pids}.bg").read_text())
    assert alive(leader) and alive(background)

    started = time.monotonic()
    cancel.set()
    worker.join(timeout=KILL_GRACE_SECONDS + 5)
    elapsed = time.monotonic() - started
    assert not worker.is_alive()
    assert elapsed < KILL_GRACE_SECONDS + 2
    error = outcome.get("error")
    assert isinstance(error, WorkflowFailure) and error.error == "Exec.Cancelled"
    assert wait_for(lambda: not alive(leader) and not alive(background), timeout=5)


def test_timeout_stops_the_command() -> None:
    started = time.monotonic()
    with pytest.raises(WorkflowFailure) as info:
        run({"Command": ["sleep", "30"]}, timeout=0.2)
    assert info.value.error == "States.Timeout"
    assert time.monotonic() - started < 5


def test_sigterm_ignoring_process_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exec_task, "KILL_GRACE_SECONDS", 0.3)
    started = time.monotonic()
    with pytest.raises(WorkflowFailure) as info:
        run({"Command": "trap '' TERM; sleep 30 & wait"}, timeout=0.2)
    assert info.value.error == "States.Timeout"
    assert time.monotonic() - started < 5
