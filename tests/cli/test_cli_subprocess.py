"""End-to-end tests running the installed ``stackflow`` console script in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "stackflow"


@pytest.fixture(scope="module")
def stackflow() -> Path:
    if not SCRIPT.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-e", str(REPO), "-q"], check=True, cwd=REPO
        )
    assert SCRIPT.exists()
    return SCRIPT


def sf(
    script: Path, home: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["STACKFLOW_HOME"] = str(home)
    return subprocess.run(
        [str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def write(path: Path, document: Any) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return path


TASKS = """\
def greet(event):
    return {"greeting": "hello " + event["who"]}


def explode(event):
    raise ValueError("bad value: " + str(event.get("who")))
"""

PY_WF = {
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Task",
            "Resource": "python:cli_e2e_tasks:greet",
            "ResultPath": "$.greet",
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"who.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "StartAt": "Inner",
                "States": {
                    "Inner": {
                        "Type": "Task",
                        "Resource": "python:cli_e2e_tasks:greet",
                        "End": True,
                    }
                },
            },
            "ResultPath": "$.greetings",
            "End": True,
        },
    },
}

EXPLODE_WF = {
    "StartAt": "Explode",
    "States": {
        "Explode": {"Type": "Task", "Resource": "python:cli_e2e_tasks:explode", "End": True}
    },
}


def test_validate_typo_exact_message(stackflow: Path, tmp_path: Path) -> None:
    write(
        tmp_path / "typo.json",
        '{\n  "StartAt": "A",\n  "States": {\n'
        '    "A": {"Type": "Pass", "Next": "Finnish"},\n'
        '    "Finish": {"Type": "Succeed"}\n  }\n}\n',
    )
    result = sf(stackflow, tmp_path / "home", "validate", "typo.json", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        'typo.json:4:27: State "A" has Next "Finnish" which is not a state in this state machine.'
        ' Did you mean "Finish"? (/States/A/Next)'
    )
    assert "Traceback" not in result.stderr
    ok = write(tmp_path / "ok.yaml", "StartAt: A\nStates:\n  A:\n    Type: Succeed\n")
    valid = sf(stackflow, tmp_path / "home", "validate", str(ok))
    assert (valid.returncode, valid.stdout) == (0, f"{ok}: valid\n")


def test_python_task_run_then_read_back_from_other_processes(
    stackflow: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write(tmp_path / "cli_e2e_tasks.py", TASKS)
    write(tmp_path / "greet.json", PY_WF)
    write(tmp_path / "input.json", {"who": "world", "items": ["a", "b"]})

    run = sf(
        stackflow, home, "workflow", "run", "greet.json", "--input", "@input.json", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "who": "world",
        "items": ["a", "b"],
        "greet": {"greeting": "hello world"},
        "greetings": [{"greeting": "hello a"}, {"greeting": "hello b"}],
    }
    progress = run.stderr.splitlines()
    assert progress[0] == "TaskStateEntered  Greet"
    assert "TaskSucceeded  Greet" in progress
    assert progress.count("TaskStateExited  Inner") == 2
    assert "MapIterationSucceeded  Each[1]" in progress
    assert "\x1b[" not in run.stderr  # plain text when not a terminal

    listed = sf(stackflow, home, "workflow", "list", "--json")
    rows = json.loads(listed.stdout)
    assert len(rows) == 1
    execution = rows[0]["execution"]
    assert rows[0]["workflow"] == "greet"
    assert rows[0]["status"] == "SUCCEEDED"

    described = json.loads(sf(stackflow, home, "workflow", "describe", execution, "--json").stdout)
    assert described["input"] == {"who": "world", "items": ["a", "b"]}
    assert described["output"]["greet"] == {"greeting": "hello world"}
    assert described["stop_time"] >= described["start_time"]

    history = json.loads(sf(stackflow, home, "workflow", "history", execution, "--json").stdout)
    types = [e["type"] for e in history]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert types.count("MapIterationSucceeded") == 2
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))

    table = sf(stackflow, home, "workflow", "list")
    assert execution in table.stdout


def test_failing_python_task_json(stackflow: Path, tmp_path: Path) -> None:
    write(tmp_path / "cli_e2e_tasks.py", TASKS)
    write(tmp_path / "explode.json", EXPLODE_WF)
    home = tmp_path / "home"
    result = sf(
        stackflow,
        home,
        "workflow",
        "run",
        "explode.json",
        "--input",
        '{"who": 7}',
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert set(data) == {"execution", "status", "output", "error", "cause"}
    assert (data["status"], data["error"], data["output"]) == ("FAILED", "ValueError", None)
    assert json.loads(data["cause"])["errorMessage"] == "bad value: 7"

    plain = sf(stackflow, home, "workflow", "run", "explode.json", cwd=tmp_path)
    assert plain.returncode == 1
    assert plain.stdout.startswith("ValueError: {")
    assert "TaskFailed  Explode  ValueError" in plain.stderr.splitlines()

    failed = json.loads(
        sf(stackflow, home, "workflow", "list", "--status", "FAILED", "--json").stdout
    )
    assert [r["execution"] for r in failed][-1] == data["execution"]


def test_errors_without_traceback(stackflow: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = sf(stackflow, home, "workflow", "describe", "no-such-id")
    assert missing.returncode == 1
    assert missing.stderr == "error: no execution 'no-such-id'\n"
    write(tmp_path / "echo.json", {"StartAt": "E", "States": {"E": {"Type": "Pass", "End": True}}})
    bad_input = sf(stackflow, home, "workflow", "run", "echo.json", "--input", "[1,", cwd=tmp_path)
    assert bad_input.returncode == 2
    assert "not valid JSON" in bad_input.stderr
    assert "Traceback" not in bad_input.stderr
