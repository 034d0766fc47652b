"""Stack results rebuilt from the API's JSON: the inverse of the ``to_json`` methods.

Each function takes what a stack route returns and gives back the dataclass the local
:class:`~stackflow.stacks.StackService` returns (a change set, a result, a description, a
drift report, events), so the CLI renders a remote result with the same code. A stack from
``GET /stacks`` has no template, parameters or outputs; a stack event no stack id unless the
caller knows it.
"""

from __future__ import annotations

from typing import Any

from stackflow.stacks.changes import ChangeSet, PropertyChange, ResourceChange
from stackflow.stacks.results import (
    DriftReport,
    PropertyDifference,
    ResourceDrift,
    ResourceFailure,
    ResourceSummary,
    StackDescription,
    StackResult,
)
from stackflow.store.stacks import StackEvent, StackRecord

__all__ = [
    "change_set_from_json",
    "drift_report_from_json",
    "stack_description_from_json",
    "stack_event_from_json",
    "stack_record_from_json",
    "stack_result_from_json",
]


def _parameters(items: Any) -> dict[str, str]:
    return {
        str(item["ParameterKey"]): str(item.get("ParameterValue", ""))
        for item in items or []
        if isinstance(item, dict) and "ParameterKey" in item
    }


def _property_change(detail: dict[str, Any]) -> PropertyChange:
    target = detail.get("Target") or {}
    return PropertyChange(
        path=str(target.get("Path") or f"/Properties/{target.get('Name', '')}"),
        before=target.get("BeforeValue"),
        after=target.get("AfterValue"),
        requires_recreation=str(target.get("RequiresRecreation") or "Never"),
        reason=detail.get("Reason"),
        change_source=str(detail.get("ChangeSource") or "DirectModification"),
        causing_entity=detail.get("CausingEntity"),
    )


def _resource_change(item: dict[str, Any]) -> ResourceChange:
    body = item.get("ResourceChange", item)
    return ResourceChange(
        logical_id=str(body["LogicalResourceId"]),
        resource_type=str(body.get("ResourceType") or ""),
        action=str(body.get("ChangeType") or body.get("Action") or "NoChange"),
        physical_id=body.get("PhysicalResourceId"),
        replacement=body.get("Replacement"),
        details=tuple(_property_change(d) for d in body.get("Details") or []),
        reason=body.get("Reason"),
        policy_action=body.get("PolicyAction"),
        previous_type=body.get("PreviousResourceType"),
    )


def change_set_from_json(data: dict[str, Any]) -> ChangeSet:
    """Return a change set from ``POST /stacks/{name}/plan`` (``ChangeSet.to_json``).

    Args:
        data: The change set's JSON.
    """
    return ChangeSet(
        stack_name=str(data["StackName"]),
        changes=tuple(_resource_change(c) for c in data.get("Changes") or []),
        stack_id=data.get("StackId"),
        stack_version=int(data.get("StackVersion") or 0),
        change_set_id=data.get("ChangeSetId"),
        parameters=_parameters(data.get("Parameters")),
        description=data.get("Description"),
        status=str(data.get("Status") or "CREATE_COMPLETE"),
    )


def _failure(data: dict[str, Any]) -> ResourceFailure:
    return ResourceFailure(
        logical_id=str(data["LogicalResourceId"]),
        resource_type=str(data.get("ResourceType") or ""),
        status=str(data.get("ResourceStatus") or ""),
        reason=str(data.get("ResourceStatusReason") or ""),
        error_code=data.get("ErrorCode"),
    )


def stack_result_from_json(data: dict[str, Any]) -> StackResult:
    """Return the result of ``POST /stacks/{name}/apply`` or ``DELETE /stacks/{name}``.

    Args:
        data: ``StackResult.to_json``.
    """
    changes = data.get("Changes")
    return StackResult(
        stack_name=str(data["StackName"]),
        stack_id=str(data.get("StackId") or ""),
        status=str(data["StackStatus"]),
        status_reason=data.get("StackStatusReason"),
        operation_id=data.get("OperationId"),
        root_causes=tuple(_failure(f) for f in data.get("RootCauses") or []),
        skipped=tuple(str(s) for s in data.get("Skipped") or []),
        rollback_failures=tuple(_failure(f) for f in data.get("RollbackFailures") or []),
        changes=change_set_from_json(changes) if isinstance(changes, dict) else None,
        outputs=dict(data.get("Outputs") or {}),
        no_op=bool(data.get("NoOp")),
    )


