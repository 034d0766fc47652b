"""``Stackflow::Schedule`` / ``AWS::Scheduler::Schedule`` through a stack, and its validation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackflow.engine import Engine
from stackflow.errors import ProviderError
from stackflow.providers import ProviderContext, ResourceRequest
from stackflow.providers.registry import default_registry
from stackflow.providers.schedule import ScheduleProvider, build_spec, target_workflow
from stackflow.store import MemoryStore

TEMPLATE = """
Parameters:
  Expression:
    Type: String
    Default: cron(0 2 * * ? *)
  State:
    Type: String
    Default: ENABLED
Resources:
  Wf:
    Type: Stackflow::Workflow
    Properties:
      Definition:
        StartAt: Done
        States:
          Done: {Type: Pass, End: true}
  Nightly:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: !Ref Expression
      ScheduleExpressionTimezone: Europe/Berlin
      FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 15}
      State: !Ref State
      GroupName: default
      Target:
        Arn: !Ref Wf
        RoleArn: arn:aws:iam::123456789012:role/scheduler
        Input: '{"job": "nightly", "at": "<aws.scheduler.scheduled-time>"}'
      CatchUp: once
Outputs:
  Name:
    Value: !Ref Nightly
  Arn:
    Value: !GetAtt Nightly.Arn
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine.open(tmp_path / "home") as opened:
        yield opened


def test_create_update_and_delete_through_a_stack(engine: Engine, tmp_path: Path) -> None:
    template = tmp_path / "app.yaml"
    template.write_text(TEMPLATE)
    result = engine.stacks.apply(template, "app")
    assert result.ok, result.root_causes
    assert result.outputs["Name"] == "app-Nightly"
    assert result.outputs["Arn"].endswith(":schedule/default/app-Nightly")
    record = engine.store.schedules.get_schedule("app-Nightly")
    assert (record.stack_name, record.logical_id) == ("app", "Nightly")
    spec = record.spec
    assert spec["expression"] == "cron(0 2 * * ? *)"
    assert spec["timezone"] == "Europe/Berlin"
    assert spec["workflow"] == "app-Wf"
    assert spec["input"] == {"job": "nightly", "at": "<aws.scheduler.scheduled-time>"}
    assert (spec["catch_up"], spec["flexible_window_minutes"]) == ("once", 15)
    assert engine.stacks.drift("app").status == "IN_SYNC"

    # The scheduler has handled a fire time; disabling keeps the watermark.
    assert engine.store.schedules.advance("app-Nightly", None, 1000.0)
    result = engine.stacks.apply(template, "app", {"State": "DISABLED"})
    assert result.ok, result.root_causes
    disabled = engine.store.schedules.get_schedule("app-Nightly")
    assert disabled.spec["state"] == "DISABLED"
    assert disabled.last_fire_time == 1000.0
    assert disabled.created_at == record.created_at

    # A new expression owes no fire times of the old one: the watermark moves to now.
    result = engine.stacks.apply(
        template, "app", {"State": "ENABLED", "Expression": "rate(1 hour)"}
    )
    assert result.ok, result.root_causes
    changed = engine.store.schedules.get_schedule("app-Nightly")
    assert changed.spec["expression"] == "rate(1 hour)"
    assert changed.last_fire_time is not None and changed.last_fire_time > 1000.0

    result = engine.stacks.delete("app")
    assert result.ok, result.root_causes
    assert engine.store.schedules.find_schedule("app-Nightly") is None


def test_drift_shows_a_schedule_changed_behind_the_stack(engine: Engine, tmp_path: Path) -> None:
    template = tmp_path / "app.yaml"
    template.write_text(TEMPLATE)
    assert engine.stacks.apply(template, "app").ok
    schedules = engine.store.schedules
    record = schedules.get_schedule("app-Nightly")
    schedules.put_schedule(
        type(record)(
            **{**record.__dict__, "spec": {**record.spec, "expression": "rate(5 minutes)"}}
        )
    )
    report = engine.stacks.drift("app")
    assert report.status == "DRIFTED"
    (nightly,) = [r for r in report.resources if r.logical_id == "Nightly"]
    assert nightly.status == "MODIFIED"
    assert [(d.path, d.actual) for d in nightly.differences] == [
        ("/ScheduleExpression", "rate(5 minutes)")
    ]


