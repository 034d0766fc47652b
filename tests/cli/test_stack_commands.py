"""In-process tests of ``stackflow stack ...`` (click's CliRunner, a real SQLite home)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stackflow.cli.main import cli

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Two files and a secret.
Parameters:
  Greeting:
    Type: String
    Default: hello
  Secret:
    Type: String
    NoEcho: true
    Default: s3cr3t-value
Resources:
  Folder:
    Type: Local::Directory
    Properties:
      Path: out
  First:
    Type: Local::File
    Properties:
      Path: !Sub "${Folder.Path}/first.txt"
      Content: !Sub "${Greeting}\\nsecond line\\n"
  Second:
    Type: Local::File
    Properties:
      Path: !Sub "${Folder.Path}/second.txt"
      Content: !Sub "token=${Secret}"
Outputs:
  FirstSha:
    Value: !GetAtt First.Sha256
    Export:
      Name: !Sub "${AWS::StackName}-first-sha"
"""

FAILING = """\
Resources:
  Good:
    Type: Local::File
    Properties:
      Path: good.txt
      Content: fine
  Boom:
    Type: Local::Command
    Properties:
      Create: "echo the disk is full >&2; exit 3"
  After:
    Type: Local::File
    Properties:
      Path: !Sub "after-${Boom}.txt"
      Content: never
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder holding the template; the home is beside it."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "stack.yaml").write_text(TEMPLATE)
    (folder / "failing.yaml").write_text(FAILING)
    return folder


def run(project: Path, *args: str) -> Result:
    """Run ``stackflow --home HOME args`` and return the result."""
    home = project.parent / "home"
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def run_json(project: Path, *args: str, code: int = 0) -> Any:
    """Run a command with ``--json`` and parse its standard output."""
    result = run(project, *args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_plan_of_a_new_stack_lists_every_resource_as_added(project: Path) -> None:
    result = run(project, "stack", "plan", str(project / "stack.yaml"), "--stack", "app")
    assert result.exit_code == 0, result.output
    assert "3 to add" in result.stdout
    assert "+ First (Local::File)" in result.stdout
    data = run_json(project, "stack", "plan", str(project / "stack.yaml"), "--stack", "app")
    actions = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Action"]
        for c in data["Changes"]
    }
    assert actions == {"Folder": "Add", "First": "Add", "Second": "Add"}
    assert "s3cr3t-value" not in json.dumps(data)
    assert not (project / "out").exists()  # a plan changes nothing


def test_apply_then_describe_outputs_events_and_list(project: Path) -> None:
    data = run_json(project, "stack", "apply", str(project / "stack.yaml"), "--stack", "app")
    assert data["StackStatus"] == "CREATE_COMPLETE"
    assert (project / "out" / "first.txt").read_text() == "hello\nsecond line\n"
    assert (project / "out" / "second.txt").read_text() == "token=s3cr3t-value"

    described = run_json(project, "stack", "describe", "app")
    params = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert params == {"Greeting": "hello", "Secret": "****"}
    assert {r["LogicalResourceId"] for r in described["Resources"]} == {
        "Folder",
        "First",
        "Second",
    }
    outputs = run_json(project, "stack", "outputs", "app")
    assert len(outputs["FirstSha"]) == 64

    events = run_json(project, "stack", "events", "app")
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    assert ("First", "CREATE_COMPLETE") in statuses
    assert statuses[-1] == ("app", "CREATE_COMPLETE")
    assert "s3cr3t-value" not in json.dumps(events) + json.dumps(described)

    listed = run_json(project, "stack", "list")
    assert [(s["StackName"], s["StackStatus"]) for s in listed] == [("app", "CREATE_COMPLETE")]
    human = run(project, "stack", "describe", "app")
    assert "****" in human.stdout and "s3cr3t-value" not in human.stdout


def test_update_shows_before_and_after_then_applies(project: Path) -> None:
    template = str(project / "stack.yaml")
    assert run(project, "stack", "apply", template, "--stack", "app").exit_code == 0
    plan = run(project, "stack", "plan", template, "--stack", "app", "--param", "Greeting=hi")
    assert plan.exit_code == 0, plan.output
    assert "~ First (Local::File)" in plan.stdout
    assert "-hello" in plan.stdout and "+hi" in plan.stdout  # a line diff of the text
    data = run_json(project, "stack", "apply", template, "--stack", "app", "--param", "Greeting=hi")
    assert data["StackStatus"] == "UPDATE_COMPLETE"
    assert (project / "out" / "first.txt").read_text() == "hi\nsecond line\n"


def test_saved_change_set_is_applied_by_id(project: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps([{"ParameterKey": "Greeting", "ParameterValue": "saved"}]))
    template = str(project / "stack.yaml")
    saved = run_json(
        project,
        "stack",
        "plan",
        template,
        "--stack",
        "app",
        "--parameters",
        str(params),
        "--save",
    )
    change_set_id = saved["ChangeSetId"]
    data = run_json(project, "stack", "apply", "--stack", "app", "--change-set", change_set_id)
    assert data["StackStatus"] == "CREATE_COMPLETE"
    assert (project / "out" / "first.txt").read_text().startswith("saved\n")


def test_failed_create_reports_the_root_cause_and_rolls_back(project: Path) -> None:
    result = run(project, "stack", "apply", str(project / "failing.yaml"), "--stack", "bad")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors and "Boom" in errors[0] and "exited with code 3" in errors[0]
    assert "disk is full" in result.stderr  # the command's stderr is part of the reason
    assert not any("After" in line for line in errors)  # skipped, not a root cause
    assert "ROLLBACK_COMPLETE" in result.stderr
    assert not (project / "good.txt").exists()  # rolled back


def test_drift_exits_2_and_apply_repairs_it(project: Path) -> None:
    template = str(project / "stack.yaml")
    assert run(project, "stack", "apply", template, "--stack", "app").exit_code == 0
    (project / "out" / "first.txt").write_text("edited by hand\n")
    report = run_json(project, "stack", "drift", "app", code=2)
    assert report["StackDriftStatus"] == "DRIFTED"
    drifted = {
        d["LogicalResourceId"]: d["StackResourceDriftStatus"] for d in report["StackResourceDrifts"]
    }
    assert drifted["First"] == "MODIFIED" and drifted["Second"] == "IN_SYNC"
    assert run(project, "stack", "apply", template, "--stack", "app").exit_code == 0
    assert (project / "out" / "first.txt").read_text() == "hello\nsecond line\n"
    assert run_json(project, "stack", "drift", "app")["StackDriftStatus"] == "IN_SYNC"


def test_delete_removes_the_resources(project: Path) -> None:
    assert (
        run(project, "stack", "apply", str(project / "stack.yaml"), "--stack", "app").exit_code == 0
    )
    data = run_json(project, "stack", "delete", "app")
    assert data["StackStatus"] == "DELETE_COMPLETE"
    assert not (project / "out").exists()
    assert run_json(project, "stack", "list") == []


def test_bad_input_is_reported_without_a_traceback(project: Path) -> None:
    bad_param = run(
        project, "stack", "plan", str(project / "stack.yaml"), "--stack", "app", "--param", "x"
    )
    assert bad_param.exit_code == 2 and "KEY=VALUE" in bad_param.output
    (project / "typo.yaml").write_text(
        "Resources:\n  A:\n    Type: Local::File\n    Properties:\n      Path: !Ref Missing\n"
    )
    typo = run(project, "stack", "plan", str(project / "typo.yaml"), "--stack", "app")
    assert typo.exit_code == 1
    assert "typo.yaml:5:" in typo.stderr and "Missing" in typo.stderr
    missing = run(project, "stack", "describe", "nope")
    assert missing.exit_code == 1 and "nope" in missing.stderr
    no_template = run(project, "stack", "apply", "--stack", "app")
    assert no_template.exit_code == 2
