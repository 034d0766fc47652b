"""Change sets: what applying a template to a stack would do, in CloudFormation's vocabulary.

A :class:`ChangeSet` lists one :class:`ResourceChange` per resource. Its ``action`` is one of
``Add``, ``Modify``, ``Replace``, ``Remove`` and ``NoChange``. In :meth:`ResourceChange.to_json`
the ``Action`` field follows CloudFormation (``Replace`` is written as ``Modify`` with
``Replacement: "True"``; unchanged resources, which CloudFormation leaves out, are written with
``Action: "NoChange"``) and ``ChangeType`` carries our five-valued action. Each changed property
is a :class:`PropertyChange` with its before and after values (values of write-only properties and
of NoEcho parameters are shown as ``****``; values only known after apply as
``{{changeSet:KNOWN_AFTER_APPLY}}``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ADD = "Add"
MODIFY = "Modify"
REPLACE = "Replace"
REMOVE = "Remove"
NO_CHANGE = "NoChange"
#: Every resource action of a change set.
ACTIONS = (ADD, MODIFY, REPLACE, REMOVE, NO_CHANGE)

#: RequiresRecreation values (CloudFormation).
NEVER = "Never"
ALWAYS = "Always"
CONDITIONAL = "Conditional"

#: ChangeSource values (CloudFormation), plus ``Drift`` for a repair of drift.
DIRECT = "DirectModification"
RESOURCE_REFERENCE = "ResourceReference"
RESOURCE_ATTRIBUTE = "ResourceAttribute"
PARAMETER_REFERENCE = "ParameterReference"
DRIFT = "Drift"

#: The text shown in place of a secret value.
MASK = "****"
#: Secrets shorter than this are not masked inside longer texts.
MIN_SECRET_LENGTH = 4


def plain(value: Any) -> Any:
    """Turn a value into plain JSON: unknown values become their string form.

    Args:
        value: A resolved value, possibly holding KNOWN_AFTER_APPLY.

    Returns:
        A JSON-serialisable copy.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def mask_secrets(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every occurrence of a secret string inside ``value`` with ``****``.

    Args:
        value: A JSON-like value.
        secrets: Secret strings (NoEcho parameter values). Strings shorter than
            :data:`MIN_SECRET_LENGTH` are not searched for (masking every ``x`` in a text
            would make it unreadable); the value of a NoEcho parameter itself is always masked.

    Returns:
        A copy with the secrets masked.
    """
    words = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    if not words:
        return value
    return _mask(value, words)


def _mask(value: Any, words: list[str]) -> Any:
    if isinstance(value, str):
        for word in words:
            value = value.replace(word, MASK)
        return value
    if isinstance(value, dict):
        return {key: _mask(item, words) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(item, words) for item in value]
    return value


@dataclass(frozen=True)
class PropertyChange:
    """One changed top-level property of a resource.

    Attributes:
        path: JSON pointer of the property in the resource (``/Properties/Content``).
        before: The value last applied (or observed, for drift); None when absent.
        after: The desired value; None when removed.
        requires_recreation: ``Never``, ``Always`` or ``Conditional``.
        reason: Why it forces replacement (``Path is create-only``), or None.
        change_source: ``DirectModification``, ``ResourceReference``, ``ResourceAttribute``,
            ``ParameterReference`` or ``Drift``.
        causing_entity: The resource or parameter behind a reference change, or None.
    """

    path: str
    before: Any
    after: Any
    requires_recreation: str = NEVER
    reason: str | None = None
    change_source: str = DIRECT
    causing_entity: str | None = None

    @property
    def name(self) -> str:
        """The top-level property name (CloudFormation's ``Target.Name``)."""
        return self.path.split("/")[2] if self.path.count("/") >= 2 else self.path

    def to_json(self) -> dict[str, Any]:
        """Return a CloudFormation-style change detail (with BeforeValue and AfterValue)."""
        dynamic = self.change_source in (RESOURCE_REFERENCE, RESOURCE_ATTRIBUTE)
        detail: dict[str, Any] = {
            "Target": {
                "Attribute": "Properties",
                "Name": self.name,
                "Path": self.path,
                "RequiresRecreation": self.requires_recreation,
                "BeforeValue": plain(self.before),
                "AfterValue": plain(self.after),
            },
            "Evaluation": "Dynamic" if dynamic else "Static",
            "ChangeSource": self.change_source,
        }
        if self.causing_entity:
            detail["CausingEntity"] = self.causing_entity
        if self.reason:
            detail["Reason"] = self.reason
        return detail


@dataclass(frozen=True)
class ResourceChange:
    """What happens to one resource.

    Attributes:
        logical_id: The resource's logical id.
        resource_type: Its (new) type.
        action: ``Add``, ``Modify``, ``Replace``, ``Remove`` or ``NoChange``.
        physical_id: Its current physical id, or None when it does not exist yet.
        replacement: ``True``, ``False`` or ``Conditional`` for Modify/Replace, else None.
        details: The changed properties.
        reason: A summary (``type changed``, ``drifted``, ``DeletionPolicy Retain``...), or None.
        policy_action: For ``Remove``: ``Delete`` or ``Retain``; else None.
        previous_type: The recorded type when it differs from ``resource_type``.
    """

    logical_id: str
    resource_type: str
    action: str
    physical_id: str | None = None
    replacement: str | None = None
    details: tuple[PropertyChange, ...] = ()
    reason: str | None = None
    policy_action: str | None = None
    previous_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return a CloudFormation-style ``ResourceChange`` (see the module docstring)."""
        action = MODIFY if self.action == REPLACE else self.action
        body: dict[str, Any] = {
            "Action": action,
            "ChangeType": self.action,
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
        }
        if self.physical_id is not None:
            body["PhysicalResourceId"] = self.physical_id
        if self.replacement is not None:
            body["Replacement"] = self.replacement
        if self.details:
            body["Scope"] = ["Properties"]
            body["Details"] = [detail.to_json() for detail in self.details]
        if self.reason:
            body["Reason"] = self.reason
        if self.policy_action:
            body["PolicyAction"] = self.policy_action
        if self.previous_type:
            body["PreviousResourceType"] = self.previous_type
        return {"Type": "Resource", "ResourceChange": body}


@dataclass(frozen=True)
class ChangeSet:
    """Every change applying a template would make to a stack.

    Attributes:
        stack_name: The stack.
        changes: One entry per resource: template resources in creation order, then removals.
        stack_id: The stack's id, or None when the stack does not exist yet.
        stack_version: The stack's version the plan was made against (0: no stack).
        change_set_id: Its id once saved, else None.
        parameters: Parameter values, NoEcho ones masked.
        description: The template's Description.
        status: ``CREATE_COMPLETE`` when saved, ``EXECUTE_COMPLETE`` once applied...
    """

    stack_name: str
    changes: tuple[ResourceChange, ...]
    stack_id: str | None = None
    stack_version: int = 0
    change_set_id: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    status: str = "CREATE_COMPLETE"

    @property
    def has_changes(self) -> bool:
        """True when any resource is added, modified, replaced or removed."""
        return any(change.action != NO_CHANGE for change in self.changes)

    def change(self, logical_id: str) -> ResourceChange:
        """Return the change of one resource (KeyError if it is not in the set)."""
        for change in self.changes:
            if change.logical_id == logical_id:
                return change
        raise KeyError(logical_id)

    def counts(self) -> dict[str, int]:
        """Return the number of resources per action (every action present, maybe 0)."""
        result = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            result[change.action] += 1
        return result

    def to_json(self) -> dict[str, Any]:
        """Return the change set as CloudFormation's DescribeChangeSet shape (plus extras)."""
        body: dict[str, Any] = {
            "StackName": self.stack_name,
            "Status": self.status,
            "Parameters": [
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in self.parameters.items()
            ],
            "Changes": [change.to_json() for change in self.changes],
            "Summary": self.counts(),
        }
        if self.change_set_id:
            body["ChangeSetId"] = self.change_set_id
        if self.stack_id:
            body["StackId"] = self.stack_id
        body["StackVersion"] = self.stack_version
        if self.description:
            body["Description"] = self.description
        return body
