"""Apply: create or update a stack's resources in dependency order, in parallel, with rollback.

The forward walk (:class:`~stackflow.graph.walk.Walk`) starts every resource whose dependencies
succeeded on a thread pool. Each resource is resolved with the real values of the resources
before it and compared with its record (:func:`~stackflow.stacks.planner.diff_resource`): it is
created, updated in place, replaced (the new one created first, the old one deleted in the
cleanup phase), or left alone. A failure skips its dependents while independent branches finish;
then the operation rolls back (unless asked not to). On success the outputs are resolved, the
exports published, and the cleanup phase deletes removed resources and replaced ones (honouring
``DeletionPolicy``/``UpdateReplacePolicy: Retain``).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from stackflow.errors import StackflowError
from stackflow.graph.walk import Walk
from stackflow.providers import HandlerErrorCode
from stackflow.stacks import status as st
from stackflow.stacks.actions import (
    Declared,
    create_resource,
    delete_resource,
    retained_on_delete,
    update_resource,
)
from stackflow.stacks.changes import ADD, MODIFY, NO_CHANGE, REPLACE, ChangeSet, plain
from stackflow.stacks.inputs import output_values
from stackflow.stacks.operation import (
    PHASE_CLEANUP,
    Operation,
    Outcome,
    record_from_json,
    record_to_json,
)
from stackflow.stacks.planner import diff_resource, removal_order
from stackflow.stacks.results import ResourceFailure, StackResult
from stackflow.stacks.rollback import (
    exports_of,
    header_of,
    roll_back,
    set_status,
    stack_snapshot,
    write_header,
)
from stackflow.store.stacks import StackResourceRecord
from stackflow.template import PreparedTemplate


@dataclass
class ApplyRequest:
    """Everything an apply needs besides the operation.

    Attributes:
        prepared: The template prepared for this stack.
        changes: The change set shown to the user (returned in the result).
        observed: Observed properties of existing resources (drift); None value: gone.
        creating: True for the first create of the stack.
        parallelism: How many resources may be worked on at once.
        rollback: Roll back on failure (False leaves CREATE_FAILED / UPDATE_FAILED).
        stack_fields: The new stack fields (template, template_file, parameters, no_echo,
            description) written when the operation starts.
    """

    prepared: PreparedTemplate
    changes: ChangeSet
    observed: dict[str, dict[str, Any] | None]
    creating: bool
    parallelism: int = 10
    rollback: bool = True
    stack_fields: dict[str, Any] = field(default_factory=dict)


class _Forward:
    """The forward walk of one apply."""

    def __init__(self, op: Operation, request: ApplyRequest) -> None:
        self.op = op
        self.request = request
        self.prepared = request.prepared
        self.start_records = dict(op.records)
        self.old: list[tuple[StackResourceRecord, bool]] = []  # (old resource, retain)

    def run(self) -> tuple[list[ResourceFailure], list[str]]:
        prepared = self.prepared
        deps = {
            lid: [d for d in prepared.dependencies.get(lid, ()) if d in prepared.resources]
            for lid in prepared.order
        }
        walk = Walk(deps)
        failures: list[ResourceFailure] = []
        workers = max(1, int(self.request.parallelism))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stack-apply") as pool:
            running: dict[Future[Outcome], str] = {}
            while not walk.done:
                for lid in walk.ready():
                    walk.start(lid)
                    running[pool.submit(self._step, lid)] = lid
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    lid = running.pop(future)
                    outcome = self._outcome(lid, future)
                    if outcome.ok:
                        walk.succeeded(lid)
                        continue
                    walk.failed(lid)
                    if outcome.failure is not None:
                        failures.append(outcome.failure)
        return failures, list(walk.skipped)

    def _outcome(self, lid: str, future: Future[Outcome]) -> Outcome:
        try:
            return future.result()
        except Exception as exc:  # a bug or a store failure: a root cause, not a crash
            declaration = self.prepared.resources[lid]
            reason = self.op.events.mask(f"{type(exc).__name__}: {exc}") or "internal error"
            self.op.events.resource(lid, declaration.type, None, self._failed_status(lid), reason)
            return Outcome(
                False,
                failure=ResourceFailure(
                    lid,
                    declaration.type,
                    self._failed_status(lid),
                    reason,
                    HandlerErrorCode.InternalFailure,
                ),
            )

    def _failed_status(self, lid: str) -> str:
        record = self.start_records.get(lid)
        return st.UPDATE_FAILED if record is not None and record.physical_id else st.CREATE_FAILED

    def _step(self, lid: str) -> Outcome:
        op, prepared = self.op, self.prepared
        declaration = prepared.resources[lid]
        declared = Declared(
            lid,
            declaration.type,
            tuple(sorted(prepared.dependencies.get(lid, ()))),
            declaration.deletion_policy,
            declaration.update_replace_policy,
        )
        record = self.start_records.get(lid)
        try:
            provider = op.provider(declaration.type)
            desired = plain(prepared.resolve_properties(lid, op.values()))
            problems = provider.schema.validate(
                desired, pointer=f"{declaration.pointer}/Properties"
            )
        except (StackflowError, KeyError) as exc:
            return self._fail_early(declared, str(exc))
        if problems:
            return self._fail_early(declared, "; ".join(p.message for p in problems))
        observed = self.request.observed
        change = diff_resource(
            lid,
            declaration.type,
            desired,
            record,
            provider,
            observed=observed.get(lid),
            missing=lid in observed and observed[lid] is None,
        )
        if change.action == ADD:
            return create_resource(op, declared, desired, previous=record)
        if change.action == REPLACE and record is not None:
            outcome = create_resource(op, declared, desired, previous=record, replacing=True)
            if outcome.ok:
                self.old.append((record, self._retain_old(declared, record)))
            return outcome
        if change.action == MODIFY and record is not None:
            outcome = update_resource(op, declared, record, desired)
            if outcome.ok and outcome.old is not None:
                self.old.append((outcome.old, self._retain_old(declared, outcome.old)))
            return outcome
        assert change.action == NO_CHANGE and record is not None
        if (
            record.depends_on != list(declared.depends_on)
            or record.deletion_policy != declared.deletion_policy
            or record.update_replace_policy != declared.update_replace_policy
        ):
            record = dataclasses.replace(
                record,
                depends_on=list(declared.depends_on),
                deletion_policy=declared.deletion_policy,
                update_replace_policy=declared.update_replace_policy,
            )
            op.put_record(record)
        return Outcome(True, record=record)

    @staticmethod
    def _retain_old(declared: Declared, record: StackResourceRecord) -> bool:
        policy = declared.update_replace_policy or record.update_replace_policy
        return policy == "Retain"

    def _fail_early(self, declared: Declared, message: str) -> Outcome:
        """A resource that cannot even be resolved or validated fails without a provider call."""
        status = self._failed_status(declared.logical_id)
        reason = self.op.events.mask(message) or "invalid properties"
        self.op.events.resource(declared.logical_id, declared.resource_type, None, status, reason)
        return Outcome(
            False,
            failure=ResourceFailure(
                declared.logical_id,
                declared.resource_type,
                status,
                reason,
                HandlerErrorCode.InvalidRequest,
            ),
        )


def _failure_reason(failures: list[ResourceFailure], creating: bool) -> str:
    verb = "create" if creating else "update"
    names = ", ".join(f.logical_id for f in failures)
    return f"The following resource(s) failed to {verb}: [{names}]."


def run_apply(op: Operation, request: ApplyRequest) -> StackResult:
    """Carry out a create or update of ``op.stack`` (whose lock ``op`` holds).

    Args:
        op: The operation (stack record, store, events, lock).
        request: The prepared template, the change set and the options.

    Returns:
        The result: final status, root causes first, skipped resources, outputs.
    """
    creating = request.creating
    kind = "CREATE" if creating else "UPDATE"
    previous = None if creating else stack_snapshot(op.store, op.stack.stack_id)
    header = write_header(op, kind, previous)
    set_status(
        op,
        st.CREATE_IN_PROGRESS if creating else st.UPDATE_IN_PROGRESS,
        "User Initiated",
        operation_id=op.operation_id,
        **request.stack_fields,
    )
    forward = _Forward(op, request)
    failures, skipped = forward.run()
    outputs: dict[str, Any] = {}
    if not failures:
        try:
            outputs = _publish_outputs(op, request.prepared)
        except StackflowError as exc:
            failures.append(
                ResourceFailure(
                    op.stack.name,
                    st.STACK_TYPE,
                    st.UPDATE_FAILED if not creating else st.CREATE_FAILED,
                    op.events.mask(str(exc)) or "outputs failed",
                )
            )
    if failures:
        reason = _failure_reason(failures, creating)
        if not request.rollback:
            final = st.CREATE_FAILED if creating else st.UPDATE_FAILED
            set_status(op, final, reason)
            op.finish_intent(header, "FAILED", outcome=final)
            return _result(op, final, reason, failures, skipped, request.changes)
        final, rollback_failures = roll_back(op, kind, reason)
        return _result(
            op, final, reason, failures, skipped, request.changes, tuple(rollback_failures)
        )
    removed = [lid for lid in forward.start_records if lid not in request.prepared.resources]
    cleanup: list[tuple[StackResourceRecord, bool, bool]] = [
        (record, retain, False) for record, retain in forward.old
    ]
    for lid in removal_order(forward.start_records, removed):
        record = forward.start_records[lid]
        cleanup.append((record, retained_on_delete(record.deletion_policy), True))
    if cleanup:
        header = op.finish_intent(
            header,
            "PENDING",
            cleanup=[
                {"record": record_to_json(r), "retain": retain, "forget": forget}
                for r, retain, forget in cleanup
            ],
        )
        if not creating:
            set_status(op, st.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, None, outputs=outputs)
        run_cleanup(op, header.data["cleanup"])
    final = st.CREATE_COMPLETE if creating else st.UPDATE_COMPLETE
    set_status(op, final, None, outputs=outputs)
    op.finish_intent(header, "DONE", outcome=final)
    return _result(op, final, None, [], skipped, request.changes)


def run_cleanup(op: Operation, entries: list[dict[str, Any]]) -> list[ResourceFailure]:
    """Delete (or skip, when retained) the resources listed in a header's cleanup entries.

    Entries already deleted by a DONE cleanup intent of this operation are skipped, so a
    cleanup interrupted by a crash can be finished.

    Returns:
        The failures (they do not fail the update, as in CloudFormation).
    """
    done = {
        (i.logical_id, (i.data.get("previous") or {}).get("physical_id"))
        for i in op.store.list_intents(op.operation_id)
        if i.data.get("phase") == PHASE_CLEANUP and i.state == "DONE"
    }
    failures: list[ResourceFailure] = []
    for entry in entries:
        record = record_from_json(entry["record"])
        if record is None or (record.logical_id, record.physical_id) in done:
            continue
        if entry.get("forget") and op.record(record.logical_id) is None:
            continue
        outcome = delete_resource(
            op,
            record,
            phase=PHASE_CLEANUP,
            forget=bool(entry.get("forget")),
            retain=bool(entry.get("retain")),
        )
        if not outcome.ok and outcome.failure is not None:
            failures.append(outcome.failure)
    return failures


def _publish_outputs(op: Operation, prepared: PreparedTemplate) -> dict[str, Any]:
    """Resolve the outputs, check and set the exports, record the imports."""
    resolved = prepared.resolve_outputs(op.values())
    outputs: dict[str, Any] = {}
    for name, output in resolved.items():
        body: dict[str, Any] = {"Value": plain(output.value)}
        if output.description is not None:
            body["Description"] = output.description
        if output.export_name is not None:
            body["ExportName"] = output.export_name
        outputs[name] = body
    new_exports = exports_of(outputs)
    old_exports = exports_of(op.stack.outputs if op.stack.outputs else {})
    intents = op.store.list_intents(op.operation_id)
    header = header_of(intents)
    if header is not None and header.data.get("previous"):
        old_exports = exports_of(header.data["previous"].get("outputs") or {})
    for name, value in old_exports.items():
        if name in new_exports and new_exports[name] == value:
            continue
        users = [sid for sid in op.store.importers(name) if sid != op.stack.stack_id]
        if users:
            verb = "delete" if name not in new_exports else "update"
            raise StackflowError(
                f"Cannot {verb} export {name} as it is in use by {', '.join(users)}"
            )
    try:
        op.store.set_exports(op.stack.stack_id, new_exports)
    except StackflowError as exc:
        raise StackflowError(str(exc)) from exc
    op.store.set_imports(op.stack.stack_id, sorted(prepared.imports))
    return outputs


def _result(
    op: Operation,
    status: str,
    reason: str | None,
    failures: list[ResourceFailure],
    skipped: list[str],
    changes: ChangeSet | None,
    rollback_failures: tuple[ResourceFailure, ...] = (),
) -> StackResult:
    outputs = output_values(op.stack)
    return StackResult(
        stack_name=op.stack.name,
        stack_id=op.stack.stack_id,
        status=status,
        status_reason=op.events.mask(reason),
        operation_id=op.operation_id,
        root_causes=tuple(failures),
        skipped=tuple(skipped),
        rollback_failures=rollback_failures,
        changes=changes,
        outputs=outputs,
    )
