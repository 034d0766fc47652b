"""Change sets, drift, nested stacks, custom resources, NoEcho masking and the Engine wiring."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stackflow.engine import Engine
from stackflow.errors import ChangeSetStaleError, StackError
from stackflow.stacks import StackService
from stackflow.store.memory import MemoryStore

CALLS: list[dict[str, Any]] = []


def custom_handler(event: dict[str, Any]) -> dict[str, Any]:
    """A custom resource handler (ServiceToken python:test_service:custom_handler)."""
    CALLS.append(event)
    size = event["ResourceProperties"].get("Size", "1")
    if event["RequestType"] == "Delete":
        return {"Status": "SUCCESS", "PhysicalResourceId": event["PhysicalResourceId"]}
    return {
        "Status": "SUCCESS",
        "PhysicalResourceId": f"thing-{size}",
        "Data": {"Doubled": str(int(size) * 2)},
    }


def test_change_set_save_execute_and_stale_refusal(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    text = "Resources:\n  A:\n    Type: Local::File\n    Properties: {Path: a.txt, Content: V}\n"
    template = write("cs.yaml", text.replace("V", "one"))
    saved = service.plan(template, "cs", save=True)
    assert saved.change_set_id and saved.stack_version == 0
    record = service.store.get_change_set(saved.change_set_id)
    assert record.changes["Changes"][0]["ResourceChange"]["Action"] == "Add"
    # the change set keeps its template even if the file changes afterwards
    write("cs.yaml", text.replace("V", "changed"))
    result = service.apply(None, "cs", change_set_id=saved.change_set_id)
    assert result.status == "CREATE_COMPLETE"
    assert (tmp_path / "a.txt").read_text() == "one"
    assert service.store.get_change_set(saved.change_set_id).status == "EXECUTE_COMPLETE"
    with pytest.raises(StackError):
        service.apply(None, "cs", change_set_id=saved.change_set_id)

    stale = service.plan(template, "cs", save=True)
    assert service.apply(template, "cs").status == "UPDATE_COMPLETE"
    with pytest.raises(ChangeSetStaleError):
        service.apply(None, "cs", change_set_id=stale.change_set_id)
    assert (tmp_path / "a.txt").read_text() == "changed"


def test_drift_detect_and_repair(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    text = """
Resources:
  Edited:
    Type: Local::File
    Properties: {Path: edited.txt, Content: original}
  Removed:
    Type: Local::File
    Properties: {Path: removed.txt, Content: here}
  Fine:
    Type: Local::File
    Properties: {Path: fine.txt, Content: fine}
"""
    template = write("d.yaml", text)
    assert service.apply(template, "drifty").ok
    assert service.drift("drifty").status == "IN_SYNC"
    (tmp_path / "edited.txt").write_text("tampered")
    (tmp_path / "removed.txt").unlink()
    report = service.drift("drifty")
    assert report.status == "DRIFTED"
    by_id = {r.logical_id: r for r in report.resources}
    assert by_id["Fine"].status == "IN_SYNC"
    assert by_id["Removed"].status == "DELETED"
    edited = by_id["Edited"]
    assert edited.status == "MODIFIED"
    assert [(d.path, d.expected, d.actual, d.difference_type) for d in edited.differences] == [
        ("/Content", "original", "tampered", "NOT_EQUAL")
    ]
    drifts = {d["LogicalResourceId"]: d for d in report.to_json()["StackResourceDrifts"]}
    assert drifts["Edited"]["PropertyDifferences"][0]["DifferenceType"] == "NOT_EQUAL"
    assert drifts["Removed"]["StackResourceDriftStatus"] == "DELETED"
    plan = service.plan(template, "drifty")
    assert plan.change("Edited").action == "Modify"
    assert plan.change("Edited").details[0].change_source == "Drift"
    assert plan.change("Removed").action == "Add"
    assert plan.change("Fine").action == "NoChange"
    repaired = service.apply(template, "drifty")
    assert repaired.status == "UPDATE_COMPLETE", repaired.root_causes
    assert (tmp_path / "edited.txt").read_text() == "original"
    assert (tmp_path / "removed.txt").read_text() == "here"
    assert service.drift("drifty").status == "IN_SYNC"


def test_nested_stack(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    write(
        "sub/child.yaml",
        """
Parameters:
  Text: {Type: String}
Resources:
  Inner:
    Type: Local::File
    Properties: {Path: inner.txt, Content: !Ref Text}
Outputs:
  InnerPath:
    Value: !GetAtt Inner.Path
""",
    )
    parent = write(
        "parent.yaml",
        """
Parameters:
  Text: {Type: String, Default: from parent}
Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: sub/child.yaml
      Parameters: {Text: !Ref Text}
  UsesChild:
    Type: Local::File
    Properties:
      Path: uses.txt
      Content: !GetAtt Child.Outputs.InnerPath
Outputs:
  ChildId:
    Value: !Ref Child