def test_a_bad_expression_fails_the_apply_naming_the_property(
    engine: Engine, tmp_path: Path
) -> None:
    template = tmp_path / "app.yaml"
    template.write_text(TEMPLATE)
    result = engine.stacks.apply(template, "app", {"Expression": "cron(0 25 * * ? *)"})
    assert not result.ok
    message = result.root_causes[0].reason or ""
    assert "ScheduleExpression: cron(0 25 * * ? *): hours field: 25 is out of range" in message
    assert engine.store.schedules.find_schedule("app-Nightly") is None


def test_the_alias_and_the_type_are_registered() -> None:
    registry = default_registry()
    assert isinstance(registry.get("Stackflow::Schedule"), ScheduleProvider)
    assert registry.get("AWS::Scheduler::Schedule") is registry.get("Stackflow::Schedule")


# --------------------------------------------------------------------------- unit level


def request(properties: dict[str, Any], tmp_path: Path, **changes: Any) -> ResourceRequest:
    base: dict[str, Any] = {
        "stack_name": "demo",
        "stack_id": "id-1",
        "logical_id": "Tick",
        "resource_type": "Stackflow::Schedule",
        "physical_id": None,
        "physical_id_hint": "demo-Tick-abc",
        "properties": properties,
        "previous_properties": None,
        "previous_attributes": None,
        "request_token": "t-1",
        "base_dir": tmp_path,
    }
    base.update(changes)
    return ResourceRequest(**base)


PROPS = {"ScheduleExpression": "rate(5 minutes)", "Target": {"Arn": "wf"}}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"ScheduleExpressionTimezone": "Mars/Base"}, "ScheduleExpressionTimezone: unknown time"),
        ({"StartDate": "soon"}, "StartDate: 'soon' is not a date-time"),
        ({"Target": {"Arn": "arn:aws:sqs:us-east-1:1:q"}}, "stackflow schedules start workflows"),
        ({"Target": {"Arn": "wf", "Input": "{not json"}}, "Target.Input: expected JSON text"),
        ({"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}, "MaximumWindowInMinutes: required"),
        ({"Name": ".hidden"}, "Name '.hidden': expected at most 64 letters"),
    ],
)
def test_invalid_properties_name_the_property(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        build_spec(request({**PROPS, **changes}, tmp_path), 0.0)
    assert expected in caught.value.message
    assert caught.value.code == "InvalidRequest"


def test_target_arns() -> None:
    assert target_workflow("arn:aws:states:local:000000000000:stateMachine:etl") == "etl"
    assert target_workflow("arn:aws:states:eu-west-1:1:stateMachine:etl:3") == "etl:3"
    assert target_workflow("etl") == "etl"


def test_create_refuses_a_name_owned_by_another_stack(tmp_path: Path) -> None:
    store = MemoryStore()
    context = ProviderContext(store=store)
    provider = ScheduleProvider()
    props = {**PROPS, "Name": "shared"}
    first = provider.create(request(props, tmp_path), context)
    assert first.status == "SUCCESS" and first.physical_id == "shared"
    other = provider.create(request(props, tmp_path, stack_name="other"), context)
    assert other.status == "FAILED" and other.error_code == "AlreadyExists"
    assert "exists already (Tick of stack demo)" in other.message
    assert provider.read(request(props, tmp_path, physical_id="shared"), context) is not None
    provider.delete(request(props, tmp_path, physical_id="shared"), context)
    assert provider.read(request(props, tmp_path, physical_id="shared"), context) is None
    store.close()


def test_without_a_store_the_provider_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="needs the store"):
        ScheduleProvider().create(request(PROPS, tmp_path), ProviderContext())
