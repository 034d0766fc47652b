"""history_graph on real histories of code workflows (run with stackflow.testing.run_workflow)."""

from __future__ import annotations

import threading
import time
from typing import Any

import stackflow
from stackflow.engine import Engine
from stackflow.store.memory import MemoryStore
from stackflow.testing import run_workflow
from stackflow.workflow.code.graph import history_graph

FLAKY: dict[str, int] = {}


@stackflow.step
def inc(n: int) -> int:
    return n + 1


@stackflow.step
def square(n: int) -> int:
    threading.Event().wait(0.05)  # long enough for the steps submitted with it to start
    return n * n


@stackflow.step(retries=3, interval=5)
def flaky_step(key: str) -> str:
    FLAKY[key] = FLAKY.get(key, 0) + 1
    if FLAKY[key] < 3:
        raise ConnectionError("not yet")
    return "ok"


@stackflow.step
def boom(_: Any) -> None:
    raise ValueError("boom")


@stackflow.workflow
def shaped(n: int) -> dict[str, Any]:
    n = inc(n)
    squares = square.map([1, 2, 3])
    stackflow.sleep(60)
    if stackflow.patched("v2"):
        n = inc(n)
    child = stackflow.run_child(little, n)
    return {"n": n, "squares": squares, "child": child}


@stackflow.workflow
def little(n: int) -> int:
    return inc(n)


@stackflow.workflow
def overlapping(n: int) -> list[int]:
    future = square.submit(n)
    first = inc(n)
    return [first, *stackflow.gather(future)]


@stackflow.workflow
def retried(key: str) -> str:
    return flaky_step(key)


@stackflow.workflow
def failing(n: int) -> int:
    n = inc(n)
    boom(n)
    return inc(n)


@stackflow.workflow
def two_maps(_: Any) -> list[Any]:
    return [square.map([1, 2]), square.map([3, 4])]


@stackflow.workflow
def waits(_: Any) -> Any:
    return [stackflow.wait_for_event("approval"), inc(1)]


def by_id(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in graph["nodes"]}


def edges(graph: dict[str, Any]) -> set[tuple[str, str]]:
    return {(edge["from"], edge["to"]) for edge in graph["edges"]}


def test_program_order_map_group_sleep_event_patch_and_child() -> None:
    result = run_workflow(shaped, 1)
    assert result.status == "SUCCEEDED", result.cause
    graph = history_graph(result.events)
    assert (graph["type"], graph["status"]) == ("code", "SUCCEEDED")
    nodes = by_id(graph)
    ops = [n for n in graph["nodes"] if n["id"].startswith("op-")]
    assert [(n["step"], n["kind"], n["label"]) for n in ops] == [
        (0, "step", "inc"),
        (1, "step", "square"),
        (2, "step", "square"),
        (3, "step", "square"),
        (4, "sleep", "sleep"),
        (5, "patch", "v2"),
        (6, "step", "inc"),
        (7, "child", "little"),
    ]
    assert all(n["status"] == "succeeded" and n["attempts"] == 1 for n in ops)
    assert nodes["op-7"]["child_id"]
    assert nodes["op-4"]["due"] > 0
    # the three map items form one group, drawn side by side
    group = nodes["group-1"]
    assert group["kind"] == "parallel" and group["label"] == "square"
    assert group["members"] == ["op-1", "op-2", "op-3"]
    assert {nodes[m]["group"] for m in group["members"]} == {"group-1"}
    assert nodes["op-0"]["group"] is None
    assert edges(graph) == {
        ("start", "op-0"),
        ("op-0", "op-1"),
        ("op-0", "op-2"),
        ("op-0", "op-3"),
        ("op-1", "op-4"),
        ("op-2", "op-4"),
        ("op-3", "op-4"),
        ("op-4", "op-5"),
        ("op-5", "op-6"),
        ("op-6", "op-7"),
        ("op-7", "end"),
    }
    assert nodes["end"]["status"] == "succeeded"
    assert graph["nodes"][0]["id"] == "start" and graph["nodes"][-1]["id"] == "end"


def test_submitted_step_overlapping_a_sequential_step_is_a_group() -> None:
    result = run_workflow(overlapping, 3)
    assert result.output == [4, 9]
    graph = history_graph(result.events)
    group = by_id(graph)["group-1"]
    assert group["members"] == ["op-0", "op-1"]
    assert group["label"] == "parallel"  # two different steps


def test_consecutive_maps_are_separate_groups() -> None:
    result = run_workflow(two_maps, None)
    graph = history_graph(result.events)
    nodes = by_id(graph)
    assert nodes["group-1"]["members"] == ["op-0", "op-1"]
    assert nodes["group-2"]["members"] == ["op-2", "op-3"]
    assert ("op-0", "op-3") in edges(graph) and ("op-0", "op-1") not in edges(graph)


