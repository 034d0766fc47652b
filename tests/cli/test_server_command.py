"""``stackflow server``: supervises the home's services and leaves them running when stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from stackflow.cli.main import cli
from stackflow.engine import Engine
from stackflow.store.services import ServiceRecord

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    with Engine.open(home) as engine:
        now = time.time()
        engine.store.services.put_service(
            ServiceRecord(
                name="app-sleeper",
                stack_name="app",
                logical_id="sleeper",
                spec={"Command": ["sleep", "300"]},
                revision=1,
                replicas=2,
                base_dir=str(tmp_path),
                created_at=now,
                updated_at=now,
            )
        )
    pids: set[int] = set()
    try:
        yield home
    finally:
        with Engine.open(home) as engine:
            pids.update(r.pid for r in engine.store.services.list_replicas("app-sleeper") if r.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def replicas(home: Path) -> list[tuple[int | None, str]]:
    with Engine.open(home) as engine:
        return [(r.pid, r.state) for r in engine.store.services.list_replicas("app-sleeper")]


def test_help_lists_the_api_options() -> None:
    result = CliRunner().invoke(cli, ["server", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output


def test_server_starts_replicas_and_leaves_them_running_on_sigterm(home: Path) -> None:
    command = [sys.executable, "-m", "stackflow.cli.main", "--home", str(home), "server"]
    server = subprocess.Popen(
        [*command, "--poll-seconds", "0.1", "--port", "0"], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = replicas(home)
            if [state for _, state in found] == ["READY", "READY"]:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(0.1)
        else:
            pytest.fail(f"replicas not ready: {replicas(home)}")
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, errors
    assert "API and web UI on http://127.0.0.1:" in errors
    assert "app-sleeper[0] replica-started" in errors
    assert "stopping (replicas keep running)" in errors
    pids = [pid for pid, _ in replicas(home)]
    assert len(pids) == 2
    assert all(pid is not None and psutil.pid_exists(pid) for pid in pids)
