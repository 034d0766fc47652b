"""``Stackflow::HttpTrigger`` through a stack (secrets never shown), and its validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackflow.engine import Engine
from stackflow.errors import ProviderError
from stackflow.providers import ProviderContext, ResourceRequest
from stackflow.providers.http_trigger import (
    DEFAULT_HEADER,
    HttpTriggerProvider,
    build_record,
    token_digest,
)
from stackflow.providers.registry import default_registry
from stackflow.store import MemoryStore

SECRET = "hook-signing-key-42"
OTHER_SECRET = "another-signing-key-77"

TEMPLATE = """
Parameters:
  HookSecret:
    Type: String
    NoEcho: true
  Kind:
    Type: String
    Default: Hmac
Resources:
  Wf:
    Type: Stackflow::Workflow
    Properties:
      Definition:
        StartAt: Done
        States:
          Done: {Type: Pass, End: true}
  Hook:
    Type: Stackflow::HttpTrigger
    Properties:
      Workflow: !Ref Wf
      Auth:
        Type: !Ref Kind
        Secret: !Ref HookSecret
Outputs:
  Url:
    Value: !GetAtt Hook.Url
  Name:
    Value: !Ref Hook
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine.open(tmp_path / "home") as opened:
        yield opened


def test_create_update_and_delete_through_a_stack(engine: Engine, tmp_path: Path) -> None:
    template = tmp_path / "app.yaml"
    template.write_text(TEMPLATE)
    result = engine.stacks.apply(template, "app", {"HookSecret": SECRET})
    assert result.ok, result.root_causes
    assert result.outputs == {"Url": "/hooks/app-Hook", "Name": "app-Hook"}
    record = engine.store.triggers.get_trigger("app-Hook")
    assert (record.stack_name, record.logical_id, record.workflow) == ("app", "Hook", "app-Wf")
    assert (record.auth_type, record.secret, record.header) == ("Hmac", SECRET, DEFAULT_HEADER)
    assert engine.stacks.drift("app").status == "IN_SYNC"

    # A new secret is an update whose change set never shows either value.
    plan = engine.stacks.plan(template, "app", {"HookSecret": OTHER_SECRET})
    shown = json.dumps(plan.to_json())
    assert plan.change("Hook").action == "Modify"
    assert SECRET not in shown and OTHER_SECRET not in shown
    result = engine.stacks.apply(template, "app", {"HookSecret": OTHER_SECRET, "Kind": "Token"})
    assert result.ok, result.root_causes
    updated = engine.store.triggers.get_trigger("app-Hook")
    assert updated.auth_type == "Token"
    assert updated.secret == token_digest(OTHER_SECRET)  # only the digest of a token is kept
    assert updated.created_at == record.created_at
    events = json.dumps([e.reason for e in engine.stacks.events("app")])
    described = json.dumps(engine.stacks.describe("app").to_json())
    for text in (events, described):
        assert SECRET not in text and OTHER_SECRET not in text

    result = engine.stacks.delete("app")
    assert result.ok, result.root_causes
    assert engine.store.triggers.find_trigger("app-Hook") is None


def test_drift_shows_a_workflow_changed_behind_the_stack(engine: Engine, tmp_path: Path) -> None:
    template = tmp_path / "app.yaml"
    template.write_text(TEMPLATE)
    assert engine.stacks.apply(template, "app", {"HookSecret": SECRET}).ok
    triggers = engine.store.triggers
    record = triggers.get_trigger("app-Hook")
    triggers.put_trigger(type(record)(**{**record.__dict__, "workflow": "elsewhere"}))
    report = engine.stacks.drift("app")
    assert report.status == "DRIFTED"
    (hook,) = [r for r in report.resources if r.logical_id == "Hook"]
    assert [(d.path, d.actual) for d in hook.differences] == [("/Workflow", "elsewhere")]


def test_the_type_is_registered() -> None:
    assert isinstance(default_registry().get("Stackflow::HttpTrigger"), HttpTriggerProvider)


# --------------------------------------------------------------------------- unit level


def request(properties: dict[str, Any], tmp_path: Path, **changes: Any) -> ResourceRequest:
    base: dict[str, Any] = {
        "stack_name": "demo",
        "stack_id": "id-1",
        "logical_id": "Hook",
        "resource_type": "Stackflow::HttpTrigger",
        "physical_id": None,
        "physical_id_hint": "demo-Hook-abc",
        "properties": properties,
        "previous_properties": None,
        "previous_attributes": None,
        "request_token": "t-1",
        "base_dir": tmp_path,
    }
    base.update(changes)
    return ResourceRequest(**base)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"Workflow": "arn:aws:sqs:us-east-1:1:q"}, "expected a workflow name"),
        ({"Workflow": "wf", "Auth": {"Type": "Hmac"}}, "Auth.Secret: required with Auth.Type"),
        ({"Workflow": "wf", "Auth": {"Type": "Token", "Secret": "short"}}, "at least 8"),
        ({"Workflow": "wf", "Auth": {"Secret": SECRET}}, "only used with Auth.Type Token"),
        ({"Workflow": "wf", "Name": ".hidden"}, "Name '.hidden': expected at most 64"),
    ],
)
def test_invalid_properties_name_the_property(
    tmp_path: Path, props: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        build_record(request(props, tmp_path), 0.0, 0.0)
    assert expected in caught.value.message
    assert caught.value.code == "InvalidRequest"
    assert SECRET not in caught.value.message and "short" not in caught.value.message


def test_defaults_and_arns(tmp_path: Path) -> None:
    arn = "arn:aws:states:local:000000000000:stateMachine:etl:2"
    record = build_record(request({"Workflow": arn}, tmp_path), 5.0, 6.0)
    assert (record.name, record.workflow, record.auth_type) == ("demo-Hook", "etl:2", "None")
    assert (record.secret, record.header, record.algorithm) == (None, DEFAULT_HEADER, "sha256")
    assert (record.created_at, record.updated_at) == (5.0, 6.0)


def test_the_schema_rejects_unknown_auth_settings() -> None:
    schema = HttpTriggerProvider.schema
    problems = schema.validate(
        {"Workflow": "wf", "Auth": {"Type": "Basic", "Secret": SECRET}}, pointer="/P"
    )
    assert [p.location.pointer for p in problems] == ["/P/Auth/Type"]
    assert all(SECRET not in p.message for p in problems)
    assert schema.write_only == frozenset({"Auth"})


def test_create_refuses_a_name_owned_by_another_stack(tmp_path: Path) -> None:
    store = MemoryStore()
    context = ProviderContext(store=store)
    provider = HttpTriggerProvider()
    props = {"Workflow": "wf", "Name": "shared"}
    first = provider.create(request(props, tmp_path), context)
    assert first.status == "SUCCESS" and first.physical_id == "shared"
    assert first.attributes == {"Url": "/hooks/shared", "Name": "shared"}
    other = provider.create(request(props, tmp_path, stack_name="other"), context)
    assert other.status == "FAILED" and other.error_code == "AlreadyExists"
    assert "exists already (Hook of stack demo)" in other.message
    read = provider.read(request(props, tmp_path, physical_id="shared"), context)
    assert read is not None and read.properties == {"Workflow": "wf", "Name": "shared"}
    provider.delete(request(props, tmp_path, physical_id="shared"), context)
    assert provider.read(request(props, tmp_path, physical_id="shared"), context) is None
    store.close()


def test_without_a_store_the_provider_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="needs the store"):
        HttpTriggerProvider().create(request({"Workflow": "wf"}, tmp_path), ProviderContext())
