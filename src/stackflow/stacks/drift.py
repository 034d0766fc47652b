"""Drift detection: compare each resource's actual state (provider ``read``) with its record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stackflow.stacks.changes import MASK, plain
from stackflow.stacks.operation import Operation
from stackflow.stacks.planner import same_value
from stackflow.stacks.results import DriftReport, PropertyDifference, ResourceDrift
from stackflow.store.stacks import StackResourceRecord

IN_SYNC = "IN_SYNC"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
NOT_CHECKED = "NOT_CHECKED"
DRIFTED = "DRIFTED"


def property_differences(
    expected: dict[str, Any], actual: dict[str, Any], write_only: frozenset[str]
) -> list[PropertyDifference]:
    """Compare recorded and observed properties, only on the keys the read returned.

    Args:
        expected: The recorded properties.
        actual: The observed properties.
        write_only: Property names never compared (secrets).

    Returns:
        The differences (AWS's ``ADD``, ``REMOVE``, ``NOT_EQUAL``), by property path.
    """
    differences: list[PropertyDifference] = []
    for name, value in actual.items():
        if name in write_only:
            continue
        path = f"/{name}"
        if name not in expected:
            if value is not None:
                differences.append(PropertyDifference(path, None, value, "ADD"))
            continue
        if value is None and expected[name] is not None:
            differences.append(PropertyDifference(path, expected[name], None, "REMOVE"))
        elif not same_value(expected[name], value):
            differences.append(PropertyDifference(path, expected[name], value, "NOT_EQUAL"))
    return differences


def observe(op: Operation, record: StackResourceRecord) -> tuple[str, Any]:
    """Read one resource: ``("ok", properties)``, ``("gone", None)`` or ``("error", reason)``."""
    if record.physical_id is None:
        return "error", "the resource does not exist"
    request = op.request(
        record.logical_id,
        record.type,
        physical_id=record.physical_id,
        properties=record.properties,
        hint=record.physical_id,
        token=f"read-{record.logical_id}",
        previous=record,
    )
    try:
        found = op.read(request)
    except Exception as exc:
        return "error", op.events.mask(f"{type(exc).__name__}: {exc}")
    if found is None:
        return "gone", None
    return "ok", plain(found.properties)


def observe_all(
    op: Operation, records: list[StackResourceRecord], workers: int = 10
) -> dict[str, dict[str, Any] | None]:
    """Read several resources in parallel: logical id to observed properties (None: gone).

    Resources that could not be read are left out (they are not compared).
    """
    observed: dict[str, dict[str, Any] | None] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stack-read") as pool:
        results = pool.map(lambda r: observe(op, r), records)
        for record, (state, found) in zip(records, results, strict=True):
            if state == "ok":
                observed[record.logical_id] = found
            elif state == "gone":
                observed[record.logical_id] = None
    return observed


def detect_drift(op: Operation) -> DriftReport:
    """Read every resource of ``op.stack`` and report how it differs from its record."""
    drifts: list[ResourceDrift] = []
    secrets = op.events.secrets
    for record in op.store.list_resources(op.stack.stack_id):
        provider = op.services.registry.find(record.type)
        write_only = provider.schema.write_only if provider is not None else frozenset()
        state, found = observe(op, record)
        if state == "error":
            drifts.append(
                ResourceDrift(
                    record.logical_id, record.type, record.physical_id, NOT_CHECKED, reason=found
                )
            )
            continue
        if state == "gone":
            drifts.append(
                ResourceDrift(record.logical_id, record.type, record.physical_id, DELETED)
            )
            continue
        differences = [
            _masked(d, secrets) for d in property_differences(record.properties, found, write_only)
        ]
        status = MODIFIED if differences else IN_SYNC
        drifts.append(
            ResourceDrift(
                record.logical_id, record.type, record.physical_id, status, tuple(differences)
            )
        )
    drifted = any(d.status in (MODIFIED, DELETED) for d in drifts)
    return DriftReport(
        op.stack.name, op.stack.stack_id, DRIFTED if drifted else IN_SYNC, tuple(drifts), op.now()
    )


def _masked(difference: PropertyDifference, secrets: list[str]) -> PropertyDifference:
    from stackflow.stacks.changes import mask_secrets

    if not secrets:
        return difference
    return PropertyDifference(
        difference.path,
        mask_secrets(difference.expected, secrets),
        mask_secrets(difference.actual, secrets),
        difference.difference_type,
    )


__all__ = ["DELETED", "DRIFTED", "IN_SYNC", "MASK", "MODIFIED", "NOT_CHECKED", "detect_drift"]
