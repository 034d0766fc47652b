"""Per-state status from an execution history: caught, retried, running, aborted, failed."""

from __future__ import annotations

from typing import Any

from stackflow.graph.asl_status import execution_status, state_statuses
from stackflow.store.base import HistoryEvent


def history(*rows: tuple[str, int, dict[str, Any]]) -> list[HistoryEvent]:
    """Events numbered from 1: (type, previous id, details)."""
    return [
        HistoryEvent(number, kind, float(number), previous, details)
        for number, (kind, previous, details) in enumerate(rows, start=1)
    ]


TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "x", "End": True}}}
PARALLEL = {
    "StartAt": "P",
    "States": {
        "P": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 5, "End": True}}},
                {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "x", "End": True}}},
            ],
            "End": True,
        }
    },
}


def test_retried_then_succeeded() -> None:
    events = history(
        ("ExecutionStarted", 0, {}),
        ("TaskStateEntered", 1, {"name": "T", "input": {"a": 1}}),
        ("TaskScheduled", 2, {}),
        ("TaskFailed", 3, {"error": "E", "cause": "c"}),
        ("TaskScheduled", 4, {}),
        ("TaskSucceeded", 5, {"output": 1}),
        ("TaskStateExited", 6, {"name": "T", "output": 1}),
        ("ExecutionSucceeded", 7, {"output": 1}),
    )
    state = state_statuses(events, TASK)["T"]
    assert state["status"] == "retried"
    assert (state["attempts"], state["retries"], state["error"]) == (2, 1, "E")
    assert (state["input"], state["output"]) == ({"a": 1}, 1)
    assert (state["first_event"], state["last_event"]) == (2, 7)
    assert execution_status(events) == "SUCCEEDED"


def test_running_then_retrying() -> None:
    rows = [
        ("ExecutionStarted", 0, {}),
        ("TaskStateEntered", 1, {"name": "T"}),
        ("TaskScheduled", 2, {}),
    ]
    assert state_statuses(history(*rows), TASK)["T"]["status"] == "running"
    rows.append(("TaskFailed", 3, {"error": "E"}))
    assert state_statuses(history(*rows), TASK)["T"]["status"] == "retrying"
    rows.append(("TaskScheduled", 4, {}))
    state = state_statuses(history(*rows), TASK)["T"]
    assert (state["status"], state["retries"], state["attempts"]) == ("running", 1, 2)
    assert execution_status(history(*rows)) == "RUNNING"


def test_failed_branch_caught_by_parallel_cancels_the_other_branch() -> None:
    events = history(
        ("ExecutionStarted", 0, {}),
        ("ParallelStateEntered", 1, {"name": "P"}),
        ("ParallelStateStarted", 2, {}),
        ("WaitStateEntered", 3, {"name": "A"}),
        ("TaskStateEntered", 3, {"name": "B"}),
        ("TaskScheduled", 5, {}),
        ("TaskFailed", 6, {"error": "Boom", "cause": "why"}),
        ("ParallelStateFailed", 3, {"error": "Boom"}),
        ("ParallelStateExited", 8, {"name": "P", "output": {}}),
        ("ExecutionSucceeded", 9, {}),
    )
    states = state_statuses(events, PARALLEL)
    assert {name: s["status"] for name, s in states.items()} == {
        "P": "caught",
        "A": "aborted",
        "B": "failed",
    }
    assert states["B"]["error"] == "Boom"


def test_execution_failure_names_the_culprit_and_aborts_the_rest() -> None:
    events = history(
        ("ExecutionStarted", 0, {}),
        ("ParallelStateEntered", 1, {"name": "P"}),
        ("ParallelStateStarted", 2, {}),
        ("WaitStateEntered", 3, {"name": "A"}),
        ("TaskStateEntered", 3, {"name": "B"}),
        ("ExecutionFailed", 5, {"error": "States.Runtime", "cause": "bad path"}),
    )
    states = state_statuses(events, PARALLEL)
    assert states["B"]["status"] == "failed"
    assert (states["B"]["error"], states["B"]["cause"]) == ("States.Runtime", "bad path")
    assert states["A"]["status"] == "aborted"
    assert states["P"]["status"] == "aborted"
    assert execution_status(events) == "FAILED"


def test_map_iterations_are_counted_and_redrive_supersedes() -> None:
    document = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {"I": {"Type": "Task", "Resource": "x", "End": True}},
                },
                "End": True,
            }
        },
    }
    events = history(
        ("ExecutionStarted", 0, {}),
        ("MapStateEntered", 1, {"name": "M"}),
        ("MapIterationStarted", 2, {"name": "M", "index": 0}),
        ("MapIterationStarted", 2, {"name": "M", "index": 1}),
        ("TaskStateEntered", 3, {"name": "I", "input": 1}),
        ("TaskStateEntered", 4, {"name": "I", "input": 2}),
        ("TaskScheduled", 5, {}),
        ("TaskScheduled", 6, {}),
        ("TaskSucceeded", 7, {}),
        ("TaskStateExited", 9, {"name": "I", "output": 1}),
        ("TaskFailed", 8, {"error": "E"}),
        ("MapIterationFailed", 11, {"name": "M", "index": 1}),
        ("MapStateFailed", 12, {"error": "E"}),
        ("ExecutionFailed", 13, {"error": "E"}),
    )
    states = state_statuses(events, document)
    assert states["I"]["counts"] == {"succeeded": 1, "failed": 1}
    assert states["I"]["status"] == "failed"
    assert states["I"]["entries"] == 2
    assert states["M"]["status"] == "failed"
    more = [
        HistoryEvent(15, "ExecutionRedriven", 15.0, 14, {}),
        HistoryEvent(16, "MapStateEntered", 16.0, 15, {"name": "M"}),
        HistoryEvent(17, "MapStateExited", 17.0, 16, {"name": "M", "output": []}),
        HistoryEvent(18, "ExecutionSucceeded", 18.0, 17, {}),
    ]
    states = state_statuses(events + more, document)
    assert states["M"]["status"] == "succeeded"
    assert states["M"]["counts"] == {"failed": 1, "succeeded": 1}
    assert execution_status(events + more) == "SUCCEEDED"
