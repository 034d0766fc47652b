"""End-to-end tests of durable execution from the command line, in real processes.

``workflow start`` records executions that a ``stackflow worker`` process runs; other commands
(deploy, stop, redrive, send-task-*, activity poll) act on them from separate processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "stackflow"
DEADLINE = 60.0

T = TypeVar("T")


@pytest.fixture(scope="module")
def stackflow() -> Path:
    if not SCRIPT.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-e", str(REPO), "-q"], check=True, cwd=REPO
        )
    assert SCRIPT.exists()
    return SCRIPT


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["STACKFLOW_HOME"] = str(home)
    return env


class CLI:
    """Runs ``stackflow`` commands with one home and working directory."""

    def __init__(self, script: Path, home: Path, cwd: Path) -> None:
        self.script = script
        self.home = home
        self.cwd = cwd

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.script), *args],
            capture_output=True,
            text=True,
            env=_env(self.home),
            cwd=self.cwd,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def describe(self, execution_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.json("workflow", "describe", execution_id)
        return data

    def start(self, *args: str) -> str:
        execution: str = self.json("workflow", "start", *args)["execution"]
        return execution

    def until_ended(self, execution_id: str) -> dict[str, Any]:
        return poll(
            lambda: self.describe(execution_id),
            lambda d: d["status"] != "RUNNING",
            f"execution {execution_id} to end",
        )

    @contextmanager
    def worker(self, *args: str) -> Iterator[Path]:
        """Run ``stackflow worker`` for the block; yields the file its stderr goes to."""
        log = self.cwd / f"worker-{time.monotonic_ns()}.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [str(self.script), "worker", *args],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=_env(self.home),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
            )
            try:
                poll(log.read_text, lambda text: " started" in text, "the worker to start")
                yield log
            finally:
                print(log.read_text())  # shown by pytest when the test fails
                process.send_signal(signal.SIGTERM)
                try:
                    returncode = process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    raise
        assert returncode == 0, log.read_text()


def poll(read: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    """Call ``read`` until ``done`` accepts its value; fail after :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; last value: {value!r}")
        time.sleep(0.05)


def write(path: Path, document: Any) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return path


@pytest.fixture
def cli(stackflow: Path, tmp_path: Path) -> CLI:
    return CLI(stackflow, tmp_path / "home", tmp_path)


TASKS = """\
import os
from pathlib import Path


def greet(event):
    return {"greeting": "hello " + event["who"]}


def hand_out_token(event):
    Path(event["file"]).write_text(event["token"])
    return {"ignored": True}


def flaky(event):
    if not os.path.exists("fixed"):
        raise RuntimeError("not fixed yet")
    return {"fixed": True}
"""


def pass_workflow(result: Any) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}}


def test_start_records_and_a_worker_runs_it(cli: CLI) -> None:
    write(cli.cwd / "durable_cli_tasks.py", TASKS)
    write(
        cli.cwd / "greet.json",
        {
            "StartAt": "Greet",
            "States": {
                "Greet": {"Type": "Task", "Resource": "python:durable_cli_tasks:greet", "End": True}
            },
        },
    )
    plain = cli("workflow", "start", "greet.json", "--input", '{"who": "world"}')
    assert plain.returncode == 0, plain.stderr
    execution = plain.stdout.strip()
    recorded = cli.describe(execution)
    assert (recorded["status"], recorded["workflow"]) == ("RUNNING", "greet")
    assert cli.json("workflow", "history", execution) == []  # recorded, not run

    with cli.worker("--lease-seconds", "5") as log:
        done = cli.until_ended(execution)
        assert done["status"] == "SUCCEEDED"
        assert done["output"] == {"greeting": "hello world"}
        poll(log.read_text, lambda text: f"finished {execution} SUCCEEDED" in text, "worker log")
    lines = log.read_text().splitlines()
    assert f"claimed {execution} workflow=greet" in "\n".join(lines)
    assert lines[-1].endswith("stopping")


