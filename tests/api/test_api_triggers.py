"""HTTP triggers: ``POST /hooks/{name}`` with no auth, a token or an HMAC signature; waiting."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from api_support import APPROVAL, wait_for
from fastapi.testclient import TestClient

from stackflow.api import AuthConfig, create_app
from stackflow.api.routes_triggers import requested_wait, sign
from stackflow.engine import Engine
from stackflow.providers.http_trigger import token_digest
from stackflow.store.triggers import TriggerRecord

ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
KEY = "hmac-key-for-tests"
TOKEN = "token-for-the-hook"


def add_trigger(engine: Engine, name: str, workflow: str = "echo", **auth: str) -> None:
    now = time.time()
    kind = auth.get("auth_type", "None")
    secret = auth.get("secret")
    if kind == "Token" and secret is not None:
        secret = token_digest(secret)
    engine.store.triggers.put_trigger(
        TriggerRecord(
            name=name,
            workflow=workflow,
            auth_type=kind,
            secret=secret,
            header=auth.get("header", "X-Stackflow-Signature"),
            algorithm="sha256",
            stack_name="",
            logical_id="",
            created_at=now,
            updated_at=now,
        )
    )


@pytest.fixture
def deployed(client: TestClient) -> None:
    for name, definition in (("echo", ECHO), ("approval", APPROVAL)):
        response = client.post("/api/v1/workflows", json={"name": name, "definition": definition})
        assert response.status_code == 201, response.text


def test_open_hook_starts_the_workflow_with_the_body(
    client: TestClient, engine: Engine, deployed: None
) -> None:
    add_trigger(engine, "open")
    response = client.post("/hooks/open", json={"order": 7, "items": ["a"]})
    assert response.status_code == 202, response.text
    data = response.json()
    assert (data["workflow"], data["status"]) == ("echo", "RUNNING")
    assert data["status_url"] == f"/api/v1/executions/{data['execution']}"
    done = wait_for(lambda: (r := engine.describe(data["execution"])).status == "SUCCEEDED" and r)
    assert done.input == {"order": 7, "items": ["a"]}
    assert done.output == {"order": 7, "items": ["a"]}

    empty = client.post("/hooks/open", content=b"")
    assert empty.status_code == 202
    assert engine.describe(empty.json()["execution"]).input == {}


def test_waiting_for_the_result(client: TestClient, engine: Engine, deployed: None) -> None:
    add_trigger(engine, "echo")
    add_trigger(engine, "slow", workflow="approval")
    waited = client.post("/hooks/echo?wait=20", json={"x": 1})
    assert waited.status_code == 200, waited.text
    assert (waited.json()["status"], waited.json()["output"]) == ("SUCCEEDED", {"x": 1})
    assert waited.headers["preference-applied"] == "wait=20"
    preferred = client.post("/hooks/echo", json=[1, 2], headers={"Prefer": "wait=20"})
    assert preferred.status_code == 200
    assert preferred.json()["output"] == [1, 2]

    # The approval workflow waits for an activity worker: still running at the deadline.
    pending = client.post("/hooks/slow?wait=0.2", json={})
    assert pending.status_code == 202
    assert pending.json()["status"] == "RUNNING"
    assert client.post("/hooks/echo?wait=-1", json={}).status_code == 422


def test_hmac_signature(client: TestClient, engine: Engine, deployed: None) -> None:
    add_trigger(engine, "signed", auth_type="Hmac", secret=KEY)
    add_trigger(engine, "github", auth_type="Hmac", secret=KEY, header="X-Hub-Signature-256")
    body = json.dumps({"ref": "main"}).encode()
    digest = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    assert sign(KEY, body) == digest

    missing = client.post("/hooks/signed", content=body)
    assert missing.status_code == 401
    assert "X-Stackflow-Signature" in missing.json()["detail"]
    wrong = client.post(
        "/hooks/signed", content=body, headers={"X-Stackflow-Signature": sign("other", body)}
    )
    assert wrong.status_code == 401
    assert digest not in wrong.text
    tampered = client.post(
        "/hooks/signed", content=body + b" ", headers={"X-Stackflow-Signature": digest}
    )
    assert tampered.status_code == 401
    latin = {"X-Stackflow-Signature": "é".encode("latin-1")}  # not hex, not ASCII
    assert client.post("/hooks/signed", content=body, headers=latin).status_code == 401  # type: ignore[arg-type]

    ok = client.post("/hooks/signed", content=body, headers={"X-Stackflow-Signature": digest})
    assert ok.status_code == 202, ok.text
    prefixed = client.post(
        "/hooks/github", content=body, headers={"X-Hub-Signature-256": f"sha256={digest.upper()}"}
    )
    assert prefixed.status_code == 202, prefixed.text
    assert engine.describe(prefixed.json()["execution"]).input == {"ref": "main"}
    assert len(engine.list_executions(workflow="echo", limit=10)) == 2


def test_token(client: TestClient, engine: Engine, deployed: None) -> None:
    add_trigger(engine, "tok", auth_type="Token", secret=TOKEN)
    assert client.post("/hooks/tok", json={}).status_code == 401
    bad = client.post("/hooks/tok", json={}, headers={"Authorization": "Bearer nope-nope"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"
    good = client.post("/hooks/tok", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 202, good.text
    other = client.post("/hooks/tok", json={}, headers={"X-Stackflow-Token": TOKEN})
    assert other.status_code == 202, other.text


def test_hooks_need_no_api_token(engine: Engine, client: TestClient, deployed: None) -> None:
    add_trigger(engine, "open")
    secured = TestClient(create_app(engine, auth=AuthConfig(True, engine.store.tokens)))
    assert secured.get("/api/v1/triggers").status_code == 401
    assert secured.post("/hooks/open", json={"a": 1}).status_code == 202


def test_bad_bodies_and_unknown_hooks(client: TestClient, engine: Engine, deployed: None) -> None:
    add_trigger(engine, "open")
    add_trigger(engine, "orphan", workflow="never-deployed")
    bad = client.post("/hooks/open", content=b'{"a": 1,\n "b": }')
    assert bad.status_code == 400
    (problem,) = bad.json()["problems"]
    assert (problem["file"], problem["line"], problem["column"]) == ("request body", 2, 7)
    assert problem["message"].startswith("the request body is not JSON: Expecting value")
    binary = client.post("/hooks/open", content=b"\xff\xfe\xfa")
    assert binary.status_code == 400
    assert "not JSON" in binary.json()["message"]
    assert client.post("/hooks/nope", json={}).status_code == 404
    orphan = client.post("/hooks/orphan", json={})
    assert orphan.status_code == 404
    assert "never-deployed" in orphan.json()["message"]
    assert engine.list_executions(limit=10) == []


def test_requested_wait() -> None:
    assert requested_wait(None, None) == 0.0
    assert requested_wait(None, "respond-async, wait=15") == 15.0
    assert requested_wait(3.0, "wait=15") == 3.0
    assert requested_wait(None, "wait=100000") == 300.0


STACK = """\
Parameters:
  HookSecret:
    Type: String
    NoEcho: true
