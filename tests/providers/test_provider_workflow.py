"""Stackflow::Workflow with an in-memory fake WorkflowDeployer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackflow.errors import ProviderError
from stackflow.providers import HandlerErrorCode, HandlerStatus, ProviderContext
from stackflow.providers.registry import default_registry
from stackflow.providers.workflow_resource import WorkflowProvider

DEFINITION = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": "${delay}", "Next": "Done"},
        "Done": {"Type": "Pass", "Result": "${greeting} world", "End": True},
    },
}


class FakeDeployer:
    """Keeps workflows in a dict: name -> (version, definition)."""

    def __init__(self) -> None:
        self.workflows: dict[str, tuple[int, dict[str, Any]]] = {}

    def deploy_definition(
        self, name: str, definition: dict[str, Any], *, base_dir: Path
    ) -> tuple[str, int]:
        version = self.workflows.get(name, (0, {}))[0] + 1
        self.workflows[name] = (version, definition)
        return f"arn:stackflow:states:local:000000000000:stateMachine:{name}", version

    def delete_workflow(self, name: str) -> None:
        self.workflows.pop(name, None)

    def describe_workflow(self, name: str) -> tuple[str, int, dict[str, Any]] | None:
        if name not in self.workflows:
            return None
        version, definition = self.workflows[name]
        return f"arn:stackflow:states:local:000000000000:stateMachine:{name}", version, definition


@pytest.fixture
def wf_context(tmp_path: Path) -> ProviderContext:
    return ProviderContext(workflows=FakeDeployer(), home=tmp_path)


def test_create_with_substitutions_and_default_name(make_request, wf_context):
    props = {"Definition": DEFINITION, "DefinitionSubstitutions": {"delay": 5, "greeting": "hi"}}
    event = WorkflowProvider().create(make_request(props, logical_id="Flow"), wf_context)
    assert event.status == HandlerStatus.SUCCESS
    arn = "arn:stackflow:states:local:000000000000:stateMachine:demo-Flow"
    assert event.physical_id == arn
    assert event.attributes["Name"] == "demo-Flow"
    assert event.attributes["Arn"] == event.attributes["StateMachineArn"] == arn
    assert event.attributes["Version"] == 1
    deployed = wf_context.workflows.workflows["demo-Flow"][1]
    assert deployed["States"]["Wait"]["Seconds"] == 5
    assert deployed["States"]["Done"]["Result"] == "hi world"


def test_update_deploys_new_version_and_name_forces_replacement(make_request, wf_context):
    provider = WorkflowProvider()
    subs = {"delay": 1, "greeting": "a"}
    props = {"StateMachineName": "flow", "Definition": DEFINITION, "DefinitionSubstitutions": subs}
    provider.create(make_request(props), wf_context)
    new = {**props, "DefinitionSubstitutions": {"delay": 2, "greeting": "b"}}
    event = provider.update(make_request(new, previous_properties=props), wf_context)
    assert event.attributes["Version"] == 2
    assert event.attributes["Name"] == "flow"
    assert provider.requires_replacement("Name", "a", "b") is True
    assert provider.requires_replacement("StateMachineName", "a", "b") is True
    assert provider.requires_replacement("Definition", {}, {"x": 1}) is False


def test_definition_file_and_string(tmp_path, make_request, wf_context):
    (tmp_path / "flow.yaml").write_text(
        "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n"
    )
    event = WorkflowProvider().create(
        make_request({"Name": "from-file", "DefinitionUri": "flow.yaml"}), wf_context
    )
    assert event.status == HandlerStatus.SUCCESS
    assert wf_context.workflows.workflows["from-file"][1]["StartAt"] == "P"
    text = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": ${end}}}}'
    event = WorkflowProvider().create(
        make_request(
            {"Name": "s", "DefinitionString": text, "DefinitionSubstitutions": {"end": True}}
        ),
        wf_context,
    )
    assert wf_context.workflows.workflows["s"][1]["States"]["P"]["End"] is True


def test_invalid_definition_names_problems(make_request, wf_context):
    bad = {"StartAt": "Missing", "States": {"P": {"Type": "Pass", "End": True}}}
    with pytest.raises(ProviderError) as info:
        WorkflowProvider().create(make_request({"Definition": bad}), wf_context)
    assert info.value.code == HandlerErrorCode.InvalidRequest
    assert "/StartAt" in info.value.message and "Missing" in info.value.message
    assert wf_context.workflows.workflows == {}


def test_read_drift_and_delete(make_request, wf_context):
    provider = WorkflowProvider()
    props = {
        "Name": "w",
        "Definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    }
    created = provider.create(make_request(props), wf_context)
    request = make_request(
        props, physical_id=created.physical_id, previous_attributes=created.attributes
    )
    read = provider.read(request, wf_context)
    assert read is not None and read.properties == {"Definition": props["Definition"]}
    changed = {"StartAt": "Q", "States": {"Q": {"Type": "Succeed"}}}
    wf_context.workflows.workflows["w"] = (5, changed)
    drift = provider.read(request, wf_context)
    assert drift.properties["Definition"] == changed and drift.attributes["Version"] == 5
    assert provider.delete(request, wf_context).status == HandlerStatus.SUCCESS
    assert provider.read(request, wf_context) is None
    assert provider.delete(request, wf_context).status == HandlerStatus.SUCCESS


def test_alias_and_schema():
    registry = default_registry()
    assert isinstance(registry.get("AWS::StepFunctions::StateMachine"), WorkflowProvider)
    problems = WorkflowProvider.schema.validate(
        {"Definition": {}, "DefinitionString": "{}", "RoleArn": "arn:aws:iam::1:role/x"},
        pointer="/Resources/W/Properties",
    )
    assert len(problems) == 1 and "exactly one of Definition" in problems[0].message
    assert WorkflowProvider.schema.validate({"DefinitionFile": "x", "Tags": []}, pointer="") == []
