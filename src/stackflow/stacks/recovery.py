"""Crash recovery: finish or roll back an operation whose owner died mid-way.

The stack's status says which phase was interrupted and its ``operation_id`` names the intent
log. ``CREATE``/``UPDATE`` (and their rollbacks) are rolled back: what the operation created is
deleted (a ``PENDING`` create is first read back from the provider), what it updated is restored.
An interrupted cleanup phase is finished (the update had succeeded), and an interrupted delete
is finished.
"""

from __future__ import annotations

from stackflow.stacks import status as st
from stackflow.stacks.apply import run_cleanup
from stackflow.stacks.delete import run_delete
from stackflow.stacks.operation import Operation
from stackflow.stacks.results import StackResult
from stackflow.stacks.rollback import header_of, roll_back, set_status


def recover_operation(op: Operation) -> StackResult:
    """Finish or roll back the interrupted operation ``op.operation_id`` of ``op.stack``.

    The caller holds the stack's lock (taken from the dead owner).

    Returns:
        The result, with the stack's final status.
    """
    stack = op.stack
    status = stack.status
    reason = "The operation was interrupted (its process stopped); recovering"
    intents = op.store.list_intents(op.operation_id)
    header = header_of(intents)
    if status == st.DELETE_IN_PROGRESS:
        return run_delete(op)
    if status == st.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS:
        if header is not None:
            run_cleanup(op, list(header.data.get("cleanup") or []))
            op.finish_intent(header, "DONE", outcome=st.UPDATE_COMPLETE)
        set_status(op, st.UPDATE_COMPLETE, None)
        return StackResult(stack.name, stack.stack_id, st.UPDATE_COMPLETE, None, op.operation_id)
    if status in (st.CREATE_IN_PROGRESS, st.ROLLBACK_IN_PROGRESS) or (
        header is not None and header.data.get("kind") == "CREATE"
    ):
        kind = "CREATE"
    else:
        kind = "UPDATE"
    final, failures = roll_back(op, kind, reason)
    return StackResult(
        stack.name,
        stack.stack_id,
        final,
        reason,
        op.operation_id,
        rollback_failures=tuple(failures),
    )