Resources:
  Flow:
    Type: Stackflow::Workflow
    Properties:
      Definition:
        StartAt: Echo
        States:
          Echo: {Type: Pass, End: true}
  Hook:
    Type: Stackflow::HttpTrigger
    Properties:
      Name: deploys
      Workflow: !Ref Flow
      Auth: {Type: Hmac, Secret: !Ref HookSecret}
Outputs:
  HookUrl:
    Value: !GetAtt Hook.Url
"""


def test_a_trigger_from_a_stack(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    applied = client.post(
        "/api/v1/stacks/hooks/apply", json={"template": STACK, "parameters": {"HookSecret": KEY}}
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["StackStatus"] == "CREATE_COMPLETE"
    listed = client.get("/api/v1/triggers")
    assert listed.status_code == 200
    (trigger,) = listed.json()
    assert (trigger["name"], trigger["url"], trigger["auth"]) == (
        "deploys",
        "/hooks/deploys",
        "Hmac",
    )
    assert (trigger["stack"], trigger["workflow"]) == ("hooks", "hooks-Flow")
    assert KEY not in listed.text
    for path in ("/api/v1/stacks/hooks", "/api/v1/stacks/hooks/change-sets"):
        assert KEY not in client.get(path).text

    body = b'{"commit": "abc"}'
    called = client.post(
        "/hooks/deploys?wait=20", content=body, headers={"X-Stackflow-Signature": sign(KEY, body)}
    )
    assert called.status_code == 200, called.text
    assert called.json()["output"] == {"commit": "abc"}