def test_start_reports_definition_and_input_errors(cli: CLI) -> None:
    write(cli.cwd / "bad.json", {"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}})
    invalid = cli("workflow", "start", "bad.json", "--json")
    assert invalid.returncode == 1
    assert json.loads(invalid.stdout)["error"] == "DefinitionError"
    write(cli.cwd / "ok.json", pass_workflow(1))
    bad_input = cli("workflow", "start", "ok.json", "--input", "[1,")
    assert bad_input.returncode == 2
    assert "not valid JSON" in bad_input.stderr
    missing = cli("workflow", "start", "missing.json")
    assert missing.returncode == 1
    assert "no deployed workflow is named 'missing.json'" in missing.stderr
    assert cli.json("workflow", "list") == []


def test_deploy_versions_then_run_and_start_by_name(cli: CLI) -> None:
    write(cli.cwd / "v1.json", pass_workflow({"v": 1}))
    write(cli.cwd / "v2.json", pass_workflow({"v": 2}))
    first = cli("workflow", "deploy", "v1.json", "--name", "pw")
    assert (first.returncode, first.stdout) == (0, "pw version 1\n")
    assert cli.json("workflow", "deploy", "v2.json", "--name", "pw") == {
        "workflow": "pw",
        "version": 2,
    }

    latest = cli.json("workflow", "run", "pw")
    assert (latest["status"], latest["output"]) == ("SUCCEEDED", {"v": 2})
    pinned = cli.json("workflow", "run", "pw:1")
    assert pinned["output"] == {"v": 1}
    assert cli.describe(pinned["execution"])["workflow"] == "pw"

    execution = cli.start("pw", "--name", "by-name")
    with cli.worker():
        done = cli.until_ended(execution)
    assert (done["status"], done["output"], done["name"]) == ("SUCCEEDED", {"v": 2}, "by-name")

    unknown = cli("workflow", "run", "nosuch")
    assert unknown.returncode == 1
    assert "no such file, and no deployed workflow is named 'nosuch'" in unknown.stderr


def test_deploy_reports_problems_like_validate(cli: CLI) -> None:
    write(cli.cwd / "typo.json", {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})
    plain = cli("workflow", "deploy", "typo.json", "--name", "t")
    assert plain.returncode == 1
    assert plain.stdout.startswith("typo.json:")
    validated = cli("validate", "typo.json")
    assert (plain.stdout, plain.stderr) == (validated.stdout, validated.stderr)
    data = cli("workflow", "deploy", "typo.json", "--name", "t", "--json")
    assert data.returncode == 1
    assert json.loads(data.stdout) == json.loads(cli("validate", "typo.json", "--json").stdout)
    write(cli.cwd / "ok.json", pass_workflow(1))
    bad_name = cli("workflow", "deploy", "ok.json", "--name", "a/b")
    assert bad_name.returncode == 2


def test_stop_waiting_executions(cli: CLI) -> None:
    write(
        cli.cwd / "wait.json",
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}},
    )
    orphan = cli.start("wait.json")  # no worker: the stop command takes it over itself
    stopped = cli.json("workflow", "stop", orphan, "--error", "Halt", "--cause", "test")
    assert stopped == {"execution": orphan, "status": "ABORTED"}
    described = cli.describe(orphan)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "Halt",
        "test",
    )

    execution = cli.start("wait.json")
    with cli.worker():
        poll(
            lambda: [e["type"] for e in cli.json("workflow", "history", execution)],
            lambda types: "WaitStateEntered" in types,
            "the worker to enter the Wait state",
        )
        result = cli("workflow", "stop", execution)
        assert (result.returncode, result.stdout) == (0, "ABORTED\n")
    assert cli.describe(execution)["status"] == "ABORTED"
    again = cli.json("workflow", "stop", execution)
    assert again["status"] == "ABORTED"
    missing = cli("workflow", "stop", "no-such-id")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error:")


def test_wait_for_task_token_success_and_failure(cli: CLI) -> None:
    write(cli.cwd / "durable_cli_tasks.py", TASKS)
    write(
        cli.cwd / "callback.json",
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "python:durable_cli_tasks:hand_out_token.waitForTaskToken",
                    "Parameters": {"token.$": "$$.Task.Token", "file.$": "$.file"},
                    "End": True,
                }
            },
        },
    )
    ok_file, fail_file = cli.cwd / "ok.token", cli.cwd / "fail.token"
    ok = cli.start("callback.json", "--input", json.dumps({"file": str(ok_file)}))
    failing = cli.start("callback.json", "--input", json.dumps({"file": str(fail_file)}))
    with cli.worker():
        ok_token = poll(lambda: ok_file.read_text() if ok_file.exists() else "", bool, "token")
        fail_token = poll(
            lambda: fail_file.read_text() if fail_file.exists() else "", bool, "token"
        )
        heartbeat = cli("workflow", "send-task-heartbeat", ok_token)
        assert heartbeat.returncode == 0, heartbeat.stderr
        sent = cli("workflow", "send-task-success", ok_token, "--output", '{"answer": 42}')
        assert sent.returncode == 0, sent.stderr
        failed = cli(
            "workflow", "send-task-failure", fail_token, "--error", "Denied", "--cause", "no"
        )
        assert failed.returncode == 0, failed.stderr
        done = cli.until_ended(ok)
        assert (done["status"], done["output"]) == ("SUCCEEDED", {"answer": 42})
        refused = cli.until_ended(failing)
        assert (refused["status"], refused["error"], refused["cause"]) == ("FAILED", "Denied", "no")

    late = cli("workflow", "send-task-success", ok_token, "--output", "{}")
    assert late.returncode == 1
    assert late.stderr.startswith("error: Task does not exist")


