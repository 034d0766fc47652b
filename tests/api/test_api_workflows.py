"""Workflow routes: deploy, list, versions, one version, and the laid-out graph."""

from __future__ import annotations

from api_support import APPROVAL, DEMO
from fastapi.testclient import TestClient

YAML_DEFINITION = """\
StartAt: Hello
States:
  Hello:
    Type: Pass
    Result: hi
    End: true
"""


def test_deploy_object_and_yaml_text_then_list_and_versions(client: TestClient) -> None:
    first = client.post("/api/v1/workflows", json={"name": "greet", "definition": YAML_DEFINITION})
    assert first.status_code == 201
    assert first.json()["version"] == 1
    assert first.json()["definition"]["States"]["Hello"]["Result"] == "hi"
    again = client.post("/api/v1/workflows", json={"name": "greet", "definition": YAML_DEFINITION})
    assert again.json()["version"] == 1  # same definition: same version
    second = client.post("/api/v1/workflows", json={"name": "greet", "definition": APPROVAL})
    assert second.json()["version"] == 2
    client.post("/api/v1/workflows", json={"name": "demo", "definition": DEMO})

    listed = client.get("/api/v1/workflows").json()
    assert [(w["name"], w["version"]) for w in listed] == [("demo", 1), ("greet", 2)]
    versions = client.get("/api/v1/workflows/greet/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    old = client.get("/api/v1/workflows/greet?version=1").json()
    assert old["definition"]["StartAt"] == "Hello"
    assert client.get("/api/v1/workflows/greet").json()["definition"]["StartAt"] == "Approve"


def test_invalid_definition_lists_problems_with_locations(client: TestClient) -> None:
    text = "StartAt: Missing\nStates:\n  A:\n    Type: Pass\n    End: true\n"
    response = client.post("/api/v1/workflows", json={"name": "bad", "definition": text})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "DefinitionError"
    problem = body["problems"][0]
    assert problem["pointer"] == "/StartAt"
    assert problem["line"] == 1
    assert "Missing" in problem["message"]
    assert client.get("/api/v1/workflows").json() == []


def test_invalid_workflow_name_is_400(client: TestClient) -> None:
    response = client.post("/api/v1/workflows", json={"name": "a/b", "definition": APPROVAL})
    assert response.status_code == 400


def test_unknown_workflow_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/workflows/nope").status_code == 404
    assert client.get("/api/v1/workflows/nope/versions").status_code == 404
    assert client.get("/api/v1/workflows/nope/graph").status_code == 404
    body = client.get("/api/v1/workflows/nope").json()
    assert body["error"] == "NotFoundError"


def test_graph_of_a_workflow(client: TestClient) -> None:
    client.post("/api/v1/workflows", json={"name": "demo", "definition": DEMO})
    body = client.get("/api/v1/workflows/demo/graph").json()
    assert (body["workflow"], body["version"]) == ("demo", 1)
    graph = body["graph"]
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert {"start", "end", "state:First", "state:Both", "state:Each"} <= set(nodes)
    for node in graph["nodes"]:
        assert node["width"] > 0 and node["height"] > 0
        assert node["x"] >= 0 and node["x"] + node["width"] <= graph["width"]
        assert node["y"] >= 0 and node["y"] + node["height"] <= graph["height"]
    # Parallel branches are lanes inside the Parallel box; Map's processor inside the Map box.
    assert nodes["branch:Both:0"]["parent"] == "state:Both"
    assert nodes["branch:Both:1"]["parent"] == "state:Both"
    assert nodes["state:Right"]["parent"] == "branch:Both:1"
    assert nodes["state:Right"]["branch"] == 1
    assert nodes["processor:Each"]["parent"] == "state:Each"
    assert nodes["state:Item"]["parent"] == "processor:Each"
    inner, outer = nodes["state:Right"], nodes["state:Both"]
    assert outer["x"] <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
    assert outer["y"] <= inner["y"] and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    # parents come before their children (draw order)
    order = [n["id"] for n in graph["nodes"]]
    assert order.index("state:Both") < order.index("branch:Both:0") < order.index("state:Left")
    catch = [e for e in graph["edges"] if e["kind"] == "catch"]
    assert [(e["from"], e["to"], e["dashed"], e["label"]) for e in catch] == [
        ("state:Risky", "state:Handle", True, "States.ALL")
    ]
    assert all(len(e["points"]) >= 2 for e in graph["edges"])
    assert nodes["state:Risky"]["resource"] == "python:api_tasks:boom"
    assert client.get("/api/v1/workflows/demo/graph").json() == body  # deterministic
