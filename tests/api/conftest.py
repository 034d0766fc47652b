"""Fixtures of the HTTP API tests: an engine on a real SQLite home and clients for it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_support import TASKS_MODULE
from fastapi.testclient import TestClient

from stackflow.api import AuthConfig, create_app
from stackflow.engine import Engine
from stackflow.store.tokens import TokenRecord, hash_token, new_token


@pytest.fixture
def tasks_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``python:api_tasks:*`` importable; return the flag file ``flaky`` looks for."""
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "api_tasks.py").write_text(TASKS_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    flag = tmp_path / "flaky.flag"
    monkeypatch.setenv("API_TEST_FLAG", str(flag))
    return flag


@pytest.fixture
def engine(tmp_path: Path, tasks_module: Path) -> Iterator[Engine]:
    """An engine on a SQLite home under tmp_path."""
    opened = Engine.open(tmp_path / "home", durability="normal")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def client(engine: Engine) -> TestClient:
    """An in-process client of a loopback-style app (no token needed)."""
    return TestClient(create_app(engine, auth=AuthConfig(False, engine.store.tokens)))


@pytest.fixture
def make_token(engine: Engine) -> Callable[[str], str]:
    """Create a token with a role in the engine's store; return the token."""

    def make(role: str, name: str = "") -> str:
        secret, token_id = new_token()
        engine.store.tokens.add_token(
            TokenRecord(token_id, name, role, hash_token(secret), time.time())
        )
        return secret

    return make
