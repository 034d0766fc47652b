"""The resource actions of an operation: create, update, delete, each intent-logged.

Each action writes its intent before calling the provider, then the record, an event and the
intent's outcome. :func:`undo_intent` reverses one action of the forward walk (rollback and crash
recovery both use it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from stackflow.providers import HandlerErrorCode, HandlerStatus, ProgressEvent
from stackflow.stacks import status as st
from stackflow.stacks.operation import (
    DONE,
    FAILED,
    PENDING,
    PHASE_APPLY,
    UNDONE,
    Operation,
    Outcome,
    record_from_json,
    record_to_json,
)
from stackflow.stacks.results import ResourceFailure
from stackflow.store.stacks import IntentRecord, StackResourceRecord

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"
REPLACE = "REPLACE"

REPLACING_MESSAGE = (
    "Requested update requires the creation of a new physical resource; hence creating one."
)


@dataclasses.dataclass(frozen=True)
class Declared:
    """What the template says about a resource besides its properties.

    Attributes:
        logical_id: Logical id.
        resource_type: Type.
        depends_on: The ids it depends on (recorded for delete order).
        deletion_policy: DeletionPolicy or None.
        update_replace_policy: UpdateReplacePolicy or None.
    """

    logical_id: str
    resource_type: str
    depends_on: tuple[str, ...] = ()
    deletion_policy: str | None = None
    update_replace_policy: str | None = None


def _failure(
    declared_id: str, resource_type: str, status: str, event: ProgressEvent
) -> ResourceFailure:
    return ResourceFailure(
        declared_id, resource_type, status, event.message or status, event.error_code
    )


def create_resource(
    op: Operation,
    declared: Declared,
    desired: dict[str, Any],
    *,
    previous: StackResourceRecord | None = None,
    replacing: bool = False,
) -> Outcome:
    """Create a resource (or the new resource of a replacement).

    Args:
        op: The operation.
        declared: The resource's declaration.
        desired: Its resolved properties.
        previous: Its record before (a replaced or vanished resource), kept in the intent.
        replacing: True for the new resource of a replacement (events say UPDATE_*).

    Returns:
        The outcome; on success the new record (status CREATE_COMPLETE / UPDATE_COMPLETE).
    """
    lid, rtype = declared.logical_id, declared.resource_type
    intent = op.write_intent(
        lid,
        REPLACE if replacing else CREATE,
        {
            "phase": PHASE_APPLY,
            "type": rtype,
            "desired": desired,
            "previous": record_to_json(previous),
            "deletion_policy": declared.deletion_policy,
        },
    )
    started, done, failed = (
        (st.UPDATE_IN_PROGRESS, st.UPDATE_COMPLETE, st.UPDATE_FAILED)
        if replacing
        else (st.CREATE_IN_PROGRESS, st.CREATE_COMPLETE, st.CREATE_FAILED)
    )
    old_physical = previous.physical_id if previous is not None else None
    op.events.resource(lid, rtype, old_physical, started, REPLACING_MESSAGE if replacing else None)
    request = op.request(
        lid,
        rtype,
        physical_id=None,
        properties=desired,
        hint=intent.physical_id_hint,
        token=intent.request_token,
    )
    event = op.call("create", request, started)
    now = op.now()
    if event.status != HandlerStatus.SUCCESS:
        op.finish_intent(intent, FAILED, error=event.message, code=event.error_code)
        op.events.resource(lid, rtype, None, failed, event.message)
        if previous is not None:
            op.put_record(dataclasses.replace(previous, status=failed, status_reason=event.message))
        else:
            op.put_record(_record(op, declared, None, failed, event.message, desired, {}, now))
        return Outcome(False, failure=_failure(lid, rtype, failed, event))
    physical = event.physical_id or intent.physical_id_hint
    attributes = dict(event.attributes)
    record = _record(op, declared, physical, done, None, desired, attributes, now)
    op.finish_intent(intent, DONE, result={"physical_id": physical, "attributes": attributes})
    op.put_record(record)
    op.events.resource(lid, rtype, physical, done)
    return Outcome(True, record=record)


def update_resource(
    op: Operation, declared: Declared, current: StackResourceRecord, desired: dict[str, Any]
) -> Outcome:
    """Update a resource in place (the provider may still answer with a new physical id).

    Args:
        op: The operation.
        declared: The resource's declaration.
        current: Its record.
        desired: Its new resolved properties.

    Returns:
        The outcome; ``old`` is set when the provider replaced the resource itself.
    """
    lid, rtype = declared.logical_id, declared.resource_type
    intent = op.write_intent(
        lid,
        UPDATE,
        {
            "phase": PHASE_APPLY,
            "type": rtype,
            "desired": desired,
            "previous": record_to_json(current),
        },
    )
    op.events.resource(lid, rtype, current.physical_id, st.UPDATE_IN_PROGRESS)
    request = op.request(
        lid,
        rtype,
        physical_id=current.physical_id,
        properties=desired,
        hint=intent.physical_id_hint,
        token=intent.request_token,
        previous=current,
    )
    event = op.call("update", request, st.UPDATE_IN_PROGRESS)
    now = op.now()
    if event.status != HandlerStatus.SUCCESS:
        op.finish_intent(intent, FAILED, error=event.message, code=event.error_code)
        op.events.resource(lid, rtype, current.physical_id, st.UPDATE_FAILED, event.message)
        op.put_record(
            dataclasses.replace(
                current, status=st.UPDATE_FAILED, status_reason=event.message, updated_at=now
            )
        )
        return Outcome(False, failure=_failure(lid, rtype, st.UPDATE_FAILED, event))
    physical = event.physical_id or current.physical_id
    attributes = dict(event.attributes) if event.attributes else dict(current.attributes)
    record = _record(op, declared, physical, st.UPDATE_COMPLETE, None, desired, attributes, now)
    op.finish_intent(intent, DONE, result={"physical_id": physical, "attributes": attributes})
    op.put_record(record)
    op.events.resource(lid, rtype, physical, st.UPDATE_COMPLETE)
    old = current if physical != current.physical_id else None
    return Outcome(True, record=record, old=old)


def delete_resource(
    op: Operation,
    record: StackResourceRecord,
    *,
    phase: str,
    forget: bool = True,
    retain: bool = False,
) -> Outcome:
    """Delete a resource (or skip it when retained).

    Args:
        op: The operation.
        record: The resource to delete (its physical id, type and last properties).
        phase: ``cleanup`` or ``delete`` (kept in the intent).
        forget: Drop the logical id's record afterwards (False for the old resource of a
            replacement, whose logical id now names the new one).
        retain: Keep the resource (DeletionPolicy/UpdateReplacePolicy Retain): DELETE_SKIPPED.

    Returns:
        The outcome.
    """
    lid, rtype = record.logical_id, record.type
    if retain or record.physical_id is None:
        if retain:
            op.events.resource(lid, rtype, record.physical_id, st.DELETE_SKIPPED, "Retain")
        if forget:
            op.forget_record(lid)
        return Outcome(True)
    intent = op.write_intent(
        lid,
        DELETE,
        {"phase": phase, "type": rtype, "previous": record_to_json(record), "forget": forget},
    )
    return finish_delete(op, intent, record, forget=forget)


def finish_delete(
    op: Operation, intent: IntentRecord, record: StackResourceRecord, *, forget: bool
) -> Outcome:
    """Carry out a written DELETE intent (also used by recovery to finish one)."""
    lid, rtype = record.logical_id, record.type
    op.events.resource(lid, rtype, record.physical_id, st.DELETE_IN_PROGRESS)
    request = op.request(
        lid,
        rtype,
        physical_id=record.physical_id,
        properties=record.properties,
        hint=intent.physical_id_hint,
        token=intent.request_token,
        previous=record,
    )
    event = op.call("delete", request, st.DELETE_IN_PROGRESS)
    if event.status != HandlerStatus.SUCCESS:
        op.finish_intent(intent, FAILED, error=event.message, code=event.error_code)
        op.events.resource(lid, rtype, record.physical_id, st.DELETE_FAILED, event.message)
        if forget:
            op.put_record(
                dataclasses.replace(
                    record,
                    status=st.DELETE_FAILED,
                    status_reason=event.message,
                    updated_at=op.now(),
                )
            )
        return Outcome(False, failure=_failure(lid, rtype, st.DELETE_FAILED, event))
    op.finish_intent(intent, DONE)
    op.events.resource(lid, rtype, record.physical_id, st.DELETE_COMPLETE)
    if forget:
        op.forget_record(lid)
    return Outcome(True)


def _record(
    op: Operation,
    declared: Declared,
    physical: str | None,
    status: str,
    reason: str | None,
    properties: dict[str, Any],
    attributes: dict[str, Any],
    now: float,
) -> StackResourceRecord:
    return StackResourceRecord(
        stack_id=op.stack.stack_id,
        logical_id=declared.logical_id,
        type=declared.resource_type,
        physical_id=physical,
        status=status,
        status_reason=reason,
        properties=properties,
        attributes=attributes,
        depends_on=list(declared.depends_on),
        deletion_policy=declared.deletion_policy,
        update_replace_policy=declared.update_replace_policy,
        updated_at=now,
    )


# ---------------------------------------------------------------------- undo


def created_physical_id(op: Operation, intent: IntentRecord) -> str | None:
    """Return the physical id a CREATE/REPLACE intent produced, reading it if unknown.

    For a ``PENDING`` intent (the process died during the provider call) the provider is asked
    to read the resource under the physical id hint with the desired properties; a provider
    that cannot tell (read fails) is assumed to have created it.
    """
    result = intent.data.get("result") or {}
    if result.get("physical_id"):
        return str(result["physical_id"])
    if intent.state != PENDING:
        return None  # a failed create leaves nothing behind (provider contract)
    request = op.request(
        intent.logical_id,
        str(intent.data.get("type")),
        physical_id=intent.physical_id_hint,
        properties=intent.data.get("desired") or {},
        hint=intent.physical_id_hint,
        token=intent.request_token,
    )
    try:
        found = op.read(request)
    except Exception:
        return intent.physical_id_hint
    return intent.physical_id_hint if found is not None else None


def undo_intent(op: Operation, intent: IntentRecord) -> ResourceFailure | None:
    """Reverse one forward action: delete what it created, update back what it updated.

    The previous record (kept in the intent) is restored. The intent becomes ``UNDONE``.

    Returns:
        None on success, else the failure (the intent is left as it was).
    """
    rtype = str(intent.data.get("type"))
    previous = record_from_json(intent.data.get("previous"))
    lid = intent.logical_id
    if intent.action in (CREATE, REPLACE):
        physical = created_physical_id(op, intent)
        if physical is not None and _kept_on_rollback(intent):
            # AWS: a resource with DeletionPolicy Retain outlives the rollback of its creation
            # (RetainExceptOnCreate is the policy that deletes it).
            op.events.resource(lid, rtype, physical, st.DELETE_SKIPPED, "DeletionPolicy Retain")
            physical = None
        if physical is not None:
            created = StackResourceRecord(
                stack_id=op.stack.stack_id,
                logical_id=lid,
                type=rtype,
                physical_id=physical,
                status=st.CREATE_COMPLETE,
                status_reason=None,
                properties=dict(intent.data.get("desired") or {}),
                attributes=dict((intent.data.get("result") or {}).get("attributes") or {}),
                depends_on=[],
                deletion_policy=None,
                update_replace_policy=None,
                updated_at=op.now(),
            )
            outcome = _undo_delete(op, intent, created)
            if not outcome.ok:
                return outcome.failure
        _restore(op, lid, previous)
    elif intent.action == UPDATE:
        if previous is None:
            return None
        failure = _undo_update(op, intent, previous)
        if failure is not None:
            return failure
        _restore(op, lid, previous)
    op.finish_intent(intent, UNDONE)
    return None


def _kept_on_rollback(intent: IntentRecord) -> bool:
    """Tell whether a created resource is retained when its creation is rolled back."""
    return intent.action == CREATE and intent.data.get("deletion_policy") == "Retain"


def retained_on_delete(policy: str | None) -> bool:
    """Tell whether a DeletionPolicy keeps the resource when it is deleted or removed.

    ``Retain`` and ``RetainExceptOnCreate`` keep it; ``Delete`` and ``Snapshot`` (no snapshots
    of local resources exist) delete it.
    """
    return policy in ("Retain", "RetainExceptOnCreate")


def _undo_delete(op: Operation, intent: IntentRecord, created: StackResourceRecord) -> Outcome:
    lid, rtype = created.logical_id, created.type
    op.events.resource(lid, rtype, created.physical_id, st.DELETE_IN_PROGRESS)
    request = op.request(
        lid,
        rtype,
        physical_id=created.physical_id,
        properties=created.properties,
        hint=intent.physical_id_hint,
        token=intent.request_token + "-undo",
        previous=created,
    )
    event = op.call("delete", request, st.DELETE_IN_PROGRESS)
    if event.status != HandlerStatus.SUCCESS:
        op.events.resource(lid, rtype, created.physical_id, st.DELETE_FAILED, event.message)
        return Outcome(False, failure=_failure(lid, rtype, st.DELETE_FAILED, event))
    op.events.resource(lid, rtype, created.physical_id, st.DELETE_COMPLETE)
    return Outcome(True)


def _undo_update(
    op: Operation, intent: IntentRecord, previous: StackResourceRecord
) -> ResourceFailure | None:
    lid, rtype = intent.logical_id, previous.type
    result = intent.data.get("result") or {}
    new_physical = result.get("physical_id")
    if new_physical and new_physical != previous.physical_id:
        # the provider replaced the resource itself: delete the new one, keep the old
        created = dataclasses.replace(
            previous,
            physical_id=str(new_physical),
            properties=dict(intent.data.get("desired") or {}),
            attributes=dict(result.get("attributes") or {}),
        )
        outcome = _undo_delete(op, intent, created)
        return outcome.failure
    op.events.resource(lid, rtype, previous.physical_id, st.UPDATE_IN_PROGRESS, "rolling back")
    current = op.record(lid)
    request = op.request(
        lid,
        rtype,
        physical_id=previous.physical_id,
        properties=previous.properties,
        hint=intent.physical_id_hint,
        token=intent.request_token + "-undo",
        previous=current
        or dataclasses.replace(previous, properties=dict(intent.data.get("desired") or {})),
    )
    event = op.call("update", request, st.UPDATE_IN_PROGRESS)
    if event.status != HandlerStatus.SUCCESS:
        op.events.resource(lid, rtype, previous.physical_id, st.UPDATE_FAILED, event.message)
        return _failure(lid, rtype, st.UPDATE_FAILED, event)
    op.events.resource(lid, rtype, previous.physical_id, st.UPDATE_COMPLETE)
    return None


def _restore(op: Operation, logical_id: str, previous: StackResourceRecord | None) -> None:
    if previous is None:
        op.forget_record(logical_id)
    else:
        op.put_record(dataclasses.replace(previous, updated_at=op.now()))


def undo_all(op: Operation, intents: Sequence[IntentRecord]) -> list[ResourceFailure]:
    """Undo the forward actions among ``intents``, last first.

    Args:
        op: The operation.
        intents: Its intent log.

    Returns:
        The failures (an intent that could not be undone is left as it was).
    """
    failures: list[ResourceFailure] = []
    todo = [
        i
        for i in intents
        if i.data.get("phase") == PHASE_APPLY
        and i.action in (CREATE, REPLACE, UPDATE)
        and i.state in (PENDING, DONE, FAILED)
    ]
    for intent in sorted(todo, key=lambda i: i.seq, reverse=True):
        try:
            failure = undo_intent(op, intent)
        except Exception as exc:
            failure = ResourceFailure(
                intent.logical_id,
                str(intent.data.get("type")),
                st.DELETE_FAILED if intent.action != UPDATE else st.UPDATE_FAILED,
                op.events.mask(f"{type(exc).__name__}: {exc}") or "rollback failed",
                HandlerErrorCode.InternalFailure,
            )
        if failure is not None:
            failures.append(failure)
    return failures
