"""Custom resources: python: and stackflow:exec service tokens, the CloudFormation protocol."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from stackflow.providers import HandlerErrorCode, HandlerStatus
from stackflow.providers.custom import CustomResourceProvider
from stackflow.providers.registry import default_registry

sys.path.insert(0, str(Path(__file__).parent))
import provider_custom_handlers

TOKEN = "python:provider_custom_handlers:handler"


@pytest.fixture(autouse=True)
def _clear_events():
    provider_custom_handlers.EVENTS.clear()


def test_python_create_update_replace_delete(make_request, context):
    provider = CustomResourceProvider()
    props = {"ServiceToken": TOKEN, "Name": "a"}
    created = provider.create(make_request(props, resource_type="Custom::Thing"), context)
    assert created.status == HandlerStatus.SUCCESS
    assert created.physical_id == "thing-a" and created.attributes == {"Upper": "A"}
    event = provider_custom_handlers.EVENTS[-1]
    assert event["RequestType"] == "Create" and event["ResourceType"] == "Custom::Thing"
    assert event["ResourceProperties"] == props and event["ResponseURL"] == ""
    assert event["RequestId"] == "token-1" and event["StackId"] == "stack-id-1"
    assert "PhysicalResourceId" not in event

    new = {"ServiceToken": TOKEN, "Name": "b"}
    updated = provider.update(
        make_request(new, physical_id="thing-a", previous_properties=props), context
    )
    assert updated.physical_id == "thing-b"  # a new id: the engine deletes the old one
    assert provider_custom_handlers.EVENTS[-1]["OldResourceProperties"] == props
    assert provider_custom_handlers.EVENTS[-1]["PhysicalResourceId"] == "thing-a"
    assert provider.requires_replacement("Name", "a", "b") is False

    deleted = provider.delete(make_request(new, physical_id="thing-b"), context)
    assert deleted.status == HandlerStatus.SUCCESS and deleted.physical_id == "thing-b"
    assert provider_custom_handlers.EVENTS[-1]["RequestType"] == "Delete"


def test_failed_response_exception_and_no_echo(make_request, context):
    provider = CustomResourceProvider()
    failed = provider.create(make_request({"ServiceToken": TOKEN, "Fail": True}), context)
    assert failed.status == HandlerStatus.FAILED and failed.message == "asked to fail"
    raised = provider.create(
        make_request({"ServiceToken": "python:provider_custom_handlers:raises"}), context
    )
    assert raised.status == HandlerStatus.FAILED and "broken handler" in raised.message
    secret = provider.create(make_request({"ServiceToken": TOKEN, "Secret": True}), context)
    assert secret.no_echo is True


def test_service_token_change_is_not_updatable(make_request, context):
    event = CustomResourceProvider().update(
        make_request(
            {"ServiceToken": "stackflow:exec:true"},
            physical_id="x",
            previous_properties={"ServiceToken": TOKEN},
        ),
        context,
    )
    assert event.status == HandlerStatus.FAILED
    assert event.error_code == HandlerErrorCode.NotUpdatable


def test_exec_token_reads_event_on_stdin(tmp_path, make_request, context):
    script = tmp_path / "handler.py"
    script.write_text(
        "import json, sys\n"
        "event = json.load(sys.stdin)\n"
        "print('working...')\n"
        "print(json.dumps({'Status': 'SUCCESS', 'PhysicalResourceId': 'exec-1',"
        " 'Data': {'Type': event['RequestType'], 'N': event['ResourceProperties']['N']}}))\n"
    )
    provider = CustomResourceProvider()
    via_list = provider.create(
        make_request(
            {"ServiceToken": "stackflow:exec", "ExecCommand": [sys.executable, str(script)], "N": 2}
        ),
        context,
    )
    assert via_list.status == HandlerStatus.SUCCESS, via_list.message
    assert via_list.physical_id == "exec-1"
    assert via_list.attributes == {"Type": "Create", "N": 2}
    via_token = provider.create(
        make_request({"ServiceToken": f"stackflow:exec:{sys.executable} {script}", "N": 3}),
        context,
    )
    assert via_token.attributes == {"Type": "Create", "N": 3}


def test_exec_failure_and_timeout(make_request, context):
    provider = CustomResourceProvider()
    failed = provider.create(
        make_request({"ServiceToken": "stackflow:exec:echo nope >&2; exit 3"}), context
    )
    assert failed.status == HandlerStatus.FAILED
    assert "code 3" in failed.message and "nope" in failed.message
    slow = provider.create(
        make_request({"ServiceToken": "stackflow:exec:sleep 30", "TimeoutSeconds": 0.3}), context
    )
    assert slow.status == HandlerStatus.FAILED and slow.error_code == HandlerErrorCode.Timeout
    silent = provider.create(make_request({"ServiceToken": "stackflow:exec:true"}), context)
    assert silent.status == HandlerStatus.FAILED and "no JSON" in silent.message


def test_unsupported_token_and_registry_mapping(make_request, context):
    from stackflow.errors import ProviderError

    with pytest.raises(ProviderError) as info:
        CustomResourceProvider().create(
            make_request({"ServiceToken": "arn:aws:lambda:us-east-1:1:function:f"}), context
        )
    assert info.value.code == HandlerErrorCode.InvalidRequest
    registry = default_registry()
    assert isinstance(registry.get("Custom::Anything"), CustomResourceProvider)
    assert isinstance(registry.get("AWS::CloudFormation::CustomResource"), CustomResourceProvider)
    assert (
        CustomResourceProvider.schema.validate(
            {"ServiceToken": TOKEN, "Whatever": {"x": [1]}}, pointer="/p"
        )
        == []
    )
    read = CustomResourceProvider().read(
        make_request({"ServiceToken": TOKEN}, previous_attributes={"A": 1}), context
    )
    assert read.properties == {"ServiceToken": TOKEN} and read.attributes == {"A": 1}
    assert json.dumps(read.properties)


def test_async_python_handler(make_request, context):
    event = CustomResourceProvider().create(
        make_request({"ServiceToken": "python:provider_custom_handlers:async_handler"}), context
    )
    assert event.status == HandlerStatus.SUCCESS
    assert (event.physical_id, event.attributes) == ("async-1", {"Async": True})
