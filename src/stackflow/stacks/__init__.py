"""Stacks: plan, apply (with rollback), delete, drift and crash recovery of CloudFormation-language
templates over local resources. :class:`StackService` is the entry point (``Engine.stacks``).
"""

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
from stackflow.stacks.service import StackService

__all__ = [
    "ChangeSet",
    "DriftReport",
    "PropertyChange",
    "PropertyDifference",
    "ResourceChange",
    "ResourceDrift",
    "ResourceFailure",
    "ResourceSummary",
    "StackDescription",
    "StackResult",
    "StackService",
]
