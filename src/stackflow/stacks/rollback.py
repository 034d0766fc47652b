"""Rolling an operation back from its intent log (after a failure, or after a crash)."""

from __future__ import annotations

from typing import Any

from stackflow.stacks import status as st
from stackflow.stacks.actions import undo_all
from stackflow.stacks.operation import PHASE_STACK, Operation
from stackflow.stacks.results import ResourceFailure
from stackflow.store.stacks import IntentRecord, StackStore

#: The header intent of an operation has this seq.
HEADER_SEQ = 0


def stack_snapshot(store: StackStore, stack_id: str) -> dict[str, Any]:
    """Return the stack fields an update may change, to restore them on rollback."""
    stack = store.get_stack(stack_id)
    imports = [name for name in store.get_exports() if stack_id in store.importers(name)]
    return {
        "template": stack.template,
        "template_file": stack.template_file,
        "parameters": dict(stack.parameters),
        "no_echo": sorted(stack.no_echo),
        "outputs": dict(stack.outputs),
        "description": stack.description,
        "status": stack.status,
        "imports": imports,
    }


def write_header(op: Operation, kind: str, previous: dict[str, Any] | None) -> IntentRecord:
    """Write the operation's header intent (seq 0): its kind and the stack's previous fields."""
    return op.write_intent(
        op.stack.name,
        kind,
        {"phase": PHASE_STACK, "kind": kind, "previous": previous, "cleanup": []},
        seq=HEADER_SEQ,
        state="PENDING",
    )


def header_of(intents: list[IntentRecord]) -> IntentRecord | None:
    """Return the header intent of an operation's log, or None."""
    for intent in intents:
        if intent.seq == HEADER_SEQ and intent.data.get("phase") == PHASE_STACK:
            return intent
    return None


def exports_of(outputs: dict[str, Any]) -> dict[str, Any]:
    """Return ``{export name: value}`` from recorded outputs."""
    return {
        str(body["ExportName"]): body.get("Value")
        for body in outputs.values()
        if isinstance(body, dict) and body.get("ExportName")
    }


def set_status(op: Operation, status: str, reason: str | None = None, **fields: Any) -> None:
    """Record a stack status (and other fields) and its stack event."""
    op.stack = op.store.update_stack(
        op.stack.stack_id, status=status, status_reason=op.events.mask(reason), **fields
    )
    op.events.stack(status, reason)


def roll_back(op: Operation, kind: str, reason: str | None) -> tuple[str, list[ResourceFailure]]:
    """Undo the forward actions of the operation and restore the stack's previous fields.

    Args:
        op: The operation (its intent log is read from the store).
        kind: ``CREATE`` or ``UPDATE`` (the header's kind).
        reason: Why (the stack's status reason during the rollback).

    Returns:
        The final status (``ROLLBACK_COMPLETE``/``UPDATE_ROLLBACK_COMPLETE`` or the matching
        ``*_FAILED``) and the rollback failures.
    """
    creating = kind == "CREATE"
    set_status(op, st.ROLLBACK_IN_PROGRESS if creating else st.UPDATE_ROLLBACK_IN_PROGRESS, reason)
    intents = op.store.list_intents(op.operation_id)
    failures = undo_all(op, intents)
    header = header_of(intents)
    previous = (header.data.get("previous") if header is not None else None) or None
    restore: dict[str, Any] = {}
    if creating:
        op.store.set_exports(op.stack.stack_id, {})
        op.store.set_imports(op.stack.stack_id, [])
    elif previous is not None:
        try:
            op.store.set_exports(op.stack.stack_id, exports_of(previous.get("outputs") or {}))
        except Exception as exc:  # another stack took an export meanwhile
            failures.append(
                ResourceFailure(op.stack.name, st.STACK_TYPE, st.UPDATE_FAILED, str(exc))
            )
        op.store.set_imports(op.stack.stack_id, previous.get("imports") or [])
        restore = {
            "template": previous.get("template", op.stack.template),
            "template_file": previous.get("template_file"),
            "parameters": previous.get("parameters") or {},
            "no_echo": frozenset(previous.get("no_echo") or ()),
            "outputs": previous.get("outputs") or {},
            "description": previous.get("description"),
        }
    if failures:
        final = st.ROLLBACK_FAILED if creating else st.UPDATE_ROLLBACK_FAILED
        text = "; ".join(f"{f.logical_id}: {f.reason}" for f in failures)
        set_status(op, final, f"The rollback failed: {text}", **restore)
    else:
        final = st.ROLLBACK_COMPLETE if creating else st.UPDATE_ROLLBACK_COMPLETE
        set_status(op, final, None, **restore)
    if header is not None:
        op.finish_intent(header, "DONE", outcome=final)
    return final, failures