def stack_description_from_json(data: dict[str, Any]) -> StackDescription:
    """Return a stack from ``GET /stacks/{name}`` (``StackDescription.to_json``).

    Args:
        data: The description's JSON (NoEcho parameters already masked by the server).
    """
    outputs = {
        str(item["OutputKey"]): {k: v for k, v in item.items() if k != "OutputKey"}
        for item in data.get("Outputs") or []
        if isinstance(item, dict) and "OutputKey" in item
    }
    resources = tuple(
        ResourceSummary(
            logical_id=str(r["LogicalResourceId"]),
            resource_type=str(r.get("ResourceType") or ""),
            physical_id=r.get("PhysicalResourceId"),
            status=str(r.get("ResourceStatus") or ""),
            status_reason=r.get("ResourceStatusReason"),
            updated_at=float(r.get("LastUpdatedTimestamp") or 0.0),
        )
        for r in data.get("Resources") or []
    )
    return StackDescription(
        name=str(data["StackName"]),
        stack_id=str(data.get("StackId") or ""),
        status=str(data["StackStatus"]),
        status_reason=data.get("StackStatusReason"),
        description=data.get("Description"),
        parameters=_parameters(data.get("Parameters")),
        outputs=outputs,
        resources=resources,
        created_at=float(data.get("CreationTime") or 0.0),
        updated_at=float(data.get("LastUpdatedTime") or 0.0),
        template_file=data.get("TemplateFile"),
    )


def stack_record_from_json(data: dict[str, Any]) -> StackRecord:
    """Return a stack from ``GET /stacks`` (:func:`stackflow.views.stack_summary_json`).

    Args:
        data: One row. The template, parameters and outputs are not in it (left empty).
    """
    status = str(data["StackStatus"])
    return StackRecord(
        stack_id=str(data.get("StackId") or ""),
        name=str(data["StackName"]),
        status=status,
        status_reason=None,
        template="",
        template_file=data.get("TemplateFile"),
        parameters={},
        no_echo=frozenset(),
        outputs={},
        description=None,
        created_at=float(data.get("CreationTime") or 0.0),
        updated_at=float(data.get("LastUpdatedTime") or 0.0),
        version=0,
        deleted=status == "DELETE_COMPLETE",
    )


def stack_event_from_json(data: dict[str, Any], stack_id: str = "") -> StackEvent:
    """Return a stack event from ``GET /stacks/{name}/events``.

    Args:
        data: :func:`stackflow.views.stack_event_json`.
        stack_id: The stack's id when known (the JSON does not carry it).
    """
    return StackEvent(
        stack_id=stack_id,
        seq=int(data["EventId"]),
        timestamp=float(data.get("Timestamp") or 0.0),
        logical_id=str(data["LogicalResourceId"]),
        physical_id=data.get("PhysicalResourceId"),
        resource_type=str(data.get("ResourceType") or ""),
        status=str(data["ResourceStatus"]),
        reason=data.get("ResourceStatusReason"),
        operation_id=data.get("OperationId"),
    )


def drift_report_from_json(data: dict[str, Any]) -> DriftReport:
    """Return a drift report from ``GET /stacks/{name}/drift`` (``DriftReport.to_json``).

    Args:
        data: The report's JSON.
    """
    resources = tuple(
        ResourceDrift(
            logical_id=str(r["LogicalResourceId"]),
            resource_type=str(r.get("ResourceType") or ""),
            physical_id=r.get("PhysicalResourceId"),
            status=str(r.get("StackResourceDriftStatus") or ""),
            differences=tuple(
                PropertyDifference(
                    path=str(d.get("PropertyPath") or ""),
                    expected=d.get("ExpectedValue"),
                    actual=d.get("ActualValue"),
                    difference_type=str(d.get("DifferenceType") or ""),
                )
                for d in r.get("PropertyDifferences") or []
            ),
            reason=r.get("Reason"),
        )
        for r in data.get("StackResourceDrifts") or []
    )
    return DriftReport(
        stack_name=str(data["StackName"]),
        stack_id=str(data.get("StackId") or ""),
        status=str(data["StackDriftStatus"]),
        resources=resources,
        detected_at=float(data.get("Timestamp") or 0.0),
    )
