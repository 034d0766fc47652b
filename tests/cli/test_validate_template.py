"""``stackflow validate`` on stack templates (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from stackflow.cli.main import cli
from stackflow.cli.template_check import check_template_text, is_template_text

VALID = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Dir:
    Type: Local::Directory
    Properties:
      Path: out
  Note:
    Type: Local::File
    Properties:
      Path: !Sub "${Dir.Path}/note.txt"
      Content: !Sub "${Greeting} from ${AWS::StackName}"
Outputs:
  NotePath:
    Value: !GetAtt Note.Path
"""

TYPO_REF = """\
Resources:
  Dir:
    Type: Local::Directory
    Properties:
      Path: out
  Note:
    Type: Local::File
    Properties:
      Path: !Ref Dri
      Content: hi
"""

BAD_PROPERTY_TYPE = """{
  "Resources": {
    "Note": {
      "Type": "Local::File",
      "Properties": {"Path": "note.txt", "Content": 42}
    }
  }
}
"""

UNKNOWN_TYPE = """\
Resources:
  Note:
    Type: Local::Fiel
    Properties:
      Path: note.txt
      Content: hi
"""

MISSING_REQUIRED = """\
Resources:
  Db:
    Type: Local::SQLiteDatabase
    Properties:
      JournalMode: WAL
"""

NEEDS_PARAMETER = """\
Parameters:
  Name:
    Type: String
    AllowedPattern: "[a-z]+"
  Token:
    Type: String
    NoEcho: true
    Default: s3cr3t-token
Resources:
  Note:
    Type: Local::File
    Properties:
      Path: !Sub "${Name}.txt"
      Content: hi
      Mode: !Ref Token
"""


def invoke(home: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"STACKFLOW_HOME": str(home)}, catch_exceptions=False
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_template(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", VALID)
    result = invoke(tmp_path / "home", "validate", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: valid\n"
    data = invoke(tmp_path / "home", "validate", str(path), "--json")
    assert data.exit_code == 0
    assert json.loads(data.stdout) == {"valid": True, "problems": []}


def test_mistyped_ref_has_did_you_mean_and_line_column(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", TYPO_REF)
    result = invoke(tmp_path / "home", "validate", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}:9:13: ")
    assert 'Did you mean "Dir"?' in lines[0]
    assert lines[0].endswith("(/Resources/Note/Properties/Path/Ref)")
    assert "1 problem found" in result.stderr


def test_bad_property_type_for_local_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", BAD_PROPERTY_TYPE)
    result = invoke(tmp_path / "home", "validate", str(path), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    [problem] = data["problems"]
    assert set(problem) == {"file", "line", "column", "pointer", "message", "code"}
    assert problem["pointer"] == "/Resources/Note/Properties/Content"
    assert (problem["file"], problem["line"]) == (str(path), 5)
    assert problem["column"] == 42
    assert problem["message"] == "Content: expected string, got a number."


def test_unknown_type_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, "unknown.yaml", UNKNOWN_TYPE)
    result = invoke(tmp_path / "home", "validate", str(path))
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}:3:5: Unknown resource type 'Local::Fiel'.")
    assert "Did you mean Local::File" in line
    assert line.endswith("(/Resources/Note/Type)")
    data = json.loads(invoke(tmp_path / "home", "validate", str(path), "--json").stdout)
    assert data["problems"][0]["code"] == "UNKNOWN_RESOURCE_TYPE"


def test_missing_required_property(tmp_path: Path) -> None:
    path = write(tmp_path, "db.yaml", MISSING_REQUIRED)
    result = invoke(tmp_path / "home", "validate", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:4:5: Properties: the required property Path is missing. (/Resources/Db/Properties)"
    ]


def test_parameter_without_value_is_reported_and_the_rest_still_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "params.yaml", NEEDS_PARAMETER)
    result = invoke(tmp_path / "home", "validate", str(path), "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [p["pointer"] for p in problems] == [
        "/Parameters/Name",
        "/Resources/Note/Properties/Mode",
    ]
    assert problems[0]["code"] == "PARAMETER_VALUE_MISSING"
    assert "needs a value" in problems[0]["message"]
    assert (problems[0]["line"], problems[0]["column"]) == (2, 3)
    # The NoEcho value that fails Mode's pattern is never shown.
    assert "s3cr3t-token" not in result.stdout
    assert "****" in problems[1]["message"]


def test_param_option_supplies_values_and_is_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "params.yaml", NEEDS_PARAMETER.replace("!Ref Token", '"0644"'))
    ok = invoke(tmp_path / "home", "validate", str(path), "--param", "Name=notes")
    assert ok.exit_code == 0, ok.output
    bad = invoke(tmp_path / "home", "validate", str(path), "--param", "Name=NOT-LOWER")
    assert bad.exit_code == 1
    assert "must match pattern" in bad.stdout
    assert "(/Parameters/Name)" in bad.stdout
    unknown = invoke(
        tmp_path / "home", "validate", str(path), "--param", "Name=ok", "--param", "Nope=1"
    )
    assert unknown.exit_code == 1
    assert "[Nope] do not exist" in unknown.stdout


