"""In-process tests of ``stackflow service ...`` (click's CliRunner, a real SQLite home).

Service and replica records are written straight into the home's store, as a controller would;
no process is started here (the end-to-end tests do that).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stackflow.cli.main import cli
from stackflow.engine import Engine
from stackflow.store.services import ReplicaRecord, ServiceRecord

NAME = "shop-Web"


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    now = time.time()
    log_dir = home / "services" / NAME
    log_dir.mkdir(parents=True)
    with Engine.open(home) as engine:
        store = engine.store.services
        store.put_service(
            ServiceRecord(
                name=NAME,
                stack_name="shop",
                logical_id="Web",
                spec={"Command": ["app", "--version", "2"]},
                revision=2,
                replicas=2,
                base_dir=str(tmp_path),
                created_at=now,
                updated_at=now,
                previous_spec={"Command": ["app", "--version", "1"]},
                previous_revision=1,
                rollout={"status": "COMPLETE", "revision": 2, "message": "2/2 ready"},
                load_balancer="127.0.0.1:8800",
            )
        )
        for slot, state in ((0, "READY"), (1, "BACKOFF")):
            log = log_dir / f"{slot}-r{slot}.log"
            log.write_text("".join(f"replica {slot} line {i}\n" for i in range(5)))
            store.put_replica(
                ReplicaRecord(
                    service=NAME,
                    replica_id=f"r{slot}",
                    slot=slot,
                    revision=2,
                    state=state,
                    updated_at=now,
                    pid=4242 if state == "READY" else None,
                    port=8000 + slot,
                    restarts=3 * slot,
                    last_exit_code=7 if slot else None,
                    last_exit_at=now if slot else None,
                    probe_output="connection refused" if slot else None,
                    log_path=str(log),
                    ready_since=now if state == "READY" else None,
                )
            )
    return home


def test_list_shows_ready_counts(home: Path) -> None:
    result = run(home, "service", "list")
    assert result.exit_code == 0, result.output
    assert NAME in result.output
    assert "1/2" in result.output
    assert "127.0.0.1:8800" in result.output
    data = json.loads(run(home, "service", "list", "--json").output)
    assert data[0]["name"] == NAME and data[0]["ready"] == 1 and data[0]["replicas"] == 2
    assert json.loads(run(home, "service", "list", "--stack", "other", "--json").output) == []


def test_status_shows_replicas_restarts_last_exit_and_probe_output(home: Path) -> None:
    result = run(home, "service", "status", NAME)
    assert result.exit_code == 0, result.output
    assert "Ready:      1/2" in result.output
    assert "4242" in result.output
    assert "BACKOFF" in result.output
    assert "connection refused" in result.output
    assert "7 at" in result.output
    assert "no stackflow server is running" in result.output
    data = json.loads(run(home, "service", "status", NAME, "--json").output)
    assert data["ready"] == 1
    second = data["replica_records"][1]
    assert (second["restarts"], second["last_exit_code"]) == (3, 7)


def test_unknown_service_names_the_known_ones(home: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(home), "service", "status", "nope"])
    assert result.exit_code == 1
    assert "no service named 'nope'" in result.output
    assert NAME in result.output


def test_logs_tail_each_replica_with_a_prefix(home: Path) -> None:
    result = run(home, "service", "logs", NAME, "--lines", "2")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "[0] replica 0 line 3",
        "[0] replica 0 line 4",
        "[1] replica 1 line 3",
        "[1] replica 1 line 4",
    ]
    one = run(home, "service", "logs", NAME, "--replica", "1", "-n", "1")
    assert one.output.splitlines() == ["replica 1 line 4"]
    data = json.loads(run(home, "service", "logs", NAME, "--json", "-n", "1").output)
    assert [d["slot"] for d in data] == [0, 1]
    missing = CliRunner().invoke(
        cli, ["--home", str(home), "service", "logs", NAME, "--replica", "5"]
    )
    assert missing.exit_code == 1


def test_scale_and_restart_write_the_desired_state(home: Path) -> None:
    result = run(home, "service", "scale", NAME, "5")
    assert result.exit_code == 0 and "2 -> 5" in result.output
    before = time.time()
    assert run(home, "service", "restart", NAME).exit_code == 0
    with Engine.open(home) as engine:
        record = engine.store.services.get_service(NAME)
    assert record.replicas == 5
    assert record.revision == 2
    assert record.restart_requested_at is not None and record.restart_requested_at >= before


def test_rollout_status_and_undo(home: Path) -> None:
    data = json.loads(run(home, "service", "rollout", "status", NAME, "--json").output)
    assert (data["revision"], data["status"], data["ready"], data["desired"]) == (
        2,
        "COMPLETE",
        1,
        2,
    )
    text = run(home, "service", "rollout", "status", NAME).output
    assert "revision 2 COMPLETE (1/2 ready)" in text
    result = run(home, "service", "rollout", "undo", NAME)
    assert result.exit_code == 0, result.output
    with Engine.open(home) as engine:
        record = engine.store.services.get_service(NAME)
    assert record.revision == 3
    assert record.spec == {"Command": ["app", "--version", "1"]}
    assert record.previous_spec == {"Command": ["app", "--version", "2"]}
    assert record.previous_revision == 2
    assert record.rollout["status"] == "PROGRESSING"


def test_undo_without_previous_revision_fails(home: Path) -> None:
    with Engine.open(home) as engine:
        engine.store.services.update_service(NAME, previous_spec=None, previous_revision=None)
    result = CliRunner().invoke(cli, ["--home", str(home), "service", "rollout", "undo", NAME])
    assert result.exit_code == 1
    assert "no previous revision" in result.output


def test_status_and_logs_mask_the_no_echo_values_of_the_services_stack(home: Path) -> None:
    from stackflow.store.stacks import StackRecord

    secret = "hunter2-not-for-eyes"
    now = time.time()
    with Engine.open(home) as engine:
        engine.store.stacks.create_stack(
            StackRecord(
                stack_id="id-shop",
                name="shop",
                status="CREATE_COMPLETE",
                status_reason=None,
                template="{}",
                template_file=None,
                parameters={"DbPassword": secret},
                no_echo=frozenset({"DbPassword"}),
                outputs={},
                description=None,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
        services = engine.store.services
        record = services.get_service(NAME)
        services.update_service(NAME, spec={**record.spec, "Environment": {"DB_PASSWORD": secret}})
        log = Path(services.list_replicas(NAME)[0].log_path or "")
        log.write_text(f"connecting with {secret}\n")
    status = run(home, "service", "status", NAME, "--json")
    assert status.exit_code == 0, status.output
    assert secret not in status.output and "****" in status.output
    logs = run(home, "service", "logs", NAME, "--replica", "0")
    assert logs.exit_code == 0, logs.output
    assert logs.output.strip() == "connecting with ****"
