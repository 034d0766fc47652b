"""The stack service: plan, apply, delete, describe, drift and recover stacks (``Engine.stacks``).

It wires the store, the provider registry, the clock and the pseudo parameters together, takes
each stack's lock for an operation (breaking a dead local owner's lock), recovers an operation
that was interrupted before starting another, and keeps change sets.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from stackflow.clock import Clock, SystemClock
from stackflow.errors import (
    ChangeSetStaleError,
    ConflictError,
    StackError,
    StackLockedError,
    StackNotFoundError,
)
from stackflow.providers import ProviderRegistry, WorkflowDeployer, default_registry
from stackflow.stacks import status as st
from stackflow.stacks.apply import ApplyRequest, run_apply
from stackflow.stacks.change_sets import (
    check_not_stale,
    executable_change_set,
    record_apply,
    save_plan,
)
from stackflow.stacks.changes import MASK, ChangeSet, mask_secrets
from stackflow.stacks.delete import check_not_imported, run_delete
from stackflow.stacks.drift import detect_drift, observe_all
from stackflow.stacks.events import EventCallback, EventSink
from stackflow.stacks.inputs import (
    TemplateSource,
    check_properties,
    check_types,
    new_stack_id,
    output_values,
    parameter_text,
    read_template,
    secret_values,
    stored_secrets,
)
from stackflow.stacks.locks import DEFAULT_LEASE_SECONDS, StackLock, new_owner_id
from stackflow.stacks.operation import Operation, Services
from stackflow.stacks.planner import plan_changes
from stackflow.stacks.recovery import recover_operation
from stackflow.stacks.results import DriftReport, ResourceSummary, StackDescription, StackResult
from stackflow.store.stacks import (
    ChangeSetRecord,
    StackEvent,
    StackRecord,
    StackResourceRecord,
    StackStore,
)
from stackflow.template import (
    LoadedTemplate,
    PreparedTemplate,
    PseudoParameters,
    load_template,
)


class StackService:
    """Stacks: CloudFormation-language templates applied to local resources.

    Args:
        store: The stack store (``store.stacks``).
        registry: Resource providers (default: :func:`~stackflow.providers.default_registry`).
        clock: Timestamps of records and events (leases use real time).
        home: The stackflow home handed to providers (default: ``$STACKFLOW_HOME`` or
            ``~/.stackflow``).
        workflows: Deploys ``Stackflow::Workflow`` resources (the engine).
        lease_seconds: Stack lock lease, renewed by a heartbeat every third of it.
        region: ``AWS::Region``.
        account_id: ``AWS::AccountId``.
        availability_zones: ``Fn::GetAZs`` zones by region.
        resource_timeout: Default time limit of one resource action (None: none).
        sleep: How handlers wait between IN_PROGRESS calls (injectable for tests).
        root_store: The whole store (``Store``), for providers with state of their own
            (``Local::Service``, schedules).
    """

    def __init__(
        self,
        store: StackStore,
        registry: ProviderRegistry | None = None,
        *,
        clock: Clock | None = None,
        home: str | Path | None = None,
        workflows: WorkflowDeployer | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        region: str = "local",
        account_id: str = "000000000000",
        availability_zones: Mapping[str, list[str]] | None = None,
        resource_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        root_store: Any = None,
    ) -> None:
        if home is None:
            home = os.environ.get("STACKFLOW_HOME") or Path.home() / ".stackflow"
        self.store = store
        self.registry = registry if registry is not None else default_registry()
        self.clock: Clock = clock or SystemClock()
        self.region = region
        self.account_id = account_id
        self.availability_zones = dict(availability_zones or {region: [f"{region}a"]})
        self.services = Services(
            store=store,
            registry=self.registry,
            clock=self.clock,
            home=Path(home),
            workflows=workflows,
            stacks=self,
            lease_seconds=lease_seconds,
            sleep=sleep,
            resource_timeout=resource_timeout,
            root_store=root_store,
        )

    # ------------------------------------------------------------------ planning

    def plan(
        self,
        template: TemplateSource,
        stack: str,
        parameters: Mapping[str, str] | None = None,
        *,
        save: bool = False,
    ) -> ChangeSet:
        """Compute what applying ``template`` to ``stack`` would change (nothing is changed).

        Args:
            template: A template file path, or the template text.
            stack: The stack name (it may not exist yet).
            parameters: Parameter values; for an existing stack, parameters not given keep
                their previous values.
            save: Store the change set; its ``change_set_id`` is then set, for
                ``apply(..., change_set_id=...)``.

        Returns:
            The change set (NoEcho values and write-only properties masked).

        Raises:
            TemplateError: The template or a parameter value is invalid (every problem listed).
        """
        text, file = read_template(template)
        existing = self.store.find_stack(stack)
        version = existing.version if existing is not None else 0
        fresh = existing is not None and existing.status in st.NEEDS_FRESH_CREATE
        existing_for_plan = None if fresh else existing
        prepared, effective, _, _ = self._prepare(text, file, parameters, stack, existing_for_plan)
        changes, _ = self._changes(prepared, existing_for_plan, version, stack)
        if not save:
            return changes
        return save_plan(self.store, self.clock, changes, text, file, effective)

    # ------------------------------------------------------------------ apply

    def apply(
        self,
        template: TemplateSource | None,
        stack: str,
        parameters: Mapping[str, str] | None = None,
        *,
        change_set_id: str | None = None,
        parallelism: int = 10,
        rollback: bool = True,
        on_event: EventCallback | None = None,
    ) -> StackResult:
        """Create or update ``stack`` so that it matches ``template``.

        An operation interrupted earlier (its owner died) is recovered first. A stack whose
        first create failed (``ROLLBACK_COMPLETE``) is deleted and created afresh.

        Args:
            template: A template path or text (ignored with ``change_set_id``).
            stack: The stack name.
            parameters: Parameter values (previous values are kept for those not given).
            change_set_id: Execute this saved change set instead (refused with
                :class:`ChangeSetStaleError` if the stack changed since it was made).
            parallelism: How many resources may be worked on at once.
            rollback: Roll back on failure; False leaves ``CREATE_FAILED``/``UPDATE_FAILED``.
            on_event: Called with each :class:`StackEvent` as it is recorded.

        Returns:
            The result (check ``ok``; ``root_causes`` lists the failures).

        Raises:
            TemplateError: Invalid template or parameters (nothing is changed).
            StackLockedError: Another live process is operating on the stack.
            ChangeSetStaleError: The change set is out of date.
        """
        change_set: ChangeSetRecord | None = None
        if change_set_id is not None:
            change_set = executable_change_set(self.store, change_set_id, stack)
            text, file = change_set.template, change_set.template_file
            parameters = change_set.parameters
        else:
            if template is None:
                raise StackError("apply needs a template or a change set id")
            text, file = read_template(template)
        existing = self._settle(stack)
        if change_set is not None:
            check_not_stale(change_set, stack, existing)
        if existing is not None and existing.status in st.NEEDS_FRESH_CREATE:
            self._delete_remains(existing, on_event)
            existing = None
        prepared, effective, no_echo, new_id = self._prepare(
            text, file, parameters, stack, existing
        )
        secrets = secret_values(prepared)
        version = existing.version if existing is not None else 0
        changes, observed = self._changes(prepared, existing, version, stack)
        if (
            existing is not None
            and not changes.has_changes
            and existing.template == text
            and existing.parameters == effective
            and existing.status
            in (st.CREATE_COMPLETE, st.UPDATE_COMPLETE, st.UPDATE_ROLLBACK_COMPLETE)
        ):
            if change_set_id is not None:
                self.store.update_change_set_status(change_set_id, "EXECUTE_COMPLETE")
            return StackResult(
                stack,
                existing.stack_id,
                existing.status,
                "No updates are to be performed.",
                changes=changes,
                outputs=output_values(existing),
                no_op=True,
            )
        fields: dict[str, Any] = {
            "template": text,
            "template_file": file,
            "parameters": dict(effective),
            "no_echo": frozenset(no_echo),
            "description": prepared.description,
        }
        operation_id = f"op-{uuid.uuid4().hex}"
        owner = new_owner_id()
        lease = self.services.lease_seconds
        if existing is None:
            stack_id = new_id
            now = self.clock.now()
            record = StackRecord(
                stack_id=stack_id,
                name=stack,
                status=st.CREATE_IN_PROGRESS,
                status_reason="User Initiated",
                outputs={},
                created_at=now,
                updated_at=now,
                version=1,
                operation_id=operation_id,
                lock_owner=owner,
                lock_expires=time.time() + lease,
                **fields,
            )
            try:
                stored = self.store.create_stack(record)
            except ConflictError:
                raise StackLockedError(
                    f"stack {stack!r} is being created by another process"
                ) from None
            lock = StackLock(self.store, stack_id, owner, lease)
            lock.start_heartbeat()
        else:
            lock = StackLock(self.store, existing.stack_id, owner, lease)
            lock.acquire(stack)
            try:
                stored = self.store.update_stack(
                    existing.stack_id, expected_version=existing.version, operation_id=operation_id
                )
            except ConflictError:
                lock.release()
                if change_set_id is not None:
                    raise ChangeSetStaleError(
                        f"stack {stack!r} changed since change set {change_set_id} was made"
                    ) from None
                raise StackLockedError(f"stack {stack!r} changed while locking it") from None
        try:
            executed = change_set_id or record_apply(
                self.store, self.clock, stored, changes, text, file, effective, no_echo
            )
            op = self._operation(stored, operation_id, file, secrets, on_event, lock)
            result = run_apply(
                op,
                ApplyRequest(
                    prepared=prepared,
                    changes=changes,
                    observed=observed,
                    creating=existing is None,
                    parallelism=parallelism,
                    rollback=rollback,
                    stack_fields=fields if existing is not None else {},
                ),
            )
        finally:
            lock.release()
        self.store.update_change_set_status(
            executed, "EXECUTE_COMPLETE" if result.ok else "EXECUTE_FAILED"
        )
        return result

    # ------------------------------------------------------------------ delete

    def delete(
        self, stack: str, *, on_event: EventCallback | None = None, parallelism: int = 10
    ) -> StackResult:
        """Delete a stack's resources (dependents first, Retain kept) and the stack.

        Raises:
            StackNotFoundError: No such stack.
            StackError: Another stack imports one of its exports.
            StackLockedError: Another live process is operating on it.
        """
        existing = self._settle(stack)
        if existing is None:
            raise StackNotFoundError(f"stack {stack!r} does not exist")
        check_not_imported(self.store, existing.stack_id, stack)
        with self._locked(existing.stack_id, stack) as lock:
            operation_id = f"op-{uuid.uuid4().hex}"
            secrets = stored_secrets(existing)
            op = self._operation(
                existing, operation_id, existing.template_file, secrets, on_event, lock
            )
            return run_delete(op, parallelism=parallelism)

    # ------------------------------------------------------------------ reading

    def describe(self, stack: str) -> StackDescription:
        """Return a stack's status, parameters (NoEcho masked), outputs and resources."""
        record = self.store.get_stack(stack)
        secrets = stored_secrets(record)
        parameters = {
            key: (MASK if key in record.no_echo else value)
            for key, value in record.parameters.items()
        }
        resources = tuple(
            ResourceSummary(
                r.logical_id, r.type, r.physical_id, r.status, r.status_reason, r.updated_at
            )
            for r in self.store.list_resources(record.stack_id)
        )
        return StackDescription(
            name=record.name,
            stack_id=record.stack_id,
            status=record.status,
            status_reason=record.status_reason,
            description=record.description,
            parameters=parameters,
            outputs=mask_secrets(dict(record.outputs), secrets),
            resources=resources,
            created_at=record.created_at,
            updated_at=record.updated_at,
            template_file=record.template_file,
            operation_id=record.operation_id,
            lock_owner=record.lock_owner,
        )

    def list(self, *, include_deleted: bool = False) -> builtins.list[StackRecord]:
        """Return the live stacks (and the deleted ones if asked)."""
        return self.store.list_stacks(include_deleted=include_deleted)

    def events(self, stack: str, *, after: int = 0) -> builtins.list[StackEvent]:
        """Return a stack's events, oldest first (those with ``seq > after``)."""
        record = self.store.get_stack(stack)
        return self.store.list_events(record.stack_id, after=after)

    def outputs(self, stack: str) -> dict[str, Any]:
        """Return a stack's outputs as ``{name: value}``."""
        return output_values(self.store.get_stack(stack))

    def drift(self, stack: str) -> DriftReport:
        """Read every resource's actual state and report per-property differences."""
        record = self.store.get_stack(stack)
        op = self._operation(
            record,
            f"drift-{uuid.uuid4().hex}",
            record.template_file,
            stored_secrets(record),
            None,
            None,
        )
        return detect_drift(op)

    def recover(self, stack: str) -> StackResult | None:
        """Finish or roll back an interrupted operation of ``stack`` (None if there is none).

        Raises:
            StackLockedError: The operation's owner is still alive.
        """
        record = self.store.get_stack(stack)
        if record.status not in st.IN_PROGRESS:
            return None
        return self._recover(record)

    # ------------------------------------------------------------------ internals

    def _operation(
        self,
        stack: StackRecord,
        operation_id: str,
        template_file: str | None,
        secrets: Iterable[str],
        on_event: EventCallback | None,
        lock: StackLock | None,
    ) -> Operation:
        base_dir = Path(template_file).parent if template_file else Path.cwd()
        sink = EventSink(
            self.store, self.clock, stack.stack_id, stack.name, operation_id, secrets, on_event
        )
        return Operation(self.services, stack, operation_id, base_dir, sink, lock)

    @contextlib.contextmanager
    def _locked(self, stack_id: str, name: str) -> Iterator[StackLock]:
        """Hold the stack's lock (as a new owner) for the ``with`` block."""
        lock = StackLock(self.store, stack_id, new_owner_id(), self.services.lease_seconds)
        lock.acquire(name)
        try:
            yield lock
        finally:
            lock.release()

    def _settle(self, stack: str) -> StackRecord | None:
        """Return the live stack after recovering an interrupted operation on it."""
        record = self.store.find_stack(stack)
        if record is not None and record.status in st.IN_PROGRESS:
            self._recover(record)
            record = self.store.find_stack(stack)
        return record

    def _recover(self, record: StackRecord) -> StackResult:
        with self._locked(record.stack_id, record.name) as lock:
            fresh = self.store.get_stack(record.stack_id)
            if fresh.status not in st.IN_PROGRESS:
                return StackResult(fresh.name, fresh.stack_id, fresh.status, fresh.status_reason)
            op = self._operation(
                fresh,
                fresh.operation_id or f"op-{uuid.uuid4().hex}",
                fresh.template_file,
                stored_secrets(fresh),
                None,
                lock,
            )
            return recover_operation(op)

    def _delete_remains(self, record: StackRecord, on_event: EventCallback | None) -> None:
        """Delete what remains of a stack whose first create failed, before a fresh create."""
        with self._locked(record.stack_id, record.name) as lock:
            op = self._operation(
                record,
                f"op-{uuid.uuid4().hex}",
                record.template_file,
                stored_secrets(record),
                on_event,
                lock,
            )
            result = run_delete(op)
        if not result.ok:
            raise StackError(
                f"stack {record.name!r} is {record.status} and what remains of it could not be "
                f"deleted: {result.status_reason}"
            )

    def _prepare(
        self,
        text: str,
        file: str | None,
        parameters: Mapping[str, str] | None,
        stack: str,
        existing: StackRecord | None,
    ) -> tuple[PreparedTemplate, dict[str, str], set[str], str]:
        loaded = load_template(text, file=file)
        declared = loaded.document.get("Parameters")
        names = set(declared) if isinstance(declared, dict) else set()
        given: dict[str, str] = {}
        if existing is not None:  # previous values of the parameters without a Default
            given.update(
                {
                    k: v
                    for k, v in existing.parameters.items()
                    if k in names and not _has_default(declared, k)
                }
            )
        given.update({k: str(v) for k, v in (parameters or {}).items()})
        stack_id = (
            existing.stack_id
            if existing is not None
            else new_stack_id(stack, self.region, self.account_id)
        )
        prepared = self._prepare_loaded(loaded, given, stack, stack_id)
        no_echo = {name for name, value in prepared.parameters.items() if value.no_echo}
        effective = {name: parameter_text(p.value) for name, p in prepared.parameters.items()}
        return prepared, effective, no_echo, stack_id

    def _prepare_loaded(
        self, loaded: LoadedTemplate, parameters: dict[str, str], stack: str, stack_id: str
    ) -> PreparedTemplate:
        from stackflow.template import prepare_template

        pseudo = PseudoParameters(
            stack_name=stack,
            stack_id=stack_id,
            region=self.region,
            account_id=self.account_id,
            availability_zones=self.availability_zones,
        )
        imports = {name: value for name, (_, value) in self.store.get_exports().items()}
        prepared = prepare_template(
            loaded, parameters, pseudo, imports=imports, attribute_names=self._attribute_names
        )
        check_types(prepared, self.registry)
        return prepared

    def _attribute_names(self, resource_type: str) -> frozenset[str] | None:
        provider = self.registry.find(resource_type)
        return provider.attribute_names() if provider is not None else None

    def _changes(
        self, prepared: PreparedTemplate, existing: StackRecord | None, version: int, stack: str
    ) -> tuple[ChangeSet, dict[str, dict[str, Any] | None]]:
        """Plan the changes, reading the actual state of the recorded resources first (drift).

        Returns:
            The change set and the observed properties by logical id.
        """
        records = (
            {r.logical_id: r for r in self.store.list_resources(existing.stack_id)}
            if existing is not None
            else {}
        )
        secrets = secret_values(prepared)
        observed = (
            self._observe(existing, prepared, secrets, records.values())
            if existing is not None
            else {}
        )
        resolved: dict[str, dict[str, Any]] = {}
        changes = plan_changes(
            prepared,
            records,
            self.registry.find,
            stack_name=stack,
            stack_id=existing.stack_id if existing is not None else None,
            stack_version=version,
            observed=observed,
            secrets=secrets,
            resolved_out=resolved,
        )
        check_properties(prepared, resolved, self.registry)
        return changes, observed

    def _observe(
        self,
        existing: StackRecord,
        prepared: PreparedTemplate,
        secrets: builtins.list[str],
        recorded: Iterable[StackResourceRecord],
    ) -> dict[str, dict[str, Any] | None]:
        """Read the actual state of the recorded resources still in the template (drift)."""
        records = [
            r
            for r in recorded
            if r.logical_id in prepared.resources
            and r.physical_id is not None
            and r.type == prepared.resources[r.logical_id].type
        ]
        if not records:
            return {}
        op = self._operation(
            existing, f"read-{uuid.uuid4().hex}", existing.template_file, secrets, None, None
        )
        return observe_all(op, records)


def _has_default(declared: Any, name: str) -> bool:
    spec = declared.get(name) if isinstance(declared, dict) else None
    return isinstance(spec, dict) and "Default" in spec
