"""Tests of the CLI's progress tracking and display."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from stackflow.cli.progress import (
    LiveProgress,
    PlainProgress,
    ProgressTracker,
    definition_states,
    plain_line,
    render_progress,
)
from stackflow.engine import Engine
from stackflow.store.base import HistoryEvent
from stackflow.store.memory import MemoryStore

MAP_WF: dict[str, Any] = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Result": [1, 2, 3, 4], "Next": "Loop"},
        "Loop": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "Inner",
                "States": {"Inner": {"Type": "Pass", "End": True}},
            },
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "End": True}}},
            ],
            "End": True,
        },
    },
}


def ev(id: int, type: str, prev: int, **details: Any) -> HistoryEvent:
    return HistoryEvent(id, type, 1000.0 + id, prev, details)


def test_definition_states_nesting_and_order() -> None:
    assert definition_states(MAP_WF) == [
        ("Start", "Pass", 0),
        ("Loop", "Map", 0),
        ("Inner", "Pass", 1),
        ("Both", "Parallel", 0),
        ("Left", "Pass", 1),
        ("Right", "Pass", 1),
    ]
    assert definition_states(None) == []


def test_tracker_on_real_execution() -> None:
    tracker = ProgressTracker(MAP_WF)
    with Engine(MemoryStore()) as engine:
        record = engine.run(MAP_WF, {}, listener=tracker.on_event, timeout=30)
    assert record.status == "SUCCEEDED"
    assert tracker.status == "SUCCEEDED"
    loop = tracker.get("Loop")
    inner = tracker.get("Inner")
    assert loop is not None and inner is not None
    assert (loop.iterations, loop.iterations_succeeded, loop.status) == (4, 4, "succeeded")
    assert loop.iterations_text() == "4/4 done"
    assert (inner.entered, inner.succeeded, inner.depth) == (4, 4, 1)
    assert inner.runs_text() == "4"
    assert [s.status for s in tracker.snapshot()] == ["succeeded"] * 6


def test_tracker_retry_catch_and_failure() -> None:
    tracker = ProgressTracker()
    events = [
        ev(1, "ExecutionStarted", 0, input={}),
        ev(2, "TaskStateEntered", 1, name="Work", input={}),
        ev(3, "TaskScheduled", 2, resource="python:m:f"),
        ev(4, "TaskStarted", 3, resource="python:m:f"),
    ]
    for event in events:
        tracker.on_event(event)
    work = tracker.get("Work")
    assert work is not None and work.status == "entered"
    tracker.on_event(ev(5, "TaskFailed", 4, error="ValueError", cause="x"))
    assert tracker.get("Work").status == "failed"  # type: ignore[union-attr]
    tracker.on_event(ev(6, "TaskScheduled", 5, resource="python:m:f"))
    assert tracker.get("Work").status == "retrying"  # type: ignore[union-attr]
    tracker.on_event(ev(7, "TaskStarted", 6, resource="python:m:f"))
    tracker.on_event(ev(8, "TaskFailed", 7, error="ValueError", cause="x"))
    tracker.on_event(ev(9, "TaskStateExited", 8, name="Work", output={}))
    work = tracker.get("Work")
    assert work is not None
    assert (work.status, work.failed, work.runs_text()) == ("caught", 2, "1 (2 failed)")
    tracker.on_event(ev(10, "FailStateEntered", 9, name="Stop", input={}))
    tracker.on_event(ev(11, "ExecutionFailed", 10, error="E", cause="c"))
    assert tracker.get("Stop").status == "failed"  # type: ignore[union-attr]
    assert tracker.status == "FAILED"


def test_tracker_marks_running_states_aborted() -> None:
    tracker = ProgressTracker()
    tracker.on_event(ev(1, "WaitStateEntered", 0, name="Sleep", input={}))
    tracker.on_event(ev(2, "ExecutionAborted", 1, error=None, cause=None))
    assert tracker.get("Sleep").status == "aborted"  # type: ignore[union-attr]
    assert tracker.status == "ABORTED"


def test_map_iteration_failures_are_counted() -> None:
    tracker = ProgressTracker()
    tracker.on_event(ev(1, "MapStateEntered", 0, name="M", input=[1, 2]))
    tracker.on_event(ev(2, "MapStateStarted", 1, length=2))
    tracker.on_event(ev(3, "MapIterationStarted", 2, name="M", index=0))
    tracker.on_event(ev(4, "MapIterationFailed", 3, name="M", index=0))
    tracker.on_event(ev(5, "MapIterationAborted", 2, name="M", index=1))
    tracker.on_event(ev(6, "MapStateFailed", 4, error="E", cause=None))
    m = tracker.get("M")
    assert m is not None
    assert m.status == "failed"
    assert m.iterations_text() == "0/2 done, 1 failed, 1 aborted"


def test_plain_line() -> None:
    assert plain_line(ev(2, "PassStateEntered", 1, name="Start"), "Start") == (
        "PassStateEntered  Start"
    )
    assert plain_line(ev(5, "MapIterationStarted", 4, name="M", index=3), "M") == (
        "MapIterationStarted  M[3]"
    )
    assert plain_line(ev(5, "TaskFailed", 4, error="Oops", cause="c"), "T") == (
        "TaskFailed  T  Oops"
    )
    assert plain_line(ev(1, "ExecutionStarted", 0, input={}), None) is None


def test_plain_progress_writes_lines() -> None:
    stream = io.StringIO()
    listener = PlainProgress(stream)
    listener(ev(1, "ExecutionStarted", 0, input={}))
    listener(ev(2, "TaskStateEntered", 1, name="T", input={}))
    listener(ev(3, "TaskScheduled", 2, resource="r"))
    listener(ev(4, "ExecutionSucceeded", 3, output={}))
    assert stream.getvalue() == "TaskStateEntered  T\nTaskScheduled  T\n"


def test_listener_never_raises() -> None:
    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError("closed")

    listener = PlainProgress(Broken())
    listener(ev(1, "PassStateEntered", 0, name="A"))  # no exception
    live = LiveProgress()
    live(HistoryEvent(1, "PassStateEntered", 0.0, 0, None))  # type: ignore[arg-type]


def test_render_and_live_progress() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120, record=True)
    with (
        Engine(MemoryStore()) as engine,
        LiveProgress(MAP_WF, console=console, title="map") as live,
    ):
        record = engine.run(MAP_WF, {}, listener=live, timeout=30)
    assert record.status == "SUCCEEDED"
    text = console.export_text()
    assert "map" in text
    assert "4/4 done" in text
    assert "✓ succeeded" in text
    assert "  Inner" in text  # nested under Loop

    plain = Console(file=io.StringIO(), width=120, record=True)
    plain.print(render_progress(ProgressTracker(MAP_WF), "title"))
    pending = plain.export_text()
    assert "RUNNING" in pending
    assert pending.count("·") == 6


def test_live_progress_on_a_terminal(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "stackflow"
    (tmp_path / "map.json").write_text(json.dumps(MAP_WF))
    master, slave = pty.openpty()
    env = dict(os.environ, STACKFLOW_HOME=str(tmp_path / "home"), TERM="xterm", COLUMNS="120")
    chunks: list[bytes] = []
    try:
        proc = subprocess.Popen(
            [str(script), "workflow", "run", "map.json"],
            stdout=subprocess.PIPE,
            stderr=slave,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
            env=env,
        )
        os.close(slave)
        while True:  # read the terminal until the child closes it (EIO)
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert json.loads(stdout) == [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert "4/4 done" in screen
    assert "✓ succeeded" in screen
    assert "PassStateEntered  Start" not in screen  # the live table, not plain lines
