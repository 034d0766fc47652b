"""The CLI through a server: ``stackflow --server URL ...`` against a real API server.

The server runs in this process (``stackflow.api.serve`` on a free port, a SQLite home under
tmp_path); the CLI runs with click's CliRunner and talks to it over HTTP only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stackflow.api import ApiServer, AuthConfig, serve
from stackflow.client import RemoteEngine, ServerAuthError
from stackflow.engine import Engine
from stackflow.errors import NotFoundError, StackNotFoundError, TemplateError
from stackflow.store.tokens import TokenRecord, hash_token, new_token

APPROVAL = {
    "StartAt": "Approve",
    "States": {
        "Approve": {
            "Type": "Task",
            "Resource": "arn:aws:states:local:000000000000:activity:approve",
            "Next": "After",
        },
        "After": {"Type": "Pass", "Result": {"approved": True}, "End": True},
    },
}

HELLO = {
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Pass",
            "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"},
            "End": True,
        }
    },
}

FLAKY_MODULE = """
import os

def flaky(event):
    if not os.path.exists(os.environ["REMOTE_TEST_FLAG"]):
        raise RuntimeError("not yet")
    return {"fine": True}
"""

FLAKY = {
    "StartAt": "Try",
    "States": {"Try": {"Type": "Task", "Resource": "python:remote_tasks:flaky", "End": True}},
}

TEMPLATE = """\
Description: One file next to the template.
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Note:
    Type: Local::File
    Properties:
      Path: out/note.txt
      Content: !Sub "${Greeting} from the server\\n"
Outputs:
  NotePath:
    Value: !GetAtt Note.Path
