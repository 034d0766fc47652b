"""Deleting a stack: its resources in reverse dependency order, in parallel, Retain kept."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from stackflow.errors import StackError
from stackflow.graph.walk import Walk
from stackflow.stacks import status as st
from stackflow.stacks.actions import delete_resource, retained_on_delete
from stackflow.stacks.operation import PHASE_DELETE, Operation, Outcome
from stackflow.stacks.results import ResourceFailure, StackResult
from stackflow.stacks.rollback import exports_of, header_of, set_status, write_header
from stackflow.store.stacks import StackStore


def check_not_imported(store: StackStore, stack_id: str, stack_name: str) -> None:
    """Refuse to delete a stack while another stack imports one of its exports.

    Raises:
        StackError: Naming the export and the importing stacks.
    """
    stack = store.get_stack(stack_id)
    for name in exports_of(stack.outputs or {}):
        users = [sid for sid in store.importers(name) if sid != stack_id]
        if users:
            names = []
            for sid in users:
                other = store.find_stack(sid)
                names.append(other.name if other is not None else sid)
            raise StackError(
                f"Cannot delete stack {stack_name!r}: export {name} is in use by {', '.join(names)}"
            )


def run_delete(op: Operation, *, parallelism: int = 10) -> StackResult:
    """Delete every resource of ``op.stack`` (dependents first), then the stack itself.

    Resources with ``DeletionPolicy: Retain`` are kept (event ``DELETE_SKIPPED``). Running it
    again after an interruption finishes the delete.

    Returns:
        ``DELETE_COMPLETE``, or ``DELETE_FAILED`` with the failures as root causes.
    """
    intents = op.store.list_intents(op.operation_id)
    header = header_of(intents) or write_header(op, "DELETE", None)
    set_status(op, st.DELETE_IN_PROGRESS, "User Initiated", operation_id=op.operation_id)
    records = dict(op.records)
    # a resource must be deleted after everything that depends on it
    deps: dict[str, list[str]] = {lid: [] for lid in records}
    for lid, record in records.items():
        for need in record.depends_on:
            if need in deps:
                deps[need].append(lid)
    walk = Walk(deps)
    failures: list[ResourceFailure] = []

    def step(lid: str) -> Outcome:
        record = records[lid]
        return delete_resource(
            op, record, phase=PHASE_DELETE, retain=retained_on_delete(record.deletion_policy)
        )

    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        running: dict[Future[Outcome], str] = {}
        while not walk.done:
            for lid in walk.ready():
                walk.start(lid)
                running[pool.submit(step, lid)] = lid
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                lid = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:
                    outcome = Outcome(
                        False,
                        failure=ResourceFailure(lid, records[lid].type, st.DELETE_FAILED, f"{exc}"),
                    )
                if outcome.ok:
                    walk.succeeded(lid)
                else:
                    walk.failed(lid)
                    if outcome.failure is not None:
                        failures.append(outcome.failure)
    if failures:
        names = ", ".join(f.logical_id for f in failures)
        reason = f"The following resource(s) failed to delete: [{names}]."
        set_status(op, st.DELETE_FAILED, reason)
        op.finish_intent(header, "FAILED", outcome=st.DELETE_FAILED)
        return StackResult(
            op.stack.name,
            op.stack.stack_id,
            st.DELETE_FAILED,
            reason,
            op.operation_id,
            root_causes=tuple(failures),
            skipped=tuple(walk.skipped),
        )
    op.store.set_exports(op.stack.stack_id, {})
    op.store.set_imports(op.stack.stack_id, [])
    for record in op.store.list_resources(op.stack.stack_id):  # retained ones
        op.store.delete_resource(op.stack.stack_id, record.logical_id)
    set_status(op, st.DELETE_COMPLETE, None, deleted=True, lock_owner=None, lock_expires=None)
    op.finish_intent(header, "DONE", outcome=st.DELETE_COMPLETE)
    return StackResult(op.stack.name, op.stack.stack_id, st.DELETE_COMPLETE, None, op.operation_id)