""",
    )
    result = service.apply(parent, "outer")
    assert result.status == "CREATE_COMPLETE", result.root_causes
    inner = tmp_path / "sub" / "inner.txt"
    assert inner.read_text() == "from parent"
    assert (tmp_path / "uses.txt").read_text() == str(inner)
    nested = service.store.get_stack(result.outputs["ChildId"])
    assert nested.status == "CREATE_COMPLETE" and nested.name.startswith("outer-Child-")
    updated = service.apply(parent, "outer", {"Text": "changed"})
    assert updated.status == "UPDATE_COMPLETE", updated.root_causes
    assert inner.read_text() == "changed"
    assert service.delete("outer").status == "DELETE_COMPLETE"
    assert not inner.exists()
    assert service.store.find_stack(nested.name) is None


def test_custom_resource_python_handler(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    CALLS.clear()
    text = """
Resources:
  Thing:
    Type: Custom::Thing
    Properties:
      ServiceToken: python:test_service:custom_handler
      Size: "SIZE"
  Report:
    Type: Local::File
    Properties:
      Path: report.txt
      Content: !GetAtt Thing.Doubled
"""
    template = write("custom.yaml", text.replace("SIZE", "2"))
    result = service.apply(template, "custom")
    assert result.status == "CREATE_COMPLETE", result.root_causes
    assert (tmp_path / "report.txt").read_text() == "4"
    write("custom.yaml", text.replace("SIZE", "5"))
    result = service.apply(template, "custom")
    assert result.status == "UPDATE_COMPLETE", result.root_causes
    assert (tmp_path / "report.txt").read_text() == "10"
    # the handler answered a new PhysicalResourceId: the old one is deleted in the cleanup
    kinds = [(c["RequestType"], c.get("PhysicalResourceId")) for c in CALLS]
    assert ("Delete", "thing-2") in kinds
    assert kinds.index(("Delete", "thing-2")) > kinds.index(("Update", "thing-2"))
    assert service.delete("custom").ok
    assert ("Delete", "thing-5") in [(c["RequestType"], c.get("PhysicalResourceId")) for c in CALLS]


def test_no_echo_values_never_shown(
    service: StackService, write: Callable[[str, str], Path]
) -> None:
    text = """
Parameters:
  Password: {Type: String, NoEcho: true}
Resources:
  Fails:
    Type: Local::Command
    Properties:
      Create: !Sub "echo ${Password} >&2; exit 3"
"""
    template = write("secret.yaml", text)
    plan = service.plan(template, "secret", {"Password": "s3cr3t-value"})
    assert "s3cr3t-value" not in json.dumps(plan.to_json())
    result = service.apply(template, "secret", {"Password": "s3cr3t-value"})
    assert result.status == "ROLLBACK_COMPLETE"
    assert "s3cr3t-value" not in json.dumps(result.to_json())
    for event in service.events("secret"):
        assert "s3cr3t-value" not in (event.reason or "")
    assert service.describe("secret").parameters == {"Password": "****"}


def test_outputs_repeating_a_no_echo_value_are_masked(
    service: StackService, write: Callable[[str, str], Path]
) -> None:
    text = """
Parameters:
  Password: {Type: String, NoEcho: true}
Resources:
  Conf:
    Type: Local::File
    Properties: {Path: conf.txt, Content: !Sub "password=${Password}"}
Outputs:
  Url: {Value: !Sub "db://admin:${Password}@localhost", Export: {Name: secret-url}}
"""
    template = write("out.yaml", text)
    result = service.apply(template, "out", {"Password": "s3cr3t-value"})
    assert result.outputs == {"Url": "db://admin:****@localhost"}
    assert "s3cr3t-value" not in json.dumps(result.to_json())
    assert service.outputs("out") == {"Url": "db://admin:****@localhost"}
    assert "s3cr3t-value" not in json.dumps(service.describe("out").to_json())
    # the export itself keeps the real value for Fn::ImportValue
    assert service.store.get_exports()["secret-url"][1] == "db://admin:s3cr3t-value@localhost"


def test_engine_stacks_deploys_workflows(tmp_path: Path) -> None:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    (tmp_path / "wf.yaml").write_text(
        "Resources:\n  Flow:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n"
        f"      StateMachineName: my-flow\n      Definition: {json.dumps(definition)}\n"
    )
    engine = Engine(MemoryStore())
    engine.home = tmp_path / "home"
    try:
        result = engine.stacks.apply(tmp_path / "wf.yaml", "flows")
        assert result.status == "CREATE_COMPLETE", result.root_causes
        found = engine.describe_workflow("my-flow")
        assert found is not None
        arn, version, stored = found
        assert arn.endswith(":stateMachine:my-flow") and version == 1
        assert stored == definition
        assert engine.stacks is engine.stacks
        assert engine.stacks.delete("flows").status == "DELETE_COMPLETE"
        assert engine.describe_workflow("my-flow") is None
    finally:
        engine.close()
