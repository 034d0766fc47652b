"""``stackflow token create|list|revoke`` and the tokens they make, checked by the API."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from stackflow.api import AuthConfig, create_app
from stackflow.cli.main import cli
from stackflow.engine import Engine


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_create_list_revoke(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, err = run(home, "token", "create", "--role", "read", "--name", "ci")
    assert code == 0
    token = out.strip()
    assert token.startswith("sft_")
    assert "not shown again" in err
    code, out, _ = run(home, "token", "create", "--role", "admin", "--json")
    created = json.loads(out)
    assert created["role"] == "admin" and created["token"].startswith("sft_")

    code, out, _ = run(home, "token", "list", "--json")
    listed = json.loads(out)
    assert [(t["name"], t["role"]) for t in listed] == [("ci", "read"), ("", "admin")]
    assert token not in out and created["token"] not in out
    code, out, _ = run(home, "token", "list")
    assert "ci" in out and token not in out

    with Engine.open(home) as engine:
        app = create_app(engine, auth=AuthConfig(True, engine.store.tokens))
        client = TestClient(app)
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/health", headers=headers).status_code == 200
        code, out, _ = run(home, "token", "revoke", "ci")
        assert code == 0
        assert client.get("/api/v1/health", headers=headers).status_code == 401

    code, _, err = run(home, "token", "revoke", "ci")
    assert code == 1 and "ci" in err
    code, out, _ = run(home, "token", "list", "--all", "--json")
    assert json.loads(out)[0]["revoked_at"] is not None


def test_create_needs_a_known_role(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "home", "token", "create", "--role", "root")
    assert code == 2 and "root" in err
    code, _, _ = run(tmp_path / "home", "token", "create", "--role", "read", "--name", "x")
    code, _, err = run(tmp_path / "home", "token", "create", "--role", "read", "--name", "x")
    assert code == 1 and "x" in err
