"""Execution routes: start, list, describe with state statuses, history, graph, stop, redrive,
task callbacks and activity polling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api_support import APPROVAL, DEMO, wait_for
from fastapi.testclient import TestClient

FLAKY = {
    "StartAt": "Try",
    "States": {"Try": {"Type": "Task", "Resource": "python:api_tasks:flaky", "End": True}},
}


def finished(client: TestClient, execution: str) -> dict[str, Any]:
    """Wait until an execution stopped and return GET /executions/{id}."""

    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/v1/executions/{execution}").json()
        return body if body["status"] != "RUNNING" else None

    result: dict[str, Any] = wait_for(check)
    return result


def start(client: TestClient, **body: Any) -> str:
    response = client.post("/api/v1/executions", json=body)
    assert response.status_code == 201, response.text
    execution: str = response.json()["execution"]
    return execution


def test_start_describe_history_and_graph(client: TestClient) -> None:
    client.post("/api/v1/workflows", json={"name": "demo", "definition": DEMO})
    execution = start(client, workflow="demo", input={"items": [1, 2, 3]}, name="first")
    body = finished(client, execution)
    assert body["status"] == "SUCCEEDED"
    assert (body["name"], body["workflow"], body["version"], body["type"]) == (
        "first",
        "demo",
        1,
        "asl",
    )
    assert body["definition"]["StartAt"] == "First"
    assert body["input"] == {"items": [1, 2, 3]}
    states = body["states"]
    assert {name: s["status"] for name, s in states.items()} == {
        "First": "succeeded",
        "Both": "succeeded",
        "Left": "succeeded",
        "Right": "succeeded",
        "Each": "succeeded",
        "Item": "succeeded",
        "Risky": "caught",
        "Handle": "succeeded",
        "Done": "succeeded",
    }
    assert states["Item"]["entries"] == 3
    assert (states["Risky"]["attempts"], states["Risky"]["retries"]) == (2, 1)
    assert states["Risky"]["error"] == "ValueError"
    assert states["Right"]["output"] == {"ok": True, "got": {"items": [1, 2, 3]}}

    history = client.get(f"/api/v1/executions/{execution}/history").json()
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionSucceeded"
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    later = client.get(f"/api/v1/executions/{execution}/history?after=3").json()
    assert [e["id"] for e in later] == list(range(4, len(history) + 1))

    graph = client.get(f"/api/v1/executions/{execution}/graph").json()
    nodes = {n["id"]: n for n in graph["graph"]["nodes"]}
    assert nodes["state:Risky"]["status"] == "caught"
    assert nodes["state:Risky"]["retries"] == 1
    assert nodes["state:Item"]["entries"] == 3
    assert nodes["end"]["status"] == "succeeded"
    assert "status" not in nodes["branch:Both:0"]


def test_same_name_same_input_is_the_same_execution_other_input_conflicts(
    client: TestClient,
) -> None:
    client.post("/api/v1/workflows", json={"name": "approval", "definition": APPROVAL})
    first = start(client, workflow="approval", input={"a": 1}, name="once")
    assert start(client, workflow="approval", input={"a": 1}, name="once") == first
    clash = client.post(
        "/api/v1/executions", json={"workflow": "approval", "input": {"a": 2}, "name": "once"}
    )
    assert clash.status_code == 409
    assert clash.json()["error"] == "ExecutionAlreadyExists"
    client.post(f"/api/v1/executions/{first}/stop")


def test_start_errors(client: TestClient) -> None:
    assert client.post("/api/v1/executions", json={"workflow": "nope"}).status_code == 404
    assert client.post("/api/v1/executions", json={}).status_code == 422
    assert client.post("/api/v1/executions", json={"workflow": "a:b"}).status_code == 422
    bad = client.post("/api/v1/executions", json={"definition": {"StartAt": "X", "States": {}}})
    assert bad.status_code == 400
    assert bad.json()["problems"]


def test_inline_definition_as_admin(client: TestClient) -> None:
    execution = start(
        client,
        definition={"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        input={"x": 1},
    )
    body = finished(client, execution)
    assert (body["status"], body["output"]) == ("SUCCEEDED", {"x": 1})


def test_list_filters(client: TestClient) -> None:
    client.post("/api/v1/workflows", json={"name": "demo", "definition": DEMO})
    client.post("/api/v1/workflows", json={"name": "approval", "definition": APPROVAL})
    done = start(client, workflow="demo", input={"items": []})
    waiting = start(client, workflow="approval")
    finished(client, done)
    everything = client.get("/api/v1/executions").json()
    assert {e["execution"] for e in everything} == {done, waiting}
    running = client.get("/api/v1/executions?status=RUNNING").json()
    assert [e["execution"] for e in running] == [waiting]
    by_workflow = client.get("/api/v1/executions?workflow=demo").json()
    assert [e["execution"] for e in by_workflow] == [done]
    assert len(client.get("/api/v1/executions?limit=1").json()) == 1
    assert client.get("/api/v1/executions?status=BOGUS").status_code == 422
    client.post(f"/api/v1/executions/{waiting}/stop")


def test_activity_poll_and_task_success(client: TestClient) -> None:
    client.post("/api/v1/workflows", json={"name": "approval", "definition": APPROVAL})
    assert client.post("/api/v1/activities/approve/poll").json() == {
        "taskToken": None,
        "input": None,
    }
    execution = start(client, workflow="approval", input={"order": 7})
    task = client.post("/api/v1/activities/approve/poll", json={"worker": "w1", "wait": 10}).json()
    assert task["input"] == {"order": 7}
    heartbeat = client.post("/api/v1/tasks/heartbeat", json={"task_token": task["taskToken"]})
    assert heartbeat.json() == {"ok": True}
    running = client.get(f"/api/v1/executions/{execution}").json()
    assert running["states"]["Approve"]["status"] == "running"
    answer = client.post(
        "/api/v1/tasks/success", json={"task_token": task["taskToken"], "output": {"yes": True}}
    )
    assert answer.json() == {"ok": True}
    body = finished(client, execution)
    assert (body["status"], body["output"]) == ("SUCCEEDED", {"yes": True})
    again = client.post("/api/v1/tasks/success", json={"task_token": task["taskToken"]})
    assert again.status_code == 404
    assert again.json()["error"] == "TaskTokenError"


def test_task_failure(client: TestClient) -> None:
    client.post("/api/v1/workflows", json={"name": "approval", "definition": APPROVAL})
    execution = start(client, workflow="approval")
    task = client.post("/api/v1/activities/approve/poll", json={"wait": 10}).json()
    client.post(
        "/api/v1/tasks/failure",
        json={"task_token": task["taskToken"], "error": "Rejected", "cause": "no budget"},
    )
    body = finished(client, execution)
    assert (body["status"], body["error"], body["cause"]) == ("FAILED", "Rejected", "no budget")
    assert body["states"]["Approve"]["status"] == "failed"
    assert "After" not in body["states"]


def test_stop_then_redrive(client: TestClient, tasks_module: Path) -> None:
    client.post("/api/v1/workflows", json={"name": "approval", "definition": APPROVAL})
    waiting = start(client, workflow="approval")
    stopped = client.post(
        f"/api/v1/executions/{waiting}/stop", json={"error": "Halt", "cause": "by test"}
    ).json()
    assert stopped["execution"] == waiting
    body = finished(client, waiting)
    assert (body["status"], body["error"]) == ("ABORTED", "Halt")
    assert body["states"]["Approve"]["status"] == "aborted"

    client.post("/api/v1/workflows", json={"name": "flaky", "definition": FLAKY})
    execution = start(client, workflow="flaky")
    assert finished(client, execution)["status"] == "FAILED"
    tasks_module.touch()
    redriven = client.post(f"/api/v1/executions/{execution}/redrive")
    assert redriven.status_code == 200
    body = finished(client, execution)
    assert (body["status"], body["output"]) == ("SUCCEEDED", {"fine": True})
    assert body["states"]["Try"]["status"] == "succeeded"
    assert body["states"]["Try"]["entries"] == 2


def test_unknown_execution_is_404(client: TestClient) -> None:
    for path in ["", "/history", "/graph"]:
        assert client.get(f"/api/v1/executions/nope{path}").status_code == 404
    assert client.post("/api/v1/executions/nope/stop").status_code == 404
    assert client.post("/api/v1/executions/nope/redrive").status_code == 404