"""

BAD_TEMPLATE = """\
Resources:
  Note:
    Type: Local::File
    Properties:
      Path: !Ref Missing
      Content: x
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a SQLite home under tmp_path (the server's)."""
    opened = Engine.open(tmp_path / "server-home", durability="normal")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def server(engine: Engine) -> Iterator[ApiServer]:
    """A loopback server (no token needed) on a free port."""
    running = serve(engine, "127.0.0.1", 0, ui=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def make_token(engine: Engine) -> Callable[[str], str]:
    """Create a token with a role in the server's store; return the token."""

    def make(role: str) -> str:
        secret, token_id = new_token()
        engine.store.tokens.add_token(
            TokenRecord(token_id, role, role, hash_token(secret), time.time())
        )
        return secret

    return make


def cli_run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``stackflow --server URL args``."""
    from stackflow.cli.main import cli

    return CliRunner().invoke(
        cli, ["--server", url, *args], env=env, catch_exceptions=False, prog_name="stackflow"
    )


def cli_json(url: str, *args: str, code: int = 0) -> Any:
    """Run a command with ``--json`` through the server and parse its standard output."""
    result = cli_run(url, *args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Call ``check`` until it returns something truthy (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"condition not met within {timeout}s"
        time.sleep(0.05)


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_workflow_start_describe_history_list_and_task_answers(
    server: ApiServer, engine: Engine, tmp_path: Path
) -> None:
    url = server.url
    definition = write(tmp_path / "approval.asl.json", APPROVAL)
    deployed = cli_json(url, "workflow", "deploy", definition, "--name", "approval")
    assert deployed == {"workflow": "approval", "version": 1}
    assert engine.store.get_workflow("approval").version == 1  # it went to the server's store

    started = cli_json(url, "workflow", "start", "approval", "--name", "one", "--input", "{}")
    execution = started["execution"]
    described = cli_json(url, "workflow", "describe", execution)
    assert (described["workflow"], described["status"]) == ("approval", "RUNNING")
    assert described["children"] == {}
    listed = cli_json(url, "workflow", "list", "--workflow", "approval")
    assert [r["execution"] for r in listed] == [execution]

    task = wait_for(lambda: cli_run(url, "activity", "poll", "approve", "--wait", "0.2"))
    assert task.exit_code == 0, task.output
    token = json.loads(task.stdout)["taskToken"]
    answered = cli_run(url, "workflow", "send-task-success", token, "--output", '{"ok": 1}')
    assert answered.exit_code == 0, answered.output
    wait_for(lambda: engine.describe(execution).status == "SUCCEEDED")

    history = cli_json(url, "workflow", "history", execution)
    types = [e["type"] for e in history]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    graph = cli_json(url, "workflow", "graph", execution)
    assert {"Approve", "After"} <= {n.get("label") for n in graph["nodes"]}
    human = cli_run(url, "workflow", "describe", execution)
    assert "SUCCEEDED" in human.stdout and '"approved": true' in human.stdout

    second = cli_json(url, "workflow", "start", "approval")["execution"]
    stopped = cli_json(url, "workflow", "stop", second, "--cause", "not needed")
    assert stopped == {"execution": second, "status": "ABORTED"}
    assert engine.describe(second).cause == "not needed"
    assert [r["execution"] for r in cli_json(url, "workflow", "list", "--status", "ABORTED")] == [
        second
    ]


def test_workflow_run_sends_a_local_file_inline_and_follows_it(
    server: ApiServer, tmp_path: Path
) -> None:
    definition = write(tmp_path / "hello.asl.json", HELLO)
    result = cli_run(server.url, "workflow", "run", definition, "--input", '{"who": "ann"}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"greeting": "hi ann"}
    assert "PassStateEntered" in result.stderr or "Greet" in result.stderr  # the progress lines
    listed = cli_json(server.url, "workflow", "list", "--workflow", "hello")
    assert [r["status"] for r in listed] == ["SUCCEEDED"]  # recorded under the file's name


def test_workflow_run_of_an_invalid_file_names_its_lines(server: ApiServer, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.asl.json", '{\n  "StartAt": "Nope",\n  "States": {}\n}\n')
    result = cli_run(server.url, "workflow", "run", bad)
    assert result.exit_code == 1
    assert f"{bad}:3:3:" in result.stderr and "States" in result.stderr


def test_redrive_through_the_server(
    server: ApiServer, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "remote_tasks.py").write_text(FLAKY_MODULE)
    monkeypatch.syspath_prepend(str(modules))  # the server (in this process) imports it
    flag = tmp_path / "flag"
    monkeypatch.setenv("REMOTE_TEST_FLAG", str(flag))
    definition = write(tmp_path / "flaky.asl.json", FLAKY)
    failed = cli_run(server.url, "workflow", "run", definition, "--json")
    assert failed.exit_code == 1
    execution = json.loads(failed.stdout)["execution"]
    assert engine.describe(execution).status == "FAILED"

    flag.write_text("ok")
    redriven = cli_json(server.url, "workflow", "redrive", execution)
    assert (redriven["status"], redriven["output"]) == ("SUCCEEDED", {"fine": True})


def test_stack_plan_apply_describe_events_outputs_drift_delete(
    server: ApiServer, tmp_path: Path
) -> None:
    url = server.url
    project = tmp_path / "project"
    project.mkdir()
    template = write(project / "app.yaml", TEMPLATE)
    note = project / "out" / "note.txt"

    plan = cli_json(url, "stack", "plan", template, "--stack", "app")
    assert plan["Summary"]["Add"] == 1 and not note.exists()
    human_plan = cli_run(url, "stack", "plan", template, "--stack", "app")
    assert "+ Note (Local::File)" in human_plan.stdout

    applied = cli_run(url, "stack", "apply", template, "--stack", "app", "--param", "Greeting=hey")
    assert applied.exit_code == 0, applied.output
    assert "stack app: CREATE_COMPLETE" in applied.stdout
    assert "CREATE_IN_PROGRESS" in applied.stderr  # live progress from the stack's events
    assert note.read_text() == "hey from the server\n"  # relative to the template's folder

    described = cli_json(url, "stack", "describe", "app")
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["TemplateFile"] == str(Path(template).resolve())
    assert [r["LogicalResourceId"] for r in described["Resources"]] == ["Note"]
    assert "Greeting" in cli_run(url, "stack", "describe", "app").stdout
    outputs = cli_json(url, "stack", "outputs", "app")
    assert outputs == {"NotePath": str(note.resolve())}
    events = cli_json(url, "stack", "events", "app")
    assert (events[-1]["LogicalResourceId"], events[-1]["ResourceStatus"]) == (
        "app",
        "CREATE_COMPLETE",
    )
    assert [s["StackName"] for s in cli_json(url, "stack", "list")] == ["app"]

    assert cli_json(url, "stack", "drift", "app")["StackDriftStatus"] == "IN_SYNC"
    note.write_text("changed by hand\n")
    drifted = cli_run(url, "stack", "drift", "app")
    assert drifted.exit_code == 2
    assert "MODIFIED" in drifted.stdout and "Note" in drifted.stdout

    deleted = cli_json(url, "stack", "delete", "app", "--yes")
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert not note.exists()
    assert cli_json(url, "stack", "list") == []
    missing = cli_run(url, "stack", "describe", "app")
    assert missing.exit_code == 1 and "app" in missing.stderr


def test_a_bad_template_prints_file_line_column(server: ApiServer, tmp_path: Path) -> None:
    template = write(tmp_path / "typo.yaml", BAD_TEMPLATE)
    result = cli_run(server.url, "stack", "plan", template, "--stack", "typo")
    assert result.exit_code == 1
    assert f"{template}:5:" in result.stderr and "Missing" in result.stderr
    applied = cli_run(server.url, "stack", "apply", template, "--stack", "typo")
    assert applied.exit_code == 1 and f"{template}:5:" in applied.stderr


def test_a_template_sent_as_text_keeps_the_local_file_in_problems(
    server: ApiServer, tmp_path: Path
) -> None:
    template = write(tmp_path / "typo.yaml", BAD_TEMPLATE)
    with RemoteEngine(server.url, send_paths=False) as remote:
        with pytest.raises(TemplateError) as caught:
            remote.stacks.plan(Path(template), "typo")
        problem = caught.value.problems[0]
        assert (problem.location.file, problem.location.line) == (template, 5)
        assert f"{template}:5:" in str(caught.value)
        with pytest.raises(StackNotFoundError):
            remote.stacks.describe("nothing")
        with pytest.raises(NotFoundError):
            remote.describe("no-such-execution")


def test_tokens_are_sent_and_refusals_name_the_token(
    engine: Engine, make_token: Callable[[str], str], tmp_path: Path
) -> None:
    running = serve(
        engine, "127.0.0.1", 0, AuthConfig(require_token=True, tokens=engine.store.tokens), ui=False
    )
    try:
        url = running.url
        refused = cli_run(url, "workflow", "list")
        assert refused.exit_code == 1
        assert "401" in refused.stderr and "STACKFLOW_TOKEN" in refused.stderr

        read = make_token("read")
        assert cli_json(url, "--token", read, "workflow", "list") == []
        listed = cli_run(url, "workflow", "list", "--json", env={"STACKFLOW_TOKEN": read})
        assert listed.exit_code == 0 and json.loads(listed.stdout) == []

        template = write(tmp_path / "app.yaml", TEMPLATE)
        denied = cli_run(
            url, "stack", "apply", template, "--stack", "app", env={"STACKFLOW_TOKEN": read}
        )
        assert denied.exit_code == 1
        assert "403" in denied.stderr and "admin" in denied.stderr
        assert engine.stacks.store.find_stack("app") is None

        admin = make_token("admin")
        applied = cli_run(
            url, "stack", "apply", template, "--stack", "app", env={"STACKFLOW_TOKEN": admin}
        )
        assert applied.exit_code == 0, applied.output
        with RemoteEngine(url) as anonymous, pytest.raises(ServerAuthError) as caught:
            anonymous.list_executions()
        assert caught.value.status == 401
    finally:
        running.stop()


def test_commands_that_need_the_store_are_refused(server: ApiServer, tmp_path: Path) -> None:
    listed = cli_run(server.url, "activity", "list")
    assert listed.exit_code == 1
    assert "`stackflow activity list` works on the store directly" in listed.stderr
    worker = cli_run(server.url, "worker")
    assert worker.exit_code == 2 and "--server" in worker.stderr
    serving = cli_run(server.url, "server")
    assert serving.exit_code == 2 and "`stackflow server`" in serving.stderr
    both = cli_run(server.url, "--home", str(tmp_path / "h"), "workflow", "list")
    assert both.exit_code == 2 and "--home" in both.stderr


def test_an_unreachable_server_is_a_clear_error() -> None:
    result = cli_run("http://127.0.0.1:9", "workflow", "list")
    assert result.exit_code == 1
    assert "cannot reach the server at http://127.0.0.1:9" in result.stderr


def local_json(home: Path, *args: str) -> Any:
    """Run a command with ``--json`` on the store directly (no server)."""
    from stackflow.cli.main import cli

    result = CliRunner().invoke(
        cli, ["--home", str(home), *args, "--json"], env={"STACKFLOW_SERVER": ""}
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_remote_json_is_the_local_json(server: ApiServer, engine: Engine, tmp_path: Path) -> None:
    home = tmp_path / "server-home"
    template = write(tmp_path / "app.yaml", TEMPLATE)
    assert cli_run(server.url, "stack", "apply", template, "--stack", "app").exit_code == 0
    for command in (
        ("stack", "describe", "app"),
        ("stack", "events", "app"),
        ("stack", "outputs", "app"),
        ("stack", "list"),
        ("stack", "plan", template, "--stack", "app", "--param", "Greeting=hi"),
    ):
        assert cli_json(server.url, *command) == local_json(home, *command), command

    definition = write(tmp_path / "hello.asl.json", HELLO)
    ran = cli_json(server.url, "workflow", "run", definition, "--input", '{"who": "bo"}')
    for command in (
        ("workflow", "describe", ran["execution"]),
        ("workflow", "history", ran["execution"]),
        ("workflow", "list"),
    ):
        assert cli_json(server.url, *command) == local_json(home, *command), command


SERVICE = "shop-Web"


def local_run(home: Path, *args: str) -> Result:
    """Run a command on the store directly (no server)."""
    from stackflow.cli.main import cli

    return CliRunner().invoke(cli, ["--home", str(home), *args], env={"STACKFLOW_SERVER": ""})


def add_service_records(engine: Engine, home: Path) -> None:
    """Put a service with two replicas (and their logs) into the server's store."""
    from stackflow.store.services import ReplicaRecord, ServiceRecord

    now = time.time()
    store = engine.store.services
    store.put_service(
        ServiceRecord(
            name=SERVICE,
            stack_name="shop",
            logical_id="Web",
            spec={"Command": ["app", "--version", "2"]},
            revision=2,
            replicas=2,
            base_dir=str(home),
            created_at=now,
            updated_at=now,
            previous_spec={"Command": ["app", "--version", "1"]},
            previous_revision=1,
            rollout={"status": "COMPLETE", "revision": 2, "message": "2/2 ready"},
            load_balancer="127.0.0.1:8800",
        )
    )
    log_dir = home / "services" / SERVICE
    log_dir.mkdir(parents=True)
    for slot, state in ((0, "READY"), (1, "BACKOFF")):
        log = log_dir / f"{slot}-r{slot}.log"
        log.write_text("".join(f"replica {slot} line {i}\n" for i in range(5)))
        store.put_replica(
            ReplicaRecord(
                service=SERVICE,
                replica_id=f"r{slot}",
                slot=slot,
                revision=2 - slot,
                state=state,
                updated_at=now,
                pid=4242 + slot,
                port=8000 + slot,
                restarts=3 * slot,
                last_exit_code=7 if slot else None,
                last_exit_at=now if slot else None,
                probe_output="connection refused" if slot else None,
                log_path=str(log),
                ready_since=now if state == "READY" else None,
            )
        )


def add_schedule_records(engine: Engine) -> None:
    """Deploy workflow ``wf`` and put two schedules of it into the server's store."""
    from datetime import UTC, datetime

    from stackflow.scheduler.schedule import ScheduleSpec
    from stackflow.store.schedules import ScheduleRecord

    engine.deploy({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}, "wf")
    created = datetime(2025, 1, 1, tzinfo=UTC)
    specs = {
        "berlin-daily": ScheduleSpec(
            "cron(0 9 * * ? *)",
            timezone="Europe/Berlin",
            workflow="wf",
            input={"at": "<aws.scheduler.scheduled-time>"},
            created_at=created,
        ),
        "paused": ScheduleSpec("rate(1 hour)", state="DISABLED", workflow="wf"),
    }
    at = created.timestamp()
    for name, spec in specs.items():
        engine.store.schedules.put_schedule(
            ScheduleRecord(name, spec.to_json(), "app", name.title(), None, at, at)
        )


def test_service_reads_through_the_server_are_the_local_ones(
    server: ApiServer, engine: Engine, tmp_path: Path
) -> None:
    home = tmp_path / "server-home"
    add_service_records(engine, home)
    for command in (
        ("service", "list"),
        ("service", "list", "--stack", "shop"),
        ("service", "status", SERVICE),
        ("service", "logs", SERVICE, "--lines", "2"),
        ("service", "logs", SERVICE, "--replica", "1"),
        ("service", "rollout", "status", SERVICE),
    ):
        remote = cli_json(server.url, *command)
        assert remote == local_json(home, *command), command
        human = cli_run(server.url, *command)
        assert human.exit_code == 0, human.output
        assert human.stdout == local_run(home, *command).stdout, command
    status = cli_json(server.url, "service", "status", SERVICE)
    assert [r["slot"] for r in status["replica_records"]] == [0, 1]
    assert status["supervisor"].startswith("none")
    logs = cli_json(server.url, "service", "logs", SERVICE, "--lines", "2")
    assert [e["lines"] for e in logs] == [
        ["replica 0 line 3", "replica 0 line 4"],
        ["replica 1 line 3", "replica 1 line 4"],
    ]
    rollout = cli_json(server.url, "service", "rollout", "status", SERVICE)
    assert (rollout["updated"], rollout["ready"], rollout["old_running"]) == (1, 1, 1)
    text = cli_run(server.url, "service", "logs", SERVICE, "--replica", "0").stdout
    assert text.splitlines()[0] == "replica 0 line 0"  # one log: no slot prefix

    missing = cli_run(server.url, "service", "status", "nope")
    assert missing.exit_code == 1 and f"Known services: {SERVICE}" in missing.stderr
    no_slot = cli_run(server.url, "service", "logs", SERVICE, "--replica", "7")
    assert no_slot.exit_code == 1 and "slot 7" in no_slot.stderr


def test_service_scale_and_restart_through_the_server(
    server: ApiServer, engine: Engine, tmp_path: Path
) -> None:
    add_service_records(engine, tmp_path / "server-home")
    scaled = cli_json(server.url, "service", "scale", SERVICE, "3")
    assert scaled == {"name": SERVICE, "replicas": 3, "previous": 2}
    assert engine.store.services.get_service(SERVICE).replicas == 3
    text = cli_run(server.url, "service", "scale", SERVICE, "1")
    assert text.stdout == f"service {SERVICE}: replicas 3 -> 1\n"

    before = time.time()
    restarted = cli_json(server.url, "service", "restart", SERVICE)
    assert restarted["name"] == SERVICE and restarted["restart_requested_at"] >= before
    stored = engine.store.services.get_service(SERVICE).restart_requested_at
    assert stored == restarted["restart_requested_at"]
    text = cli_run(server.url, "service", "restart", SERVICE)
    assert text.stdout == f"service {SERVICE}: rolling restart requested\n"


def test_service_commands_that_stay_local_are_refused(
    server: ApiServer, engine: Engine, tmp_path: Path
) -> None:
    add_service_records(engine, tmp_path / "server-home")
    follow = cli_run(server.url, "service", "logs", SERVICE, "-f")
    assert follow.exit_code == 2
    assert "`stackflow service logs -f` cannot follow logs through a server" in follow.stderr
    undo = cli_run(server.url, "service", "rollout", "undo", SERVICE)
    assert undo.exit_code == 1
    assert "`stackflow service rollout undo` works on the store directly" in undo.stderr
    assert engine.store.services.get_service(SERVICE).revision == 2  # nothing changed


def test_schedule_list_and_describe_through_the_server_are_the_local_ones(
    server: ApiServer, engine: Engine, tmp_path: Path
) -> None:
    home = tmp_path / "server-home"
    add_schedule_records(engine)
    for command in (
        ("schedule", "list"),
        ("schedule", "list", "--stack", "nope"),
        ("schedule", "describe", "berlin-daily"),
        ("schedule", "describe", "berlin-daily", "--count", "2"),
        ("schedule", "describe", "paused"),
    ):
        assert cli_json(server.url, *command) == local_json(home, *command), command
        human = cli_run(server.url, *command)
        assert human.exit_code == 0, human.output
        assert human.stdout == local_run(home, *command).stdout, command
    described = cli_json(server.url, "schedule", "describe", "berlin-daily", "--count", "2")
    assert len(described["next_fire_times"]) == 2
    missing = cli_run(server.url, "schedule", "describe", "nope")
    assert missing.exit_code == 1 and "Known schedules: berlin-daily, paused" in missing.stderr


def test_schedule_backfill_through_the_server(
    server: ApiServer, engine: Engine, tmp_path: Path
) -> None:
    home = tmp_path / "server-home"
    add_schedule_records(engine)
    args = ("schedule", "backfill", "berlin-daily", "--from", "2025-03-01T00:00")
    runs = cli_json(server.url, *args, "--to", "2025-03-02T23:59")
    assert [r["execution_name"] for r in runs] == [
        "berlin-daily-20250301T080000Z",
        "berlin-daily-20250302T080000Z",
    ]
    assert runs[0]["fire_time"] == "2025-03-01T08:00:00Z"
    first = engine.store.find_execution("wf", "berlin-daily-20250301T080000Z")
    assert first is not None and first.execution_id == runs[0]["execution"]
    assert first.input == {"at": "2025-03-01T08:00:00Z"}
    # the same range again, here and on the store directly: the same runs, not new ones
    assert cli_json(server.url, *args, "--to", "2025-03-02T23:59") == runs
    assert local_json(home, *args, "--to", "2025-03-02T23:59") == runs
    text = cli_run(server.url, *args, "--to", "2025-03-01T12:00")
    assert text.exit_code == 0, text.output
    assert text.stdout == local_run(home, *args, "--to", "2025-03-01T12:00").stdout
    assert text.stdout.startswith("2025-03-01 09:00:00+01:00  berlin-daily-20250301T080000Z  ")
    assert "1 run(s) of schedule berlin-daily recorded" in text.stderr

    bad = cli_run(server.url, "schedule", "backfill", "berlin-daily", "--from", "x", "--to", "y")
    assert bad.exit_code == 2 and "is not a date-time" in bad.stderr
    future = cli_run(
        server.url,
        "schedule",
        "backfill",
        "berlin-daily",
        "--from",
        "2025-01-01",
        "--to",
        "2999-01-01",
    )
    assert future.exit_code == 1 and "must lie in the past" in future.stderr
    missing = cli_run(server.url, "schedule", "backfill", "nope", "--from", "x", "--to", "y")
    assert missing.exit_code == 1 and "no schedule named 'nope'" in missing.stderr
