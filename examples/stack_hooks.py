"""A custom resource for examples/app.stack.yaml (ServiceToken ``python:stack_hooks:greeting``).

stackflow calls ``greeting(event)`` with CloudFormation's custom-resource request (RequestType
Create, Update or Delete, ResourceProperties, ...) and expects the response dict: Status,
PhysicalResourceId and Data (what ``!GetAtt Greeting.Message`` reads).
"""

from __future__ import annotations

from typing import Any


def greeting(event: dict[str, Any]) -> dict[str, Any]:
    """Answer a custom-resource request with a greeting for the environment."""
    props = event.get("ResourceProperties", {})
    who = props.get("Who", "world")
    physical_id = event.get("PhysicalResourceId") or f"greeting-{who}"
    if event["RequestType"] == "Delete":
        return {"Status": "SUCCESS", "PhysicalResourceId": physical_id}
    return {
        "Status": "SUCCESS",
        "PhysicalResourceId": physical_id,
        "Data": {"Message": f"Hello, {who}! Workflow {props.get('Workflow')} is deployed."},
    }
