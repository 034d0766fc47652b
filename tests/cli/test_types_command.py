"""``stackflow types`` and ``stackflow types describe`` (click's CliRunner)."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from stackflow.cli.main import cli
from stackflow.providers import (
    ENTRY_POINT_GROUP,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)

BUILT_INS = (
    "Local::File",
    "Local::Directory",
    "Local::Command",
    "Local::SQLiteDatabase",
    "Stackflow::Workflow",
    "AWS::CloudFormation::CustomResource",
)


def invoke(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"STACKFLOW_HOME": str(tmp_path / "home")}, catch_exceptions=False
    )


def test_types_table_lists_built_ins_and_aliases(tmp_path: Path) -> None:
    result = invoke(tmp_path, "types")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "DESCRIPTION"]
    rows = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:]}
    for name in BUILT_INS:
        assert name in rows
    assert rows["Local::File"] == "A file on the local machine, written atomically."
    assert rows["AWS::StepFunctions::StateMachine"] == "alias of Stackflow::Workflow"
    assert rows["AWS::CloudFormation::Stack"].startswith("alias of ")


def test_types_json_lists_every_row_with_alias_flags(tmp_path: Path) -> None:
    result = invoke(tmp_path, "types", "--json")
    assert result.exit_code == 0
    rows = {row["type"]: row for row in json.loads(result.stdout)}
    for name in BUILT_INS:
        assert rows[name]["alias"] is False
        assert rows[name]["provides"] == name
        assert set(rows[name]) == {"type", "provides", "alias", "description"}
    alias = rows["AWS::StepFunctions::StateMachine"]
    assert alias == {
        "type": "AWS::StepFunctions::StateMachine",
        "provides": "Stackflow::Workflow",
        "alias": True,
        "description": rows["Stackflow::Workflow"]["description"],
    }
    nested = rows["AWS::CloudFormation::Stack"]
    assert nested["alias"] is True
    assert rows[nested["provides"]]["alias"] is False


def test_describe_prints_the_schema_json(tmp_path: Path) -> None:
    result = invoke(tmp_path, "types", "describe", "Local::File")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["typeName"] == "Local::File"
    assert schema["required"] == ["Path"]
    assert {"Path", "Content", "Source", "Mode", "Sha256"} <= set(schema["properties"])
    assert "/properties/Sha256" in schema["readOnlyProperties"]


def test_describe_an_alias_prints_its_target_schema(tmp_path: Path) -> None:
    result = invoke(tmp_path, "types", "describe", "AWS::StepFunctions::StateMachine")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["typeName"] == "Stackflow::Workflow"


def test_describe_any_custom_type(tmp_path: Path) -> None:
    result = invoke(tmp_path, "types", "describe", "Custom::Thing")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["typeName"] == "AWS::CloudFormation::CustomResource"
    assert schema["required"] == ["ServiceToken"]


def test_describe_unknown_type_fails_with_did_you_mean(tmp_path: Path) -> None:
    result = invoke(tmp_path, "types", "describe", "Local::Fiel")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: Unknown resource type 'Local::Fiel'.")
    assert "Did you mean Local::File" in result.stderr


# ----------------------------------------------------------------------------- plugins


class WidgetProvider(Provider):
    """A third-party provider, as a plugin package would publish it."""

    schema: ClassVar[ResourceSchema] = ResourceSchema.from_dict(
        {
            "typeName": "Acme::Widget",
            "description": "A widget from a plugin.",
            "properties": {
                "Size": {"type": "integer"},
                "Id": {"type": "string", "readOnly": True},
            },
            "required": ["Size"],
            "readOnlyProperties": ["/properties/Id"],
            "additionalProperties": False,
        }
    )

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Create nothing; answer an id."""
        return ProgressEvent.success(request.physical_id_hint, {"Id": request.physical_id_hint})

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Keep the id."""
        return ProgressEvent.success(request.physical_id, dict(request.previous_attributes or {}))

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Delete nothing."""
        return ProgressEvent.success(request.physical_id)

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Report the recorded state."""
        return ReadResult(dict(request.properties), dict(request.previous_attributes or {}))


class _EntryPoint:
    name = "Acme::Widget"
    value = "acme_stackflow.widget:WidgetProvider"

    def load(self) -> Any:
        return WidgetProvider


def test_plugin_types_from_the_entry_point_group_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.metadata.entry_points

    def entry_points(**kwargs: Any) -> Any:
        if kwargs.get("group") == ENTRY_POINT_GROUP:
            return [_EntryPoint()]
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    rows = {row["type"]: row for row in json.loads(invoke(tmp_path, "types", "--json").stdout)}
    assert rows["Acme::Widget"]["description"] == "A widget from a plugin."
    described = json.loads(invoke(tmp_path, "types", "describe", "Acme::Widget").stdout)
    assert described["required"] == ["Size"]
    template = tmp_path / "w.yaml"
    template.write_text("Resources:\n  W:\n    Type: Acme::Widget\n    Properties: {Size: big}\n")
    checked = invoke(tmp_path, "validate", str(template))
    assert checked.exit_code == 1
    assert "Size: expected integer, got a string." in checked.stdout
