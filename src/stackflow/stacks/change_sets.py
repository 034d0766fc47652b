"""Change sets kept in the store: saved by ``plan(save=True)``, recorded by a plain apply, and
checked before ``apply(change_set_id=...)`` executes one."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping

from stackflow.clock import Clock
from stackflow.errors import ChangeSetStaleError, StackError
from stackflow.stacks.changes import MASK, ChangeSet
from stackflow.store.stacks import ChangeSetRecord, StackRecord, StackStore

#: Status of a change set saved for later execution.
SAVED = "CREATE_COMPLETE"


def _new_id() -> str:
    return f"cs-{uuid.uuid4().hex}"


def save_plan(
    store: StackStore,
    clock: Clock,
    changes: ChangeSet,
    text: str,
    file: str | None,
    effective: Mapping[str, str],
) -> ChangeSet:
    """Store a planned change set so that it can be executed later.

    Args:
        store: The stack store.
        clock: Its creation time.
        changes: The plan (its ``stack_version`` is the version it was made against).
        text: The template text.
        file: The template file, if any.
        effective: The parameter values the plan used.

    Returns:
        The change set with its ``change_set_id``.
    """
    change_set_id = _new_id()
    saved = dataclasses.replace(changes, change_set_id=change_set_id)
    store.save_change_set(
        ChangeSetRecord(
            change_set_id=change_set_id,
            stack_name=saved.stack_name,
            stack_version=saved.stack_version,
            created_at=clock.now(),
            template=text,
            template_file=file,
            parameters=dict(effective),
            changes=saved.to_json(),
            status=SAVED,
        )
    )
    return saved


def executable_change_set(store: StackStore, change_set_id: str, stack: str) -> ChangeSetRecord:
    """Return a saved change set of ``stack`` that may be executed.

    Args:
        store: The stack store.
        change_set_id: Its id.
        stack: The stack it must belong to.

    Returns:
        The change set record.

    Raises:
        StackError: It belongs to another stack or was executed already.
    """
    change_set = store.get_change_set(change_set_id)
    if change_set.stack_name != stack:
        raise StackError(
            f"change set {change_set_id} is for stack {change_set.stack_name!r}, not {stack!r}"
        )
    if change_set.status != SAVED:
        raise StackError(
            f"change set {change_set_id} cannot be executed (status {change_set.status})"
        )
    return change_set


def check_not_stale(change_set: ChangeSetRecord, stack: str, existing: StackRecord | None) -> None:
    """Refuse a change set made against another version of the stack.

    Args:
        change_set: The change set to execute.
        stack: The stack name.
        existing: The stack now (None: it does not exist).

    Raises:
        ChangeSetStaleError: The stack changed since the change set was made.
    """
    current = existing.version if existing is not None else 0
    if current != change_set.stack_version:
        raise ChangeSetStaleError(
            f"stack {stack!r} changed since change set {change_set.change_set_id} was made "
            f"(version {change_set.stack_version}, now {current}); make a new plan"
        )


def record_apply(
    store: StackStore,
    clock: Clock,
    stored: StackRecord,
    changes: ChangeSet,
    text: str,
    file: str | None,
    effective: Mapping[str, str],
    no_echo: Iterable[str],
) -> str:
    """Record the change set a plain apply executes (``EXECUTE_IN_PROGRESS``).

    Its NoEcho parameter values are stored masked (it can never be executed again).

    Args:
        store: The stack store.
        clock: Its creation time.
        stored: The stack being applied to.
        changes: The changes being applied.
        text: The template text.
        file: The template file, if any.
        effective: The parameter values.
        no_echo: Names of the NoEcho parameters.

    Returns:
        The change set's id.
    """
    change_set_id = _new_id()
    hidden = set(no_echo)
    running = dataclasses.replace(
        changes,
        stack_id=stored.stack_id,
        change_set_id=change_set_id,
        status="EXECUTE_IN_PROGRESS",
    )
    store.save_change_set(
        ChangeSetRecord(
            change_set_id=change_set_id,
            stack_name=stored.name,
            stack_version=changes.stack_version,
            created_at=clock.now(),
            template=text,
            template_file=file,
            parameters={k: MASK if k in hidden else v for k, v in effective.items()},
            changes=running.to_json(),
            status="EXECUTE_IN_PROGRESS",
        )
    )
    return change_set_id
