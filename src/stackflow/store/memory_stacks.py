"""In-memory stack store: dictionaries behind one lock (the reference for the SQLite one)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from stackflow.errors import ConflictError, NotFoundError, StackNotFoundError
from stackflow.store.leases import lease_is_free
from stackflow.store.memory_tables import LockedStore
from stackflow.store.memory_tables import json_copy as _copy
from stackflow.store.stacks import (
    ChangeSetRecord,
    IntentRecord,
    StackEvent,
    StackRecord,
    StackResourceRecord,
    StackStore,
    check_update_fields,
    export_conflict_message,
)

__all__ = ["MemoryStackStore"]


def _stack_copy(record: StackRecord) -> StackRecord:
    return replace(
        record,
        parameters=_copy(record.parameters),
        no_echo=frozenset(record.no_echo),
        outputs=_copy(record.outputs),
        deleted=bool(record.deleted),
    )


def _resource_copy(record: StackResourceRecord) -> StackResourceRecord:
    return replace(
        record,
        properties=_copy(record.properties),
        attributes=_copy(record.attributes),
        depends_on=list(record.depends_on),
    )


def _change_set_copy(record: ChangeSetRecord) -> ChangeSetRecord:
    return replace(record, parameters=_copy(record.parameters), changes=_copy(record.changes))


class MemoryStackStore(LockedStore, StackStore):
    """A thread-safe :class:`StackStore` kept in memory (lost when the process ends).

    Args:
        check_open: Called (under the lock) before every operation; raises
            :class:`~stackflow.errors.StoreError` once the owning store is closed.
    """

    def __init__(self, check_open: Callable[[], None] | None = None) -> None:
        super().__init__(check_open)
        self._stacks: dict[str, StackRecord] = {}
        self._resources: dict[str, dict[str, StackResourceRecord]] = {}
        self._events: dict[str, list[StackEvent]] = {}
        self._change_sets: dict[str, ChangeSetRecord] = {}
        self._intents: dict[str, dict[int, IntentRecord]] = {}
        self._exports: dict[str, tuple[str, Any]] = {}
        self._imports: dict[str, set[str]] = {}

    # -- helpers (call with the lock held) -----------------------------------------------------

    def _live_by_name(self, name: str) -> StackRecord | None:
        for record in self._stacks.values():
            if record.name == name and not record.deleted:
                return record
        return None

    def _find(self, name_or_id: str) -> StackRecord | None:
        return self._stacks.get(name_or_id) or self._live_by_name(name_or_id)

    def _by_id(self, stack_id: str) -> StackRecord:
        record = self._stacks.get(stack_id)
        if record is None:
            raise StackNotFoundError(f"no stack with id {stack_id!r}")
        return record

    def _live(self, stack_id: str) -> bool:
        record = self._stacks.get(stack_id)
        return record is not None and not record.deleted

    # -- stacks --------------------------------------------------------------------------------

    def create_stack(self, record: StackRecord) -> StackRecord:
        """Record a new stack and return it as stored.

        Raises:
            ConflictError: A live stack has the same name, or a stack has the same id.
        """
        stored = _stack_copy(record)
        with self._locked():
            if record.stack_id in self._stacks:
                raise ConflictError(f"a stack with id {record.stack_id!r} already exists")
            if not record.deleted and self._live_by_name(record.name) is not None:
                raise ConflictError(f"a stack named {record.name!r} already exists")
            self._stacks[record.stack_id] = stored
        return _stack_copy(stored)

    def find_stack(self, name_or_id: str) -> StackRecord | None:
        """Return a stack like :meth:`get_stack`, or None when there is none."""
        with self._locked():
            record = self._find(name_or_id)
        return None if record is None else _stack_copy(record)

    def list_stacks(self, *, include_deleted: bool = False) -> list[StackRecord]:
        """Return the live stacks (and the deleted ones if asked), by name then creation time."""
        with self._locked():
            records = [r for r in self._stacks.values() if include_deleted or not r.deleted]
        records.sort(key=lambda r: (r.name, r.created_at, r.stack_id))
        return [_stack_copy(r) for r in records]

    def update_stack(
        self, stack_id: str, *, expected_version: int | None = None, **fields: Any
    ) -> StackRecord:
        """Change some fields of a stack, bump its version, and return the new record.

        Raises:
            TypeError: A field name is unknown (nothing is written).
            StackNotFoundError: No stack has this id.
            ConflictError: The version is not ``expected_version``, or the new name belongs to
                another live stack.
        """
        check_update_fields(fields)
        with self._locked():
            current = self._by_id(stack_id)
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(
                    f"stack {current.name!r} is at version {current.version},"
                    f" not {expected_version}: it changed meanwhile"
                )
            updated = _stack_copy(replace(current, **fields, version=current.version + 1))
            if not updated.deleted:
                other = self._live_by_name(updated.name)
                if other is not None and other.stack_id != stack_id:
                    raise ConflictError(f"a stack named {updated.name!r} already exists")
            self._stacks[stack_id] = updated
        return _stack_copy(updated)

    # -- lock ----------------------------------------------------------------------------------

    def acquire_lock(
        self,
        stack_id: str,
        owner: str,
        lease_seconds: float,
        now: float,
        *,
        break_if: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take the stack's lock for ``owner`` (see :meth:`StackStore.acquire_lock`).

        Returns:
            True when ``owner`` now holds the lock, False when someone else does.

        Raises:
            StackNotFoundError: No stack has this id.
        """
        with self._locked():
            record = self._by_id(stack_id)
            free = lease_is_free(record.lock_owner, record.lock_expires, owner, now, break_if)
            if free:
                self._stacks[stack_id] = replace(
                    record, lock_owner=owner, lock_expires=now + lease_seconds
                )
            return free

    def renew_lock(self, stack_id: str, owner: str, lease_seconds: float, now: float) -> bool:
        """Extend ``owner``'s lock to ``now + lease_seconds``.

        Returns:
            True when renewed; False when ``owner`` does not hold the lock.

        Raises:
            StackNotFoundError: No stack has this id.
        """
        with self._locked():
            record = self._by_id(stack_id)
            if record.lock_owner != owner:
                return False
            self._stacks[stack_id] = replace(record, lock_expires=now + lease_seconds)
            return True

    def release_lock(self, stack_id: str, owner: str) -> None:
        """Release the lock if ``owner`` holds it.

        Raises:
            StackNotFoundError: No stack has this id.
        """
        with self._locked():
            record = self._by_id(stack_id)
            if record.lock_owner == owner:
                self._stacks[stack_id] = replace(record, lock_owner=None, lock_expires=None)

    # -- resources -----------------------------------------------------------------------------

    def put_resource(self, record: StackResourceRecord) -> None:
        """Insert or replace the resource ``(record.stack_id, record.logical_id)``."""
        stored = _resource_copy(record)
        with self._locked():
            self._resources.setdefault(record.stack_id, {})[record.logical_id] = stored

    def delete_resource(self, stack_id: str, logical_id: str) -> None:
        """Forget a resource of a stack (no error when it is not recorded)."""
        with self._locked():
            self._resources.get(stack_id, {}).pop(logical_id, None)

    def list_resources(self, stack_id: str) -> list[StackResourceRecord]:
        """Return the stack's resources in the order they were first recorded."""
        with self._locked():
            records = list(self._resources.get(stack_id, {}).values())
        return [_resource_copy(r) for r in records]

    # -- events --------------------------------------------------------------------------------

    def add_events(self, events: Sequence[StackEvent]) -> list[StackEvent]:
        """Record events and return them with the assigned ``seq`` (1, 2, 3... per stack)."""
        added: list[StackEvent] = []
        with self._locked():
            for event in events:
                stream = self._events.setdefault(event.stack_id, [])
                numbered = replace(event, seq=len(stream) + 1)
                stream.append(numbered)
                added.append(numbered)
        return added

    def list_events(
        self, stack_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StackEvent]:
        """Return the stack's events with ``seq > after``, oldest first, at most ``limit``."""
        with self._locked():
            found = [e for e in self._events.get(stack_id, []) if e.seq > after]
        return found if limit is None else found[: max(limit, 0)]

    # -- change sets ---------------------------------------------------------------------------

    def save_change_set(self, record: ChangeSetRecord) -> None:
        """Insert or replace a change set (by id)."""
        stored = _change_set_copy(record)
        with self._locked():
            self._change_sets[record.change_set_id] = stored

    def get_change_set(self, change_set_id: str) -> ChangeSetRecord:
        """Return one change set.

        Raises:
            NotFoundError: No such change set.
        """
        with self._locked():
            record = self._change_sets.get(change_set_id)
        if record is None:
            raise NotFoundError(f"no change set {change_set_id!r}")
        return _change_set_copy(record)

    def list_change_sets(self, stack_name: str) -> list[ChangeSetRecord]:
        """Return the change sets made for ``stack_name``, oldest first."""
        with self._locked():
            found = [r for r in self._change_sets.values() if r.stack_name == stack_name]
        found.sort(key=lambda r: (r.created_at, r.change_set_id))
        return [_change_set_copy(r) for r in found]

    def update_change_set_status(self, change_set_id: str, status: str) -> None:
        """Set a change set's status.

        Raises:
            NotFoundError: No such change set.
        """
        with self._locked():
            record = self._change_sets.get(change_set_id)
            if record is None:
                raise NotFoundError(f"no change set {change_set_id!r}")
            self._change_sets[change_set_id] = replace(record, status=status)

    # -- intents -------------------------------------------------------------------------------

    def put_intent(self, record: IntentRecord) -> None:
        """Insert or replace the intent ``(record.operation_id, record.seq)``."""
        stored = replace(record, data=_copy(record.data))
        with self._locked():
            self._intents.setdefault(record.operation_id, {})[record.seq] = stored

    def list_intents(self, operation_id: str) -> list[IntentRecord]:
        """Return the operation's intents by ``seq``."""
        with self._locked():
            found = sorted(self._intents.get(operation_id, {}).items())
        return [replace(r, data=_copy(r.data)) for _, r in found]

    # -- exports and imports -------------------------------------------------------------------

    def set_exports(self, stack_id: str, exports: Mapping[str, Any]) -> None:
        """Replace the stack's exports with ``exports`` (``{}``: none).

        Raises:
            ConflictError: Another live stack exports one of the names; nothing is changed.
        """
        values = {name: _copy(value) for name, value in exports.items()}
        with self._locked():
            for name in sorted(values):
                holder = self._exports.get(name)
                if holder is not None and holder[0] != stack_id and self._live(holder[0]):
                    owner_name = self._stacks[holder[0]].name
                    raise ConflictError(export_conflict_message(name, holder[0], owner_name))
            self._exports = {
                name: entry
                for name, entry in self._exports.items()
                if entry[0] != stack_id and name not in values
            }
            for name, value in values.items():
                self._exports[name] = (stack_id, value)

    def get_exports(self) -> dict[str, tuple[str, Any]]:
        """Return every export of the live stacks: name to ``(stack_id, value)``."""
        with self._locked():
            found = {
                name: (owner, _copy(value))
                for name, (owner, value) in self._exports.items()
                if self._live(owner)
            }
        return dict(sorted(found.items()))

    def set_imports(self, stack_id: str, names: Iterable[str]) -> None:
        """Replace the export names the stack imports."""
        wanted = set(names)
        with self._locked():
            self._imports[stack_id] = wanted

    def importers(self, export_name: str) -> list[str]:
        """Return the ids of the live stacks importing ``export_name``, sorted."""
        with self._locked():
            return sorted(
                stack_id
                for stack_id, names in self._imports.items()
                if export_name in names and self._live(stack_id)
            )
