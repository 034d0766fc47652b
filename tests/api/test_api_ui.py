"""The web UI's static files as the API app serves them (stackflow.api.ui.mount_ui)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stackflow.api import AuthConfig, create_app
from stackflow.api.ui import mount_ui, ui_files
from stackflow.engine import Engine

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "src" / "stackflow" / "ui"


@pytest.fixture
def ui_client(engine: Engine) -> TestClient:
    """A loopback-style app with the UI mounted."""
    app = create_app(engine, auth=AuthConfig(False, engine.store.tokens))
    mount_ui(app)
    return TestClient(app)


@pytest.fixture
def secured_ui(engine: Engine) -> TestClient:
    """An app that requires a token for the API, with the UI mounted."""
    app = create_app(engine, auth=AuthConfig(True, engine.store.tokens))
    mount_ui(app)
    return TestClient(app)


@pytest.mark.parametrize("path", ["/", "/workflows", "/executions/abc-123", "/stacks/app/x"])
def test_ui_paths_serve_index(ui_client: TestClient, path: str) -> None:
    answer = ui_client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app.js">' in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("path", "media"),
    [("/app.js", "text/javascript"), ("/style.css", "text/css"), ("/favicon.svg", "image/svg+xml")],
)
def test_files_are_served_with_their_type(ui_client: TestClient, path: str, media: str) -> None:
    answer = ui_client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media)
    assert answer.content == (UI / path.lstrip("/")).read_bytes()


def test_every_module_imported_by_the_ui_is_served(ui_client: TestClient) -> None:
    for source in UI.glob("*.js"):
        for module in re.findall(r"from '\./([\w.]+)'", source.read_text()):
            assert (
                ui_client.get(f"/{module}").headers["content-type"].startswith("text/javascript")
            ), f"{source.name} imports {module}"


def test_api_paths_are_not_taken_by_the_ui(ui_client: TestClient) -> None:
    assert ui_client.get("/api/v1/health").json() == {"status": "ok"}
    missing = ui_client.get("/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/json")
    assert ui_client.get("/api").status_code == 404
    assert ui_client.get("/openapi.json").json()["info"]["title"] == "stackflow"
    assert "/{path}" not in ui_client.get("/openapi.json").json()["paths"]


def test_no_file_outside_the_ui_folder(ui_client: TestClient) -> None:
    for path in ("/../pyproject.toml", "/%2e%2e/api/ui.py", "/ui.py", "/__init__.py"):
        answer = ui_client.get(path)
        assert "[project]" not in answer.text
        assert "def mount_ui" not in answer.text


def test_ui_files_need_no_token_but_the_api_does(secured_ui: TestClient) -> None:
    assert secured_ui.get("/executions/x").status_code == 200
    assert secured_ui.get("/app.js").status_code == 200
    assert secured_ui.get("/api/v1/workflows").status_code == 401


def test_ui_files_are_package_data() -> None:
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = settings["tool"]["setuptools"]["package-data"]["stackflow"]
    names = {path.name for path in UI.iterdir() if path.is_file()}
    assert {"index.html", "app.js", "style.css"} <= names
    for name in names:
        assert any(fnmatch(f"ui/{name}", pattern) for pattern in globs), name
    assert set(ui_files()) == names
