"""What stack operations return: results, descriptions and drift reports (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackflow.stacks.changes import ChangeSet, plain
from stackflow.stacks.status import FAILED, IN_PROGRESS


@dataclass(frozen=True)
class ResourceFailure:
    """A resource action that failed: a root cause of a failed operation.

    Attributes:
        logical_id: The resource.
        resource_type: Its type.
        status: The failure status (``CREATE_FAILED``, ``UPDATE_FAILED``, ``DELETE_FAILED``...).
        reason: What went wrong (never a NoEcho value).
        error_code: The handler error code, or None.
    """

    logical_id: str
    resource_type: str
    status: str
    reason: str
    error_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the failure as JSON."""
        return {
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceStatus": self.status,
            "ResourceStatusReason": self.reason,
            "ErrorCode": self.error_code,
        }


@dataclass(frozen=True)
class StackResult:
    """The outcome of an apply or delete.

    Attributes:
        stack_name: The stack.
        stack_id: Its id.
        status: The final stack status (``CREATE_COMPLETE``, ``UPDATE_ROLLBACK_COMPLETE``...).
        status_reason: Why, or None.
        operation_id: The operation's id (its intent log), or None when nothing was done.
        root_causes: The failures that caused the operation to fail, first reported first
            (resources skipped because of them are not failures; see ``skipped``).
        skipped: Resources not attempted because something they depend on failed.
        rollback_failures: Failures while rolling back (the stack then ends ``*_FAILED``).
        changes: The change set that was applied, or None (delete, no-op).
        outputs: The stack's outputs ``{name: value}`` after the operation.
        no_op: True when there was nothing to do.
    """

    stack_name: str
    stack_id: str
    status: str
    status_reason: str | None = None
    operation_id: str | None = None
    root_causes: tuple[ResourceFailure, ...] = ()
    skipped: tuple[str, ...] = ()
    rollback_failures: tuple[ResourceFailure, ...] = ()
    changes: ChangeSet | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    no_op: bool = False

    @property
    def ok(self) -> bool:
        """True when the operation succeeded."""
        return self.status not in FAILED and self.status not in IN_PROGRESS

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON."""
        return {
            "StackName": self.stack_name,
            "StackId": self.stack_id,
            "StackStatus": self.status,
            "StackStatusReason": self.status_reason,
            "OperationId": self.operation_id,
            "RootCauses": [failure.to_json() for failure in self.root_causes],
            "Skipped": list(self.skipped),
            "RollbackFailures": [failure.to_json() for failure in self.rollback_failures],
            "Outputs": plain(self.outputs),
            "NoOp": self.no_op,
            "Changes": self.changes.to_json() if self.changes is not None else None,
        }


@dataclass(frozen=True)
class ResourceSummary:
    """One resource in a stack description.

    Attributes:
        logical_id: Logical id.
        resource_type: Type.
        physical_id: Physical id, or None.
        status: Resource status.
        status_reason: Why, or None.
        updated_at: Last change (epoch seconds).
    """

    logical_id: str
    resource_type: str
    physical_id: str | None
    status: str
    status_reason: str | None
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        """Return the resource as JSON (CloudFormation's StackResourceSummary names)."""
        return {
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "PhysicalResourceId": self.physical_id,
            "ResourceStatus": self.status,
            "ResourceStatusReason": self.status_reason,
            "LastUpdatedTimestamp": self.updated_at,
        }


@dataclass(frozen=True)
class StackDescription:
    """A stack as ``stack describe`` shows it (NoEcho parameters masked).

    Attributes:
        name: Stack name.
        stack_id: Stack id.
        status: Stack status.
        status_reason: Why, or None.
        description: The template's Description.
        parameters: Parameter values, NoEcho ones as ``****``.
        outputs: ``{name: {"Value", "Description", "ExportName"}}``.
        resources: The stack's resources, in the order they were first recorded.
        created_at: Creation time (epoch seconds).
        updated_at: Last update (epoch seconds).
        template_file: The template's path, or None.
        operation_id: The last operation.
        lock_owner: Who holds the stack's lock, or None.
    """

    name: str
    stack_id: str
    status: str
    status_reason: str | None
    description: str | None
    parameters: dict[str, str]
    outputs: dict[str, Any]
    resources: tuple[ResourceSummary, ...]
    created_at: float
    updated_at: float
    template_file: str | None = None
    operation_id: str | None = None
    lock_owner: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the description as JSON (CloudFormation's DescribeStacks names)."""
        return {
            "StackName": self.name,
            "StackId": self.stack_id,
            "StackStatus": self.status,
            "StackStatusReason": self.status_reason,
            "Description": self.description,
            "Parameters": [
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in self.parameters.items()
            ],
            "Outputs": [{"OutputKey": key, **plain(value)} for key, value in self.outputs.items()],
            "Resources": [resource.to_json() for resource in self.resources],
            "CreationTime": self.created_at,
            "LastUpdatedTime": self.updated_at,
            "TemplateFile": self.template_file,
        }


@dataclass(frozen=True)
class PropertyDifference:
    """One property that differs between the recorded and the actual resource (AWS's names).

    Attributes:
        path: JSON pointer inside the resource's properties (``/Content``).
        expected: The recorded value (None for ADD).
        actual: The observed value (None for REMOVE).
        difference_type: ``ADD``, ``REMOVE`` or ``NOT_EQUAL``.
    """

    path: str
    expected: Any
    actual: Any
    difference_type: str

    def to_json(self) -> dict[str, Any]:
        """Return the difference as AWS's PropertyDifference."""
        return {
            "PropertyPath": self.path,
            "ExpectedValue": plain(self.expected),
            "ActualValue": plain(self.actual),
            "DifferenceType": self.difference_type,
        }


@dataclass(frozen=True)
class ResourceDrift:
    """The drift of one resource.

    Attributes:
        logical_id: Logical id.
        resource_type: Type.
        physical_id: Physical id.
        status: ``IN_SYNC``, ``MODIFIED``, ``DELETED`` or ``NOT_CHECKED``.
        differences: The differing properties (MODIFIED only).
        reason: Why it was not checked, or None.
    """

    logical_id: str
    resource_type: str
    physical_id: str | None
    status: str
    differences: tuple[PropertyDifference, ...] = ()
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the drift as AWS's StackResourceDrift."""
        return {
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "PhysicalResourceId": self.physical_id,
            "StackResourceDriftStatus": self.status,
            "PropertyDifferences": [difference.to_json() for difference in self.differences],
            "Reason": self.reason,
        }


@dataclass(frozen=True)
class DriftReport:
    """The drift of a stack: ``DRIFTED`` when any resource is MODIFIED or DELETED.

    Attributes:
        stack_name: Stack name.
        stack_id: Stack id.
        status: ``DRIFTED`` or ``IN_SYNC``.
        resources: Per resource drift, in record order.
        detected_at: When it was checked (epoch seconds).
    """

    stack_name: str
    stack_id: str
    status: str
    resources: tuple[ResourceDrift, ...]
    detected_at: float

    @property
    def drifted(self) -> list[ResourceDrift]:
        """The resources that are MODIFIED or DELETED."""
        return [r for r in self.resources if r.status in ("MODIFIED", "DELETED")]

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON."""
        return {
            "StackName": self.stack_name,
            "StackId": self.stack_id,
            "StackDriftStatus": self.status,
            "DriftedStackResourceCount": len(self.drifted),
            "Timestamp": self.detected_at,
            "StackResourceDrifts": [resource.to_json() for resource in self.resources],
        }