def test_param_option_needs_key_value_and_a_template(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", VALID)
    malformed = invoke(tmp_path / "home", "validate", str(path), "--param", "novalue")
    assert malformed.exit_code == 2
    assert "expected KEY=VALUE" in malformed.output
    workflow = write(
        tmp_path,
        "wf.json",
        json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
    )
    assert invoke(tmp_path / "home", "validate", str(workflow)).exit_code == 0
    refused = invoke(tmp_path / "home", "validate", str(workflow), "--param", "A=1")
    assert refused.exit_code == 2
    assert "stack templates only" in refused.output


def test_template_syntax_error_is_reported_as_a_template(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "Resources:\n  A: [unclosed\n")
    result = invoke(tmp_path / "home", "validate", str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:")
    assert "Invalid YAML" in result.stdout


def test_is_template_text() -> None:
    assert is_template_text(VALID)
    assert is_template_text('{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}')
    assert is_template_text("Resources:\n  A: [broken\n")
    assert not is_template_text('{"StartAt": "A", "States": {}}')
    assert not is_template_text("StartAt: A\nStates:\n  A: [broken\n")


def test_check_template_text_handles_custom_and_nested_types(tmp_path: Path) -> None:
    text = """\
Resources:
  Hook:
    Type: Custom::Anything
    Properties:
      ServiceToken: python:hooks:handler
      Extra: [1, 2]
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: child.yaml
      Parameters: {Who: world}
  Workflow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}
Outputs:
  FromChild:
    Value: !GetAtt Child.Outputs.Value
  FromHook:
    Value: !GetAtt Hook.Whatever
"""
    assert check_template_text(text, file="t.yaml") == []
    bad = text.replace("TemplateURL: child.yaml", "TemplateUrl: child.yaml")
    messages = [p.message for p in check_template_text(bad, file="t.yaml")]
    assert any("TemplateUrl" in m and "Did you mean TemplateURL?" in m for m in messages)


FOREACH = """\
Transform: AWS::LanguageExtensions
Resources:
  Fn::ForEach::Files:
    - Name
    - [a, b]
    - File${Name}:
        Type: Local::File
        Properties:
          Path: !Sub "${Name}.txt"
          Content: hi
          Mode: "77x"
"""


def test_problems_in_foreach_copies_point_into_the_loop_body(tmp_path: Path) -> None:
    path = write(tmp_path, "loop.yaml", FOREACH)
    result = invoke(tmp_path / "home", "validate", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}:11:11", f"{path}:11:11"]
    assert lines[0].endswith("(/Resources/Filea/Properties/Mode)")
    assert lines[1].endswith("(/Resources/Fileb/Properties/Mode)")
