"""Custom resource handlers used by test_provider_custom.py (imported via python:...)."""

from __future__ import annotations

from typing import Any

EVENTS: list[dict[str, Any]] = []


def handler(event: dict[str, Any]) -> dict[str, Any]:
    """Record the event; answer like a CloudFormation custom resource."""
    EVENTS.append(event)
    props = event["ResourceProperties"]
    if props.get("Fail"):
        return {"Status": "FAILED", "Reason": "asked to fail"}
    physical = event.get("PhysicalResourceId") or f"thing-{props.get('Name')}"
    if event["RequestType"] == "Update" and props.get("Name") != event["OldResourceProperties"].get(
        "Name"
    ):
        physical = f"thing-{props.get('Name')}"
    return {
        "Status": "SUCCESS",
        "PhysicalResourceId": physical,
        "Data": {"Upper": str(props.get("Name", "")).upper()},
        "NoEcho": bool(props.get("Secret")),
    }


def raises(event: dict[str, Any]) -> dict[str, Any]:
    """Fail with an exception."""
    raise ValueError("broken handler")


async def async_handler(event: dict[str, Any]) -> dict[str, Any]:
    """An async handler: answered through asyncio.run."""
    return {"Status": "SUCCESS", "PhysicalResourceId": "async-1", "Data": {"Async": True}}
