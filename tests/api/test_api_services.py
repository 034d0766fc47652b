"""Service routes: list, describe, logs, scale, restart (records put in the store directly)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from api_support import bearer
from fastapi.testclient import TestClient

from stackflow.api import AuthConfig, create_app
from stackflow.engine import Engine
from stackflow.store.services import ReplicaRecord, ServiceRecord

SECRET = "svc-secret-value-9"

STACK = """\
Parameters:
  Dir:
    Type: String
  Password:
    Type: String
    NoEcho: true
Resources:
  Note:
    Type: Local::File
    Properties:
      Path: !Sub "${Dir}/note.txt"
      Content: hello
"""


def add_service(engine: Engine, name: str = "app-web", **fields: object) -> ServiceRecord:
    now = time.time()
    record = ServiceRecord(
        name=name,
        stack_name="app",
        logical_id="Web",
        spec={"Command": ["python", "-m", "http.server"], "Environment": {"PASSWORD": SECRET}},
        revision=2,
        replicas=2,
        base_dir="/srv/app",
        created_at=now,
        updated_at=now,
        rollout={"status": "COMPLETE", "revision": 2},
    )
    return engine.store.services.put_service(replace(record, **fields))  # type: ignore[arg-type]


def add_replica(engine: Engine, slot: int, state: str, log_path: Path | None = None) -> None:
    engine.store.services.put_replica(
        ReplicaRecord(
            service="app-web",
            replica_id=f"r{slot}",
            slot=slot,
            revision=2,
            state=state,
            updated_at=time.time(),
            pid=1000 + slot,
            port=8000 + slot,
            restarts=slot,
            log_path=str(log_path) if log_path else None,
        )
    )


@pytest.fixture
def app_stack(client: TestClient, tmp_path: Path) -> None:
    """A stack ``app`` with a NoEcho parameter whose value is SECRET."""
    folder = tmp_path / "files"
    folder.mkdir()
    applied = client.post(
        "/api/v1/stacks/app/apply",
        json={"template": STACK, "parameters": {"Dir": str(folder), "Password": SECRET}},
    )
    assert applied.json()["StackStatus"] == "CREATE_COMPLETE", applied.text


def test_list_and_describe(client: TestClient, engine: Engine, app_stack: None) -> None:
    add_service(engine)
    add_service(engine, "other-db", stack_name="other", replicas=1)
    add_replica(engine, 0, "READY")
    add_replica(engine, 1, "BACKOFF")

    listed = client.get("/api/v1/services")
    assert listed.status_code == 200, listed.text
    rows = {row["name"]: row for row in listed.json()}
    assert set(rows) == {"app-web", "other-db"}
    web = rows["app-web"]
    assert (web["stack"], web["logical_id"], web["revision"]) == ("app", "Web", 2)
    assert (web["replicas"], web["ready"], web["rollout"]["status"]) == (2, 1, "COMPLETE")
    only = client.get("/api/v1/services?stack=other").json()
    assert [row["name"] for row in only] == ["other-db"]

    described = client.get("/api/v1/services/app-web")
    assert described.status_code == 200, described.text
    data = described.json()
    assert (data["name"], data["stack_name"], data["ready"]) == ("app-web", "app", 1)
    assert [(r["slot"], r["state"], r["restarts"]) for r in data["replica_records"]] == [
        (0, "READY", 0),
        (1, "BACKOFF", 1),
    ]
    assert data["supervisor"].startswith("none")
    # The NoEcho value of the owning stack is masked in the service's spec.
    assert data["spec"]["Environment"]["PASSWORD"] == "****"
    assert SECRET not in described.text


def test_unknown_or_deleted_service_is_404(client: TestClient, engine: Engine) -> None:
    add_service(engine, "gone", deleted=True)
    for path in ("/api/v1/services/nope", "/api/v1/services/gone", "/api/v1/services/gone/logs"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "NotFoundError"
    assert client.post("/api/v1/services/nope/scale", json={"replicas": 1}).status_code == 404
    assert client.post("/api/v1/services/nope/restart").status_code == 404


def test_logs(client: TestClient, engine: Engine, app_stack: None, tmp_path: Path) -> None:
    add_service(engine)
    recorded = tmp_path / "replica0.log"
    recorded.write_text("".join(f"line {i}\n" for i in range(80)) + f"pw={SECRET}\n")
    add_replica(engine, 0, "READY", recorded)
    assert engine.home is not None
    folder = engine.home / "services" / "app-web"
    folder.mkdir(parents=True)
    (folder / "1-r1.log").write_text("old replica\n")

    logs = client.get("/api/v1/services/app-web/logs")
    assert logs.status_code == 200, logs.text
    files = logs.json()
    assert [(f["slot"], f["path"]) for f in files] == [
        (0, str(recorded)),
        (1, str(folder / "1-r1.log")),
    ]
    assert len(files[0]["lines"]) == 50
    assert files[0]["lines"][-1] == "pw=****"
    assert files[0]["lines"][0] == "line 31"
    assert files[1]["lines"] == ["old replica"]

    three = client.get("/api/v1/services/app-web/logs?lines=3&replica=1").json()
    assert three == [{"slot": 1, "path": str(folder / "1-r1.log"), "lines": ["old replica"]}]
    assert client.get("/api/v1/services/app-web/logs?replica=7").status_code == 404
    assert client.get("/api/v1/services/app-web/logs?lines=-1").status_code == 422


def test_scale_and_restart(client: TestClient, engine: Engine) -> None:
    add_service(engine)
    scaled = client.post("/api/v1/services/app-web/scale", json={"replicas": 5})
    assert scaled.status_code == 200, scaled.text
    assert scaled.json() == {"name": "app-web", "replicas": 5, "previous": 2}
    assert engine.store.services.get_service("app-web").replicas == 5
    assert client.post("/api/v1/services/app-web/scale", json={"replicas": -1}).status_code == 422
    assert client.post("/api/v1/services/app-web/scale", json={}).status_code == 422

    before = time.time()
    restarted = client.post("/api/v1/services/app-web/restart")
    assert restarted.status_code == 200, restarted.text
    requested = restarted.json()["restart_requested_at"]
    assert requested >= before
    assert engine.store.services.get_service("app-web").restart_requested_at == requested


def test_roles(engine: Engine, make_token: Callable[[str], str]) -> None:
    add_service(engine)
    secured = TestClient(create_app(engine, auth=AuthConfig(True, engine.store.tokens)))
    read, operate = bearer(make_token("read")), bearer(make_token("operate"))
    assert secured.get("/api/v1/services").status_code == 401
    assert secured.get("/api/v1/services", headers=read).status_code == 200
    assert secured.get("/api/v1/services/app-web/logs", headers=read).status_code == 200
    body = {"replicas": 3}
    assert (
        secured.post("/api/v1/services/app-web/scale", json=body, headers=read).status_code == 403
    )
    assert secured.post("/api/v1/services/app-web/restart", headers=read).status_code == 403
    assert engine.store.services.get_service("app-web").replicas == 2
    response = secured.post("/api/v1/services/app-web/scale", json=body, headers=operate)
    assert response.status_code == 200
    assert secured.post("/api/v1/services/app-web/restart", headers=operate).status_code == 200
