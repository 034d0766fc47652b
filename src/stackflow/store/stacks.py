"""Persistence of stacks: the records and the :class:`StackStore` interface.

A stack store keeps, per stack, its record (template, parameters, outputs, status, lock), its
resources, its events, the change sets made for it, the intent log of its operations, and the
exports it publishes and imports. Each :class:`~stackflow.store.base.Store` gives one through
``store.stacks``; the memory and SQLite backends implement it.

Times are floats (epoch seconds) passed in by the caller; the store reads no clock. JSON values
(parameters, outputs, properties...) go through a JSON round trip, so what is read back is a fresh
tree of dicts, lists and scalars (tuples come back as lists).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from stackflow.errors import StackNotFoundError

__all__ = [
    "UPDATABLE_FIELDS",
    "ChangeSetRecord",
    "IntentRecord",
    "StackEvent",
    "StackRecord",
    "StackResourceRecord",
    "StackStore",
    "check_update_fields",
    "export_conflict_message",
]


@dataclass(frozen=True)
class StackRecord:
    """One stack, as stored.

    Attributes:
        stack_id: Unique id (never reused).
        name: Stack name, unique among live (not deleted) stacks.
        status: CloudFormation stack status, e.g. ``CREATE_COMPLETE``.
        status_reason: Why the stack is in this status, or None.
        template: The template text last applied (or attempted).
        template_file: Path of the template file, or None when given as text.
        parameters: Raw parameter values as given (NoEcho values are stored; masked on output).
        no_echo: Names of the NoEcho parameters.
        outputs: ``{name: {"Value": ..., "Description": ..., "ExportName": ...}}``.
        description: The template's Description, or None.
        created_at: Creation time (epoch seconds).
        updated_at: Time of the last update (epoch seconds).
        version: Bumped by every :meth:`StackStore.update_stack`; change sets record it.
        operation_id: The running (or last) operation, or None.
        lock_owner: Who holds the stack's lock, or None.
        lock_expires: When the lock's lease ends (epoch seconds), or None.
        deleted: True once the stack is deleted (its name may then be reused).
    """

    stack_id: str
    name: str
    status: str
    status_reason: str | None
    template: str
    template_file: str | None
    parameters: dict[str, str]
    no_echo: frozenset[str]
    outputs: dict[str, Any]
    description: str | None
    created_at: float
    updated_at: float
    version: int
    operation_id: str | None = None
    lock_owner: str | None = None
    lock_expires: float | None = None
    deleted: bool = False


@dataclass(frozen=True)
class StackResourceRecord:
    """One resource of a stack, as last recorded.

    Attributes:
        stack_id: The stack.
        logical_id: The resource's logical id in the template.
        type: Resource type, e.g. ``Stackflow::Workflow``.
        physical_id: The provider's id of the resource, or None before it exists.
        status: CloudFormation resource status, e.g. ``CREATE_COMPLETE``.
        status_reason: Why the resource is in this status, or None.
        properties: The resolved properties last applied.
        attributes: The attributes (GetAtt values) the provider returned.
        depends_on: Logical ids this resource depended on when applied.
        deletion_policy: DeletionPolicy, or None.
        update_replace_policy: UpdateReplacePolicy, or None.
        updated_at: Time of the last change (epoch seconds).
    """

    stack_id: str
    logical_id: str
    type: str
    physical_id: str | None
    status: str
    status_reason: str | None
    properties: dict[str, Any]
    attributes: dict[str, Any]
    depends_on: list[str]
    deletion_policy: str | None
    update_replace_policy: str | None
    updated_at: float


@dataclass(frozen=True)
class StackEvent:
    """One event of a stack (a resource or the stack itself changed status).

    Attributes:
        stack_id: The stack.
        seq: Assigned by the store: 1, 2, 3... per stack, in the order events were added.
        timestamp: When it happened (epoch seconds).
        logical_id: The resource's logical id (the stack name for stack events).
        physical_id: The physical id, or None.
        resource_type: The resource type (``AWS::CloudFormation::Stack`` for the stack).
        status: The new status.
        reason: Why, or None. Never contains NoEcho values.
        operation_id: The operation that produced the event, or None.
    """

    stack_id: str
    seq: int
    timestamp: float
    logical_id: str
    physical_id: str | None
    resource_type: str
    status: str
    reason: str | None
    operation_id: str | None


@dataclass(frozen=True)
class ChangeSetRecord:
    """A saved change set: what applying a template to a stack would change.

    Attributes:
        change_set_id: Unique id.
        stack_name: The stack it is for.
        stack_version: The stack's version when it was made (0: the stack did not exist).
        created_at: When it was made (epoch seconds).
        template: The template text.
        template_file: The template's path, or None.
        parameters: Raw parameter values.
        changes: The changes (JSON, the change set's ``to_json()``).
        status: E.g. ``CREATE_COMPLETE``, ``EXECUTE_COMPLETE``, ``OBSOLETE``.
    """

    change_set_id: str
    stack_name: str
    stack_version: int
    created_at: float
    template: str
    template_file: str | None
    parameters: dict[str, str]
    changes: dict[str, Any]
    status: str


@dataclass(frozen=True)
class IntentRecord:
    """One step of a stack operation's intent log (written before the provider is called).

    Attributes:
        operation_id: The operation.
        seq: Position of the step in the operation.
        logical_id: The resource.
        action: ``CREATE``, ``UPDATE``, ``DELETE`` or ``REPLACE``.
        state: ``PENDING``, ``DONE``, ``FAILED`` or ``UNDONE``.
        physical_id_hint: The physical id a create may use, stable across retries.
        request_token: The idempotency token of the action.
        data: Desired and previous properties, attributes, physical ids...
        updated_at: Time of the last change (epoch seconds).
    """

    operation_id: str
    seq: int
    logical_id: str
    action: str
    state: str
    physical_id_hint: str
    request_token: str
    data: dict[str, Any]
    updated_at: float


#: The :class:`StackRecord` fields :meth:`StackStore.update_stack` may change.
UPDATABLE_FIELDS = frozenset(f.name for f in fields(StackRecord)) - {"stack_id", "version"}


def check_update_fields(changes: Mapping[str, Any]) -> None:
    """Check that ``changes`` names only fields :meth:`StackStore.update_stack` may change.

    Args:
        changes: Field name to new value.

    Raises:
        TypeError: A name is not a :class:`StackRecord` field, or is ``stack_id`` or ``version``.
    """
    unknown = sorted(set(changes) - UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(
            f"update_stack() got unexpected field(s) {', '.join(unknown)};"
            f" allowed: {', '.join(sorted(UPDATABLE_FIELDS))}"
        )


def export_conflict_message(export_name: str, stack_id: str, stack_name: str) -> str:
    """Return the message of the conflict when another stack already exports ``export_name``.

    Args:
        export_name: The export name.
        stack_id: Id of the stack that exports it.
        stack_name: Name of that stack.

    Returns:
        A message naming the export and the stack.
    """
    return f"export {export_name!r} is already exported by stack {stack_name!r} ({stack_id})"


class StackStore(ABC):
    """Persistence of stacks (memory and SQLite backends). Thread-safe."""

    # ---------------------------------------------------------------- stacks

    @abstractmethod
    def create_stack(self, record: StackRecord) -> StackRecord:
        """Record a new stack and return it as stored.

        Raises:
            ConflictError: A live stack has the same name, or a stack has the same id.
        """

    def get_stack(self, name_or_id: str) -> StackRecord:
        """Return a stack: any stack by id, or the live stack with this name.

        Raises:
            StackNotFoundError: No such stack.
        """
        found = self.find_stack(name_or_id)
        if found is None:
            raise StackNotFoundError(f"stack {name_or_id!r} does not exist")
        return found

    @abstractmethod
    def find_stack(self, name_or_id: str) -> StackRecord | None:
        """Return a stack like :meth:`get_stack`, or None when there is none."""

    @abstractmethod
    def list_stacks(self, *, include_deleted: bool = False) -> list[StackRecord]:
        """Return the live stacks (and the deleted ones if asked), by name then creation time."""

    @abstractmethod
    def update_stack(
        self, stack_id: str, *, expected_version: int | None = None, **fields: Any
    ) -> StackRecord:
        """Change some fields of a stack, bump its version, and return the new record.

        Args:
            stack_id: The stack.
            expected_version: When given, update only if the stack's version is this one
                (compare-and-set).
            **fields: :class:`StackRecord` field names (not ``stack_id`` or ``version``) to
                their new values.

        Raises:
            TypeError: A field name is unknown (nothing is written).
            StackNotFoundError: No stack has this id.
            ConflictError: The version is not ``expected_version``, or the new name belongs to
                another live stack.
        """

    # ---------------------------------------------------------------- lock

    @abstractmethod
    def acquire_lock(
        self,
        stack_id: str,
        owner: str,
        lease_seconds: float,
        now: float,
        *,
        break_if: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take the stack's lock for ``owner`` until ``now + lease_seconds`` (atomically).

        The lock is taken when it is free, expired (``lock_expires <= now``), already held by
        ``owner`` (the lease is renewed), or ``break_if(current_owner)`` returns True (e.g. the
        owner is a dead local process). Taking the lock does not bump the stack's version.

        Returns:
            True when ``owner`` now holds the lock, False when someone else does.

        Raises:
            StackNotFoundError: No stack has this id.
        """

    @abstractmethod
    def renew_lock(self, stack_id: str, owner: str, lease_seconds: float, now: float) -> bool:
        """Extend ``owner``'s lock to ``now + lease_seconds``.

        Returns:
            True when renewed; False when ``owner`` does not hold the lock (someone else does,
            or nobody).

        Raises:
            StackNotFoundError: No stack has this id.
        """

    @abstractmethod
    def release_lock(self, stack_id: str, owner: str) -> None:
        """Release the lock if ``owner`` holds it (another owner's lock is left alone).

        Raises:
            StackNotFoundError: No stack has this id.
        """

    # ---------------------------------------------------------------- resources

    @abstractmethod
    def put_resource(self, record: StackResourceRecord) -> None:
        """Insert or replace the resource ``(record.stack_id, record.logical_id)``."""

    @abstractmethod
    def delete_resource(self, stack_id: str, logical_id: str) -> None:
        """Forget a resource of a stack (no error when it is not recorded)."""

    @abstractmethod
    def list_resources(self, stack_id: str) -> list[StackResourceRecord]:
        """Return the stack's resources in the order they were first recorded."""

    # ---------------------------------------------------------------- events

    @abstractmethod
    def add_events(self, events: Sequence[StackEvent]) -> list[StackEvent]:
        """Record events (their ``seq`` is ignored) and return them with the assigned ``seq``.

        Each stack's events are numbered 1, 2, 3... in the order they are added.
        """

    @abstractmethod
    def list_events(
        self, stack_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StackEvent]:
        """Return the stack's events with ``seq > after``, oldest first, at most ``limit``."""

    # ---------------------------------------------------------------- change sets

    @abstractmethod
    def save_change_set(self, record: ChangeSetRecord) -> None:
        """Insert or replace a change set (by id)."""

    @abstractmethod
    def get_change_set(self, change_set_id: str) -> ChangeSetRecord:
        """Return one change set.

        Raises:
            NotFoundError: No such change set.
        """

    @abstractmethod
    def list_change_sets(self, stack_name: str) -> list[ChangeSetRecord]:
        """Return the change sets made for ``stack_name``, oldest first."""

    @abstractmethod
    def update_change_set_status(self, change_set_id: str, status: str) -> None:
        """Set a change set's status.

        Raises:
            NotFoundError: No such change set.
        """

    # ---------------------------------------------------------------- intents

    @abstractmethod
    def put_intent(self, record: IntentRecord) -> None:
        """Insert or replace the intent ``(record.operation_id, record.seq)``."""

    @abstractmethod
    def list_intents(self, operation_id: str) -> list[IntentRecord]:
        """Return the operation's intents by ``seq``."""

    # ---------------------------------------------------------------- exports and imports

    @abstractmethod
    def set_exports(self, stack_id: str, exports: Mapping[str, Any]) -> None:
        """Replace the stack's exports with ``exports`` (export name to value; ``{}``: none).

        Exports left behind by deleted stacks are dropped.

        Raises:
            ConflictError: Another live stack exports one of the names (the message names the
                export and that stack); nothing is changed.
        """

    @abstractmethod
    def get_exports(self) -> dict[str, tuple[str, Any]]:
        """Return every export of the live stacks: name to ``(stack_id, value)``."""

    @abstractmethod
    def set_imports(self, stack_id: str, names: Iterable[str]) -> None:
        """Replace the export names the stack imports (Fn::ImportValue)."""

    @abstractmethod
    def importers(self, export_name: str) -> list[str]:
        """Return the ids of the live stacks importing ``export_name``, sorted."""
