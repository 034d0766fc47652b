"""Authentication and roles of the HTTP API (in process)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from api_support import APPROVAL, bearer
from fastapi.testclient import TestClient

from stackflow.api import AuthConfig, create_app
from stackflow.api.auth import is_loopback
from stackflow.engine import Engine


@pytest.fixture
def secured(engine: Engine) -> TestClient:
    """A client of an app that requires tokens (a non-loopback bind)."""
    auth = AuthConfig.for_bind("0.0.0.0", engine.store.tokens)
    assert auth.require_token
    return TestClient(create_app(engine, auth=auth))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert AuthConfig.for_bind(host, None).require_token is (not loopback)


def test_loopback_needs_no_token(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    deployed = client.post("/api/v1/workflows", json={"name": "a", "definition": APPROVAL})
    assert deployed.status_code == 201


def test_no_token_is_401_everywhere(secured: TestClient) -> None:
    for method, path in [
        ("GET", "/api/v1/health"),
        ("GET", "/openapi.json"),
        ("GET", "/api/v1/executions"),
        ("POST", "/api/v1/executions"),
        ("GET", "/api/v1/stacks"),
        ("DELETE", "/api/v1/stacks/x"),
    ]:
        response = secured.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_or_malformed_token_is_401(
    secured: TestClient, make_token: Callable[..., str]
) -> None:
    make_token("admin")
    assert secured.get("/api/v1/health", headers=bearer("sft_not-a-token")).status_code == 401
    assert secured.get("/api/v1/health", headers={"Authorization": "Basic abc"}).status_code == 401


def test_read_token_reads_but_cannot_change(
    secured: TestClient, make_token: Callable[..., str], engine: Engine
) -> None:
    engine.deploy(APPROVAL, "approval")
    read = bearer(make_token("read"))
    assert secured.get("/api/v1/workflows", headers=read).json()[0]["name"] == "approval"
    assert "/api/v1/executions" in secured.get("/openapi.json", headers=read).json()["paths"]
    forbidden = secured.post("/api/v1/executions", json={"workflow": "approval"}, headers=read)
    assert forbidden.status_code == 403
    assert "operate" in forbidden.json()["detail"]
    assert engine.list_executions() == []
    deploy = secured.post("/api/v1/workflows", json={"definition": APPROVAL}, headers=read)
    assert deploy.status_code == 403


def test_operate_runs_executions_but_cannot_deploy_or_apply(
    secured: TestClient, make_token: Callable[..., str], engine: Engine
) -> None:
    engine.deploy(APPROVAL, "approval")
    operate = bearer(make_token("operate"))
    started = secured.post("/api/v1/executions", json={"workflow": "approval"}, headers=operate)
    assert started.status_code == 201
    stopped = secured.post(
        f"/api/v1/executions/{started.json()['execution']}/stop", headers=operate
    )
    assert stopped.status_code == 200
    for method, path, body in [
        ("POST", "/api/v1/workflows", {"definition": APPROVAL}),
        ("POST", "/api/v1/stacks/s/apply", {"template": "Resources: {}"}),
        ("DELETE", "/api/v1/stacks/s", None),
        ("POST", "/api/v1/executions", {"definition": APPROVAL}),
    ]:
        response = secured.request(method, path, json=body, headers=operate)
        assert response.status_code == 403, (method, path)


def test_admin_can_deploy(secured: TestClient, make_token: Callable[..., str]) -> None:
    admin = bearer(make_token("admin"))
    response = secured.post(
        "/api/v1/workflows", json={"name": "approval", "definition": APPROVAL}, headers=admin
    )
    assert response.status_code == 201
    assert response.json()["version"] == 1


def test_revoked_token_is_401(
    secured: TestClient, make_token: Callable[..., str], engine: Engine
) -> None:
    token = make_token("read", "ci")
    assert secured.get("/api/v1/health", headers=bearer(token)).status_code == 200
    engine.store.tokens.revoke_token("ci", time.time())
    assert secured.get("/api/v1/health", headers=bearer(token)).status_code == 401


def test_access_token_query_parameter(secured: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token("read")
    assert secured.get(f"/api/v1/health?access_token={token}").status_code == 200
    assert secured.get("/api/v1/health?access_token=sft_wrong").status_code == 401


def test_a_token_given_on_loopback_is_checked(
    client: TestClient, make_token: Callable[..., str]
) -> None:
    read = bearer(make_token("read"))
    assert client.get("/api/v1/health", headers=read).status_code == 200
    assert (
        client.post("/api/v1/workflows", json={"definition": APPROVAL}, headers=read).status_code
        == 403
    )
    assert client.get("/api/v1/health", headers=bearer("sft_bad")).status_code == 401