def test_event_wait_node_running_then_received() -> None:
    with Engine(MemoryStore(), poll_interval=0.02) as engine:
        execution_id = engine.start(waits, None).execution_id
        deadline = time.monotonic() + 10
        while not any(e.type == "EventWaitStarted" for e in engine.history(execution_id)):
            assert time.monotonic() < deadline
            threading.Event().wait(0.02)
        waiting = history_graph(engine.history(execution_id))
        engine.send_event(execution_id, "approval", "yes")
        assert engine.wait(execution_id, timeout=10).output == ["yes", 2]
        done = history_graph(engine.history(execution_id))
    node = by_id(waiting)["op-0"]
    assert (node["kind"], node["label"], node["status"]) == ("event", "approval", "running")
    assert waiting["status"] == "RUNNING"
    assert by_id(done)["op-0"]["status"] == "succeeded"
    assert "timed_out" not in by_id(done)["op-0"]
    assert edges(done) == {("start", "op-0"), ("op-0", "op-1"), ("op-1", "end")}


def test_retries_count_attempts_and_show_retrying_while_in_flight() -> None:
    FLAKY.clear()
    result = run_workflow(retried, "g1")
    graph = history_graph(result.events)
    step = by_id(graph)["op-0"]
    assert (step["status"], step["attempts"]) == ("succeeded", 3)
    # cut the history after the first failed attempt: the step is retrying
    first_failure = next(i for i, e in enumerate(result.events) if e.type == "TaskFailed")
    partial = history_graph(result.events[: first_failure + 1])
    assert partial["status"] == "RUNNING"
    assert (by_id(partial)["op-0"]["status"], by_id(partial)["op-0"]["attempts"]) == (
        "retrying",
        2,
    )
    assert by_id(partial)["end"]["status"] == "running"


def test_failed_step_and_running_prefix() -> None:
    result = run_workflow(failing, 1)
    assert result.status == "FAILED"
    graph = history_graph(result.events)
    nodes = by_id(graph)
    assert nodes["op-1"]["status"] == "failed" and nodes["op-1"]["error"] == "ValueError"
    assert "op-2" not in nodes
    assert nodes["end"]["status"] == "failed"
    entered = next(
        i for i, e in enumerate(result.events) if e.type == "TaskStateEntered" and e.details["step"]
    )
    running = history_graph(result.events[: entered + 1])
    assert by_id(running)["op-1"]["status"] == "running"
    assert by_id(running)["op-1"]["last_event"] is None


def test_in_flight_operations_of_a_failed_execution_are_aborted() -> None:
    result = run_workflow(failing, 1)
    entered = [e for e in result.events if e.type == "TaskStateEntered"]
    ending = result.events[-1]
    assert ending.type == "ExecutionFailed"
    cut = [*result.events[: result.events.index(entered[1]) + 1], ending]
    assert by_id(history_graph(cut))["op-1"]["status"] == "aborted"


def test_empty_history() -> None:
    graph = history_graph([])
    assert [n["id"] for n in graph["nodes"]] == ["start", "end"]
    assert edges(graph) == {("start", "end")}


ASL = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Next": "P"},
        "P": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "L", "States": {"L": {"Type": "Pass", "End": True}}},
                {
                    "StartAt": "R",
                    "States": {
                        "R": {"Type": "Wait", "Seconds": 5, "Next": "R2"},
                        "R2": {"Type": "Pass", "End": True},
                    },
                },
            ],
            "ResultPath": "$.p",
            "Next": "M",
        },
        "M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            "Next": "F",
        },
        "F": {"Type": "Pass", "End": True},
    },
}


def test_asl_graph_parallel_branches_and_map_iterations() -> None:
    from stackflow.workflow.code.graph import asl_history_graph

    result = run_workflow(ASL, {"items": [1, 2, 3]})
    assert result.status == "SUCCEEDED"
    graph = asl_history_graph(result.events, ASL)
    nodes = by_id(graph)
    assert graph["type"] == "asl" and nodes["end"]["status"] == "succeeded"
    assert (nodes["state:I"]["attempts"], nodes["state:I"]["parent"]) == (3, "M")
    assert (nodes["state:R2"]["parent"], nodes["state:R2"]["branch"]) == ("P", 1)
    assert nodes["state:P"]["kind"] == "parallel"
    assert all(n["status"] == "succeeded" for n in graph["nodes"])
    assert edges(graph) == {
        ("start", "state:A"),
        ("state:A", "state:P"),
        ("state:P", "state:L"),
        ("state:P", "state:R"),
        ("state:R", "state:R2"),
        ("state:L", "state:M"),
        ("state:R2", "state:M"),
        ("state:M", "state:I"),
        ("state:I", "state:F"),
        ("state:F", "end"),
    }
    # cut inside the Wait: it is running, the Parallel too
    cut = next(i for i, e in enumerate(result.events) if e.type == "WaitStateEntered")
    partial = by_id(asl_history_graph(result.events[: cut + 1], ASL))
    assert partial["state:R"]["status"] == "running"
    assert partial["state:P"]["status"] == "running"
    assert "state:M" not in partial