def test_bad_tokens_exit_1(cli: CLI) -> None:
    garbage = cli("workflow", "send-task-success", "garbage", "--output", "{}")
    assert garbage.returncode == 1
    assert garbage.stderr.startswith("error: Invalid task token")
    assert "Traceback" not in garbage.stderr
    unknown = "sf1." + "bm8tc3VjaC1leGVjdXRpb258dDE"  # "no-such-execution|t1"
    for args in (
        ("send-task-failure", unknown),
        ("send-task-heartbeat", unknown),
        ("send-task-success", unknown, "--output", "{}"),
    ):
        result = cli("workflow", *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error:"), result.stderr
    bad_output = cli("workflow", "send-task-success", unknown, "--output", "{nope")
    assert bad_output.returncode == 2
    assert "'--output'" in bad_output.stderr


def test_activity_poll_and_answer_two_executions(cli: CLI) -> None:
    write(
        cli.cwd / "review.json",
        {
            "StartAt": "Review",
            "States": {
                "Review": {"Type": "Task", "Resource": "stackflow:activity:review", "End": True}
            },
        },
    )
    empty = cli("activity", "poll", "review")
    assert (empty.returncode, empty.stdout) == (3, "")
    first = cli.start("review.json", "--input", '{"n": 1}')
    second = cli.start("review.json", "--input", '{"n": 2}')
    with cli.worker():
        poll(
            lambda: cli.json("activity", "list"),
            lambda rows: rows == [{"activity": "review", "waiting": 2}],
            "two waiting tasks",
        )
        tasks = []
        for _ in range(2):
            taken = cli("activity", "poll", "review", "--worker", "w1", "--wait", "10")
            assert taken.returncode == 0, taken.stderr
            tasks.append(json.loads(taken.stdout))
        assert sorted(t["input"]["n"] for t in tasks) == [1, 2]
        assert cli.json("activity", "list") == [{"activity": "review", "waiting": 0}]
        none_left = cli("activity", "poll", "review", "--wait", "0.2", "--json")
        assert (none_left.returncode, none_left.stdout, none_left.stderr) == (3, "", "")
        for task in tasks:
            output = json.dumps({"reviewed": task["input"]["n"]})
            sent = cli("workflow", "send-task-success", task["taskToken"], "--output", output)
            assert sent.returncode == 0, sent.stderr
        outputs = {
            cli.until_ended(execution)["output"]["reviewed"] for execution in (first, second)
        }
    assert outputs == {1, 2}
    assert cli.describe(first)["output"] == {"reviewed": 1}


def test_redrive_in_foreground_and_by_a_worker(cli: CLI) -> None:
    write(cli.cwd / "durable_cli_tasks.py", TASKS)
    write(
        cli.cwd / "flaky.json",
        {
            "StartAt": "First",
            "States": {
                "First": {"Type": "Pass", "Result": "kept", "ResultPath": "$.first", "Next": "F"},
                "F": {
                    "Type": "Task",
                    "Resource": "python:durable_cli_tasks:flaky",
                    "ResultPath": "$.flaky",
                    "End": True,
                },
            },
        },
    )
    failed = cli("workflow", "run", "flaky.json", "--json")
    assert failed.returncode == 1
    execution = json.loads(failed.stdout)["execution"]
    again = cli("workflow", "redrive", execution, "--json")
    assert again.returncode == 1
    assert json.loads(again.stdout)["status"] == "FAILED"
    (cli.cwd / "fixed").write_text("")
    fixed = cli("workflow", "redrive", execution, "--json")
    assert fixed.returncode == 0, fixed.stderr
    data = json.loads(fixed.stdout)
    assert set(data) == {"execution", "status", "output", "error", "cause"}
    assert (data["status"], data["output"]) == (
        "SUCCEEDED",
        {"first": "kept", "flaky": {"fixed": True}},
    )
    history = [e["type"] for e in cli.json("workflow", "history", execution)]
    assert history.count("ExecutionRedriven") == 2
    assert history.count("PassStateEntered") == 1  # restarted at the failed state
    refused = cli("workflow", "redrive", execution)
    assert refused.returncode == 1
    assert "only FAILED, TIMED_OUT or ABORTED" in refused.stderr

    (cli.cwd / "fixed").unlink()
    failed_again = json.loads(cli("workflow", "run", "flaky.json", "--json").stdout)
    (cli.cwd / "fixed").write_text("")
    recorded = cli("workflow", "redrive", failed_again["execution"], "--no-wait")
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.stdout.strip() == failed_again["execution"]
    assert "stackflow worker" in recorded.stderr
    with cli.worker():
        done = cli.until_ended(failed_again["execution"])
    assert (done["status"], done["output"]["flaky"]) == ("SUCCEEDED", {"fixed": True})


def test_describe_shows_distributed_map_children(cli: CLI) -> None:
    write(
        cli.cwd / "dmap.json",
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "I",
                        "States": {"I": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            },
        },
    )
    run = cli.json("workflow", "run", "dmap.json", "--input", '{"items": [1, 2, 3]}')
    assert run["status"] == "SUCCEEDED"
    described = cli.describe(run["execution"])
    assert described["children"] == {"SUCCEEDED": 3}
    plain = cli("workflow", "describe", run["execution"])
    assert "Map run:   3 children: 3 SUCCEEDED" in plain.stdout.splitlines()
    single = cli.json("workflow", "run", "dmap.json", "--input", '{"items": []}')
    assert cli.describe(single["execution"])["children"] == {}
    assert "Map run:" not in cli("workflow", "describe", single["execution"]).stdout
