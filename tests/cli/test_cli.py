"""In-process tests of the ``stackflow`` command (click's CliRunner)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stackflow.cli.main import cli

PASS_WF = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Result": {"items": [1, 2, 3]}, "Next": "Loop"},
        "Loop": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "Inner",
                "States": {"Inner": {"Type": "Pass", "End": True}},
            },
            "End": True,
        },
    },
}

ECHO_WF = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}

FAIL_WF = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Next": "Boom"},
        "Boom": {"Type": "Fail", "Error": "Custom.Broken", "Cause": "it broke"},
    },
}

TYPO_WF = """{
  "StartAt": "First",
  "States": {
    "First": {"Type": "Pass", "Next": "Secnd"},
    "Second": {"Type": "Pass", "End": true}
  }
}
"""


def write(path: Path, document: Any) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def invoke(home: Path, *args: str) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, list(args), env={"STACKFLOW_HOME": str(home)}, catch_exceptions=False)


# ----------------------------------------------------------------------------- validate


def test_validate_valid(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "ok.json", PASS_WF)
    result = invoke(home, "validate", str(path))
    assert result.exit_code == 0
    assert result.stdout == f"{path}: valid\n"


def test_validate_lists_every_problem_with_location(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "typo.json", TYPO_WF)
    result = invoke(home, "validate", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f'{path}:4:31: State "First" has Next "Secnd" which is not a state in this state '
        'machine. Did you mean "Second"? (/States/First/Next)'
    )
    assert len(lines) == 2
    assert lines[1].startswith(f"{path}:5:5: ")
    assert lines[1].endswith("(/States/Second)")
    assert "2 problems found" in result.stderr


def test_validate_json(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "typo.json", TYPO_WF)
    result = invoke(home, "validate", str(path), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    first = data["problems"][0]
    assert set(first) == {"file", "line", "column", "pointer", "message", "code"}
    assert (first["file"], first["line"], first["column"]) == (str(path), 4, 31)
    assert first["pointer"] == "/States/First/Next"
    assert first["code"] == "MISSING_TRANSITION_TARGET"
    ok = invoke(home, "validate", str(write(tmp_path / "ok.json", PASS_WF)), "--json")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout) == {"valid": True, "problems": []}


def test_validate_yaml_syntax_error_and_missing_file(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "bad.yaml", "StartAt: A\nStates:\n  A: [unclosed\n")
    result = invoke(home, "validate", str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:")
    assert "Invalid YAML" in result.stdout
    missing = invoke(home, "validate", str(tmp_path / "nope.json"))
    assert missing.exit_code == 1
    assert "file not found" in missing.stdout


# ----------------------------------------------------------------------------- run


def test_run_succeeds_with_plain_progress(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "wf.json", PASS_WF)
    result = invoke(home, "workflow", "run", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [1, 2, 3]
    lines = result.stderr.splitlines()
    assert "PassStateEntered  Start" in lines
    assert "MapIterationSucceeded  Loop[2]" in lines
    assert lines.count("PassStateExited  Inner") == 3
    assert "SUCCEEDED" in lines[-1]


def test_run_failure_prints_error_and_cause(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "fail.json", FAIL_WF)
    result = invoke(home, "workflow", "run", str(path))
    assert result.exit_code == 1
    assert result.stdout == "Custom.Broken: it broke\n"
    assert "FailStateEntered  Boom" in result.stderr.splitlines()


def test_run_json_prints_only_one_object(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "echo.json", ECHO_WF)
    result = invoke(home, "workflow", "run", str(path), "--input", '{"a": [1, 2]}', "--json")
    assert result.exit_code == 0
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert set(data) == {"execution", "status", "output", "error", "cause"}
    assert data["status"] == "SUCCEEDED"
    assert data["output"] == {"a": [1, 2]}
    assert data["error"] is None
    uuid.UUID(data["execution"])

    failed = invoke(home, "workflow", "run", str(write(tmp_path / "f.json", FAIL_WF)), "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["error"] == "Custom.Broken"
    assert json.loads(failed.stdout)["status"] == "FAILED"


def test_run_input_from_file(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "echo.json", ECHO_WF)
    data_file = write(tmp_path / "input.json", {"from": "file"})
    result = invoke(home, "workflow", "run", str(path), "--input", f"@{data_file}", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["output"] == {"from": "file"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"a": ', "the value is not valid JSON: Expecting value at line 1, column 7"),
        ("@missing.json", "cannot read file 'missing.json'"),
    ],
)
def test_run_bad_input_exits_2(tmp_path: Path, home: Path, value: str, expected: str) -> None:
    path = write(tmp_path / "echo.json", ECHO_WF)
    result = invoke(home, "workflow", "run", str(path), "--input", value)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "--input" in result.stderr
    assert result.stdout == ""


def test_run_bad_input_file_content(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "echo.json", ECHO_WF)
    bad = write(tmp_path / "bad-input.json", "{nope}")
    result = invoke(home, "workflow", "run", str(path), "--input", f"@{bad}")
    assert result.exit_code == 2
    assert f"file '{bad}' is not valid JSON" in result.stderr


def test_run_invalid_definition(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "typo.json", TYPO_WF)
    result = invoke(home, "workflow", "run", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{path}:4:31: " in result.stderr
    assert 'Did you mean "Second"?' in result.stderr

    as_json = invoke(home, "workflow", "run", str(path), "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["execution"] is None
    assert data["status"] is None
    assert data["error"] == "DefinitionError"
    assert "2 problem(s)" in data["cause"]
    assert [p["code"] for p in data["problems"]] == [
        "MISSING_TRANSITION_TARGET",
        "UNREACHABLE_STATE",
    ]
    assert not home.exists()  # nothing was recorded


def test_run_python_task_from_cwd(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"cli_tasks_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(
        "def double(event):\n    return {'value': event['value'] * 2}\n"
    )
    definition = {
        "StartAt": "Double",
        "States": {"Double": {"Type": "Task", "Resource": f"python:{module}:double", "End": True}},
    }
    path = write(tmp_path / "py.json", definition)
    monkeypatch.chdir(tmp_path)
    result = invoke(home, "workflow", "run", path.name, "--input", '{"value": 21}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"value": 42}
    assert "TaskSucceeded  Double" in result.stderr.splitlines()


def test_run_duplicate_name_is_an_error(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "echo.json", ECHO_WF)
    first = invoke(home, "workflow", "run", str(path), "--name", "once", "--json")
    assert first.exit_code == 0
    same = invoke(home, "workflow", "run", str(path), "--name", "once", "--json")
    assert same.exit_code == 0  # same name, same input: the existing execution (Step Functions)
    assert json.loads(same.stdout)["execution"] == json.loads(first.stdout)["execution"]
    second = invoke(home, "workflow", "run", str(path), "--name", "once", "--input", '{"x": 1}')
    assert second.exit_code == 1
    assert second.stderr.startswith("error: ")
    assert "once" in second.stderr
    assert "Traceback" not in second.output


# ----------------------------------------------------------------------------- read back


def _run_json(home: Path, path: Path, *args: str) -> dict[str, Any]:
    result = invoke(home, "workflow", "run", str(path), "--json", *args)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_list_describe_history_json(tmp_path: Path, home: Path) -> None:
    ok = _run_json(home, write(tmp_path / "echo.json", ECHO_WF), "--input", '{"x": 1}')
    bad = _run_json(home, write(tmp_path / "fail.json", FAIL_WF))

    listed = json.loads(invoke(home, "workflow", "list", "--json").stdout)
    assert [r["execution"] for r in listed] == [bad["execution"], ok["execution"]]
    for row in listed:
        assert {"execution", "name", "workflow", "status", "start_time", "stop_time"} <= set(row)
    assert listed[1]["workflow"] == "echo"
    assert listed[1]["stop_time"] >= listed[1]["start_time"]

    only_failed = json.loads(
        invoke(home, "workflow", "list", "--status", "failed", "--json").stdout
    )
    assert [r["execution"] for r in only_failed] == [bad["execution"]]
    by_workflow = json.loads(
        invoke(home, "workflow", "list", "--workflow", "echo", "--json").stdout
    )
    assert [r["execution"] for r in by_workflow] == [ok["execution"]]
    limited = json.loads(invoke(home, "workflow", "list", "--limit", "1", "--json").stdout)
    assert len(limited) == 1

    described = json.loads(invoke(home, "workflow", "describe", ok["execution"], "--json").stdout)
    assert described["status"] == "SUCCEEDED"
    assert described["input"] == {"x": 1}
    assert described["output"] == {"x": 1}
    assert described["error"] is None
    assert described["definition"] == ECHO_WF
    failed = json.loads(invoke(home, "workflow", "describe", bad["execution"], "--json").stdout)
    assert (failed["error"], failed["cause"]) == ("Custom.Broken", "it broke")

    events = json.loads(invoke(home, "workflow", "history", ok["execution"], "--json").stdout)
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert set(events[0]) == {"id", "type", "timestamp", "previous_event_id", "details"}
    assert events[1]["details"]["name"] == "Echo"


def test_plain_tables(tmp_path: Path, home: Path) -> None:
    ok = _run_json(home, write(tmp_path / "echo.json", ECHO_WF))
    listing = invoke(home, "workflow", "list")
    assert listing.exit_code == 0
    header, row = listing.stdout.splitlines()
    assert header.split() == ["EXECUTION", "NAME", "WORKFLOW", "STATUS", "START", "DURATION"]
    assert row.startswith(ok["execution"])
    assert "SUCCEEDED" in row

    described = invoke(home, "workflow", "describe", ok["execution"])
    assert f"Execution: {ok['execution']}" in described.stdout
    assert "Status:    SUCCEEDED" in described.stdout

    history = invoke(home, "workflow", "history", ok["execution"])
    lines = history.stdout.splitlines()
    assert lines[0].split() == ["ID", "TIMESTAMP", "TYPE", "DETAILS"]
    assert "PassStateEntered" in lines[2]
    assert '{"name":"Echo","input":{}}' in lines[2]


def test_empty_list(home: Path) -> None:
    result = invoke(home, "workflow", "list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no executions" in result.stderr
    assert json.loads(invoke(home, "workflow", "list", "--json").stdout) == []


@pytest.mark.parametrize("command", ["describe", "history"])
def test_unknown_execution(home: Path, command: str) -> None:
    result = invoke(home, "workflow", command, "nope", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: no execution 'nope'\n"


def test_home_option_on_group_and_command(tmp_path: Path, home: Path) -> None:
    other = tmp_path / "other"
    path = write(tmp_path / "echo.json", ECHO_WF)
    runner = CliRunner()
    env = {"STACKFLOW_HOME": str(home)}
    run = runner.invoke(
        cli, ["--home", str(other), "workflow", "run", str(path), "--json"], env=env
    )
    assert run.exit_code == 0
    execution = json.loads(run.stdout)["execution"]
    group = runner.invoke(cli, ["--home", str(other), "workflow", "list", "--json"], env=env)
    assert [r["execution"] for r in json.loads(group.stdout)] == [execution]
    own = runner.invoke(cli, ["workflow", "list", "--home", str(other), "--json"], env=env)
    assert [r["execution"] for r in json.loads(own.stdout)] == [execution]
    default = runner.invoke(cli, ["workflow", "list", "--json"], env=env)
    assert json.loads(default.stdout) == []
    assert (other / "stackflow.db").is_file()


def test_version_and_help(home: Path) -> None:
    version = invoke(home, "--version")
    assert version.exit_code == 0
    assert version.stdout.startswith("stackflow ")
    helped = invoke(home, "--help")
    assert "workflow" in helped.stdout
    assert "validate" in helped.stdout


def test_group_module_imports_no_engine() -> None:
    code = (
        "import sys, stackflow.cli.main, stackflow.cli.workflow_commands;"
        "heavy = [m for m in sys.modules if m.startswith(('stackflow.engine', 'stackflow.store',"
        " 'stackflow.workflow.', 'rich')) and not m.startswith('stackflow.workflow.code')];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
