"""Stack routes: plan, apply, describe, events, drift, list, delete; secrets stay masked."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

SECRET = "s3cr3t-api-value"

TEMPLATE = """\
Parameters:
  Dir:
    Type: String
  Greeting:
    Type: String
    Default: hello
  Secret:
    Type: String
    NoEcho: true
Resources:
  Note:
    Type: Local::File
    Properties:
      Path: !Sub "${Dir}/note.txt"
      Content: !Sub "${Greeting}\\n"
  Hidden:
    Type: Local::File
    Properties:
      Path: !Sub "${Dir}/hidden.txt"
      Content: !Sub "token=${Secret}"
Outputs:
  NotePath:
    Value: !Sub "${Dir}/note.txt"
  Token:
    Value: !Ref Secret
"""


def params(folder: Path, **more: str) -> dict[str, str]:
    return {"Dir": str(folder), "Secret": SECRET, **more}


def test_plan_apply_describe_events_drift_delete(client: TestClient, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    plan = client.post(
        "/api/v1/stacks/site/plan", json={"template": TEMPLATE, "parameters": params(folder)}
    )
    assert plan.status_code == 200, plan.text
    changes = plan.json()
    assert changes["StackName"] == "site"
    assert not (folder / "note.txt").exists()  # a plan changes nothing

    applied = client.post(
        "/api/v1/stacks/site/apply", json={"template": TEMPLATE, "parameters": params(folder)}
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["StackStatus"] == "CREATE_COMPLETE"
    assert (folder / "note.txt").read_text() == "hello\n"

    described = client.get("/api/v1/stacks/site").json()
    assert described["StackStatus"] == "CREATE_COMPLETE"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["Secret"] == "****"
    assert {r["LogicalResourceId"] for r in described["Resources"]} == {"Note", "Hidden"}

    events = client.get("/api/v1/stacks/site/events").json()
    assert events[-1]["ResourceStatus"] == "CREATE_COMPLETE"
    assert events[-1]["LogicalResourceId"] == "site"
    assert [e["EventId"] for e in events] == sorted(e["EventId"] for e in events)
    last_two = client.get("/api/v1/stacks/site/events?limit=2").json()
    assert last_two == events[-2:]
    after = client.get(f"/api/v1/stacks/site/events?after={events[-3]['EventId']}").json()
    assert after == events[-2:]

    assert [s["StackName"] for s in client.get("/api/v1/stacks").json()] == ["site"]

    (folder / "note.txt").write_text("changed by hand\n")
    drift = client.get("/api/v1/stacks/site/drift").json()
    assert "DRIFTED" in json.dumps(drift)

    update = client.post(
        "/api/v1/stacks/site/apply",
        json={"template": TEMPLATE, "parameters": params(folder, Greeting="bonjour")},
    )
    assert update.json()["StackStatus"] == "UPDATE_COMPLETE"
    assert (folder / "note.txt").read_text() == "bonjour\n"

    texts = [plan.text, applied.text, update.text]
    texts += [client.get(p).text for p in ("/api/v1/stacks/site", "/api/v1/stacks/site/events")]
    assert all(SECRET not in text for text in texts)

    deleted = client.delete("/api/v1/stacks/site")
    assert deleted.status_code == 200
    assert deleted.json()["StackStatus"] == "DELETE_COMPLETE"
    assert not (folder / "note.txt").exists()
    assert client.get("/api/v1/stacks").json() == []
    assert [s["StackName"] for s in client.get("/api/v1/stacks?all=true").json()] == ["site"]


def test_saved_change_set_is_applied(client: TestClient, tmp_path: Path) -> None:
    plan = client.post(
        "/api/v1/stacks/cs/plan",
        json={"template": TEMPLATE, "parameters": params(tmp_path), "save": True},
    ).json()
    change_set = plan["ChangeSetId"]
    applied = client.post("/api/v1/stacks/cs/apply", json={"change_set_id": change_set})
    assert applied.json()["StackStatus"] == "CREATE_COMPLETE"
    assert (tmp_path / "note.txt").exists()


def test_template_errors_and_missing_stacks(client: TestClient, tmp_path: Path) -> None:
    bad = client.post(
        "/api/v1/stacks/x/apply",
        json={"template": "Resources:\n  A:\n    Type: Local::Nope\n"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "TemplateError"
    assert bad.json()["problems"][0]["pointer"] == "/Resources/A/Type"
    assert client.post("/api/v1/stacks/x/apply", json={}).status_code == 422
    both = {"template": TEMPLATE, "template_path": str(tmp_path / "t.yaml")}
    assert client.post("/api/v1/stacks/x/plan", json=both).status_code == 422
    for path in ["", "/events", "/drift"]:
        assert client.get(f"/api/v1/stacks/nope{path}").status_code == 404
    assert client.delete("/api/v1/stacks/nope").status_code == 404


def test_template_path_on_the_server(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(TEMPLATE)
    applied = client.post(
        "/api/v1/stacks/fromfile/apply",
        json={"template_path": str(tmp_path / "stack.yaml"), "parameters": params(tmp_path)},
    )
    assert applied.json()["StackStatus"] == "CREATE_COMPLETE"
    described = client.get("/api/v1/stacks/fromfile").json()
    assert described["TemplateFile"] == str((tmp_path / "stack.yaml").resolve())
