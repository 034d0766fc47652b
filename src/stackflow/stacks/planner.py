"""The planner: from a prepared template and the recorded resources, the change set (pure).

The planner resolves every resource's properties with :class:`PlanValues`, which gives the
recorded physical ids and attributes of resources that stay as they are, and
``KNOWN_AFTER_APPLY`` for resources being added or replaced (and for the attributes of modified
ones). A property whose new value is only known after apply is a ``Conditional`` change. The same
comparison (:func:`diff_resource`) decides, at apply time and with real values, whether a resource
is updated in place, replaced, or left alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from stackflow.stacks.changes import (
    ADD,
    ALWAYS,
    CONDITIONAL,
    DIRECT,
    DRIFT,
    MASK,
    MODIFY,
    NEVER,
    NO_CHANGE,
    REMOVE,
    REPLACE,
    RESOURCE_ATTRIBUTE,
    RESOURCE_REFERENCE,
    ChangeSet,
    PropertyChange,
    ResourceChange,
    mask_secrets,
    plain,
)
from stackflow.stacks.inputs import parameter_text
from stackflow.store.stacks import StackResourceRecord
from stackflow.template import KNOWN_AFTER_APPLY, PreparedTemplate
from stackflow.template.model import contains_unknown


class ReplacementRules(Protocol):
    """What the planner needs from a provider: its schema and its replacement rule."""

    @property
    def schema(self) -> Any:
        """The provider's :class:`~stackflow.providers.ResourceSchema`."""

    def requires_replacement(self, name: str, before: Any, after: Any) -> bool:
        """Tell whether changing ``name`` from ``before`` to ``after`` forces replacement."""
        ...


#: Finds the rules of a resource type (None: unknown type, compared without replacement rules).
RulesLookup = Callable[[str], ReplacementRules | None]


def same_value(before: Any, after: Any) -> bool:
    """Compare two JSON-like values as parsed JSON (tuples equal lists, 1 equals 1.0).

    Args:
        before: A recorded value.
        after: A resolved value.

    Returns:
        True when they are equal.
    """
    if before == after:
        return True
    try:
        dumped = json.dumps(plain(before), sort_keys=True)
        return dumped == json.dumps(plain(after), sort_keys=True)
    except (TypeError, ValueError):
        return False


class PlanValues:
    """Resource values as seen before apply.

    Args:
        records: The recorded resources by logical id.
        actions: The action decided so far for each resource (by logical id).
    """

    def __init__(
        self, records: Mapping[str, StackResourceRecord], actions: Mapping[str, str]
    ) -> None:
        self._records = records
        self._actions = actions

    def physical_id(self, logical_id: str) -> Any:
        """Return the recorded physical id, or KNOWN_AFTER_APPLY if it will change."""
        record = self._records.get(logical_id)
        if self._actions.get(logical_id) in (ADD, REPLACE) or record is None:
            return KNOWN_AFTER_APPLY
        return record.physical_id if record.physical_id is not None else KNOWN_AFTER_APPLY

    def attribute(self, logical_id: str, name: str) -> Any:
        """Return the recorded attribute, or KNOWN_AFTER_APPLY if the resource changes."""
        record = self._records.get(logical_id)
        if record is None or self._actions.get(logical_id) in (ADD, REPLACE, MODIFY):
            return KNOWN_AFTER_APPLY
        return record.attributes[name]


def referenced_ids(raw: Any) -> list[str]:
    """Return the names a raw template value refers to (Ref, Fn::GetAtt, Fn::Sub), in order.

    Args:
        raw: An unresolved template value.

    Returns:
        Logical ids and parameter names, without duplicates.
    """
    found: list[str] = []
    stack = [raw]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            if len(item) == 1:
                key, arg = next(iter(item.items()))
                if key == "Ref" and isinstance(arg, str):
                    found.append(arg)
                elif key == "Fn::GetAtt":
                    if isinstance(arg, list) and arg and isinstance(arg[0], str):
                        found.append(arg[0])
                    elif isinstance(arg, str):
                        found.append(arg.split(".", 1)[0])
                elif key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) and arg else arg
                    if isinstance(text, str):
                        found.extend(_sub_names(text))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return list(dict.fromkeys(found))


def _sub_names(text: str) -> list[str]:
    names: list[str] = []
    start = text.find("${")
    while start != -1:
        end = text.find("}", start)
        if end == -1:
            break
        inner = text[start + 2 : end]
        if not inner.startswith("!"):
            names.append(inner.split(".", 1)[0])
        start = text.find("${", end)
    return names


def diff_resource(
    logical_id: str,
    resource_type: str,
    desired: Mapping[str, Any],
    record: StackResourceRecord | None,
    rules: ReplacementRules | None,
    *,
    observed: Mapping[str, Any] | None = None,
    missing: bool = False,
    raw_properties: Mapping[str, Any] | None = None,
    changing: Mapping[str, str] | None = None,
) -> ResourceChange:
    """Compare a resource's desired properties with what is recorded (and observed).

    Args:
        logical_id: The resource.
        resource_type: Its type in the template.
        desired: Its resolved properties (may hold KNOWN_AFTER_APPLY).
        record: Its record, or None when it does not exist.
        rules: Its provider's replacement rules (None: no rule, never replaced).
        observed: Properties read from the real resource (drift), compared key by key.
        missing: The real resource is gone (drift): it is added again.
        raw_properties: The unresolved properties, to name what caused a dynamic change.
        changing: The action of each other resource, to name what caused a dynamic change.

    Returns:
        The change, with unmasked values (mask with :func:`mask_change` before showing it).
    """
    if record is None or record.physical_id is None:
        return ResourceChange(logical_id, resource_type, ADD)
    if missing:
        return ResourceChange(
            logical_id,
            resource_type,
            ADD,
            physical_id=record.physical_id,
            reason="the resource was deleted outside stackflow (drift); it is created again",
        )
    write_only: frozenset[str] = rules.schema.write_only if rules is not None else frozenset()
    details: list[PropertyChange] = []
    type_changed = record.type != resource_type
    for name in _keys(record.properties, desired):
        before = record.properties.get(name)
        after = desired.get(name)
        unknown = contains_unknown(after)
        if not unknown and same_value(before, after):
            continue
        details.append(
            _property_change(name, before, after, unknown, rules, raw_properties, changing)
        )
    if observed is not None:
        changed = {detail.name for detail in details}
        for name, actual in observed.items():
            if name in changed or name in write_only or name not in desired:
                continue
            after = desired[name]
            if contains_unknown(after) or same_value(actual, after):
                continue
            change = _property_change(name, actual, after, False, rules, None, None)
            details.append(replace(change, change_source=DRIFT))
    if type_changed:
        return ResourceChange(
            logical_id,
            resource_type,
            REPLACE,
            physical_id=record.physical_id,
            replacement="True",
            details=tuple(details),
            reason=f"the type changed from {record.type}",
            previous_type=record.type,
        )
    if not details:
        return ResourceChange(logical_id, resource_type, NO_CHANGE, physical_id=record.physical_id)
    recreation = {detail.requires_recreation for detail in details}
    if ALWAYS in recreation:
        action, replacement = REPLACE, "True"
    else:
        action = MODIFY
        replacement = "Conditional" if CONDITIONAL in recreation else "False"
    drifted = all(detail.change_source == DRIFT for detail in details)
    return ResourceChange(
        logical_id,
        resource_type,
        action,
        physical_id=record.physical_id,
        replacement=replacement,
        details=tuple(details),
        reason="drifted: the actual state differs from the template" if drifted else None,
    )


def _keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys([*after, *before]))


def _property_change(
    name: str,
    before: Any,
    after: Any,
    unknown: bool,
    rules: ReplacementRules | None,
    raw_properties: Mapping[str, Any] | None,
    changing: Mapping[str, str] | None,
) -> PropertyChange:
    source, entity = DIRECT, None
    if unknown and raw_properties is not None:
        for ref in referenced_ids(raw_properties.get(name)):
            if changing and changing.get(ref) in (ADD, REPLACE, MODIFY):
                source, entity = RESOURCE_ATTRIBUTE, ref
                if changing.get(ref) in (ADD, REPLACE):
                    source = RESOURCE_REFERENCE
                break
    reason: str | None = None
    if rules is None:
        recreation = NEVER
    elif unknown:
        create_only = name in rules.schema.create_only
        recreation = CONDITIONAL if create_only else NEVER
        if create_only:
            reason = rules.schema.replacement_reason(name)
    elif rules.requires_replacement(name, before, after):
        recreation = ALWAYS
        reason = rules.schema.replacement_reason(name) or f"a change of {name} forces replacement"
    else:
        recreation = NEVER
    return PropertyChange(
        path=f"/Properties/{name}",
        before=before,
        after=after,
        requires_recreation=recreation,
        reason=reason,
        change_source=source,
        causing_entity=entity,
    )


def mask_change(
    change: ResourceChange, write_only: Iterable[str], secrets: Iterable[str]
) -> ResourceChange:
    """Hide write-only property values and NoEcho parameter values in a change.

    Args:
        change: A change from :func:`diff_resource`.
        write_only: The resource type's write-only property names.
        secrets: NoEcho parameter values.

    Returns:
        The change with ``****`` in place of secrets.
    """
    hidden = set(write_only)
    secret_list = list(secrets)
    details = []
    for detail in change.details:
        if detail.name in hidden:
            before = MASK if detail.before is not None else None
            after = MASK if detail.after is not None else None
        else:
            before = mask_secrets(detail.before, secret_list)
            after = mask_secrets(detail.after, secret_list)
        details.append(replace(detail, before=before, after=after))
    return replace(change, details=tuple(details))


def removal_order(records: Mapping[str, StackResourceRecord], ids: Iterable[str]) -> list[str]:
    """Order resources for deletion: dependents before what they depend on.

    Args:
        records: The recorded resources (their ``depends_on`` is used).
        ids: The resources to delete.

    Returns:
        The ids, each before the ids it depends on; ties keep the reverse record order.
    """
    wanted = [lid for lid in reversed(list(records)) if lid in set(ids)]
    placed: list[str] = []
    done: set[str] = set()
    remaining = list(wanted)
    while remaining:
        progressed = False
        for lid in list(remaining):
            blockers = [
                other for other in remaining if other != lid and lid in records[other].depends_on
            ]
            if not blockers:
                placed.append(lid)
                done.add(lid)
                remaining.remove(lid)
                progressed = True
        if not progressed:  # a recorded cycle cannot happen; keep going anyway
            placed.extend(remaining)
            break
    return placed


def plan_changes(
    prepared: PreparedTemplate,
    records: Mapping[str, StackResourceRecord],
    rules: RulesLookup,
    *,
    stack_name: str,
    stack_id: str | None = None,
    stack_version: int = 0,
    observed: Mapping[str, Mapping[str, Any] | None] | None = None,
    secrets: Iterable[str] = (),
    resolved_out: dict[str, dict[str, Any]] | None = None,
) -> ChangeSet:
    """Compute the change set of applying ``prepared`` to a stack whose resources are ``records``.

    Args:
        prepared: The template, prepared with this stack's parameters and pseudo parameters.
        records: The stack's recorded resources by logical id (empty for a new stack).
        rules: Finds a type's provider (schema and replacement rule).
        stack_name: The stack's name.
        stack_id: Its id (None when it does not exist).
        stack_version: Its version (0 when it does not exist).
        observed: Properties read from real resources (drift): a logical id mapped to None
            means the resource is gone; ids not present were not read.
        secrets: NoEcho parameter values, masked in the result.
        resolved_out: When given, filled with each resource's resolved properties (unmasked).

    Returns:
        The change set: template resources in creation order, then removals.
    """
    secret_values = list(secrets)
    actions: dict[str, str] = {}
    changes: list[ResourceChange] = []
    values = PlanValues(records, actions)
    for logical_id in prepared.order:
        declaration = prepared.resources[logical_id]
        provider = rules(declaration.type)
        desired = prepared.resolve_properties(logical_id, values)
        if resolved_out is not None:
            resolved_out[logical_id] = desired
        seen = observed.get(logical_id) if observed is not None else None
        missing = observed is not None and logical_id in observed and seen is None
        change = diff_resource(
            logical_id,
            declaration.type,
            desired,
            records.get(logical_id),
            provider,
            observed=seen,
            missing=missing,
            raw_properties=declaration.properties,
            changing=actions,
        )
        actions[logical_id] = change.action
        write_only = provider.schema.write_only if provider is not None else frozenset()
        changes.append(mask_change(change, write_only, secret_values))
    removed = [lid for lid in records if lid not in prepared.resources]
    for logical_id in removal_order(records, removed):
        record = records[logical_id]
        retain = record.deletion_policy in ("Retain", "RetainExceptOnCreate")
        changes.append(
            ResourceChange(
                logical_id,
                record.type,
                REMOVE,
                physical_id=record.physical_id,
                policy_action="Retain" if retain else "Delete",
                reason="DeletionPolicy Retain: kept, no longer managed" if retain else None,
            )
        )
    parameters = {
        name: (MASK if value.no_echo else parameter_text(value.value))
        for name, value in prepared.parameters.items()
    }
    return ChangeSet(
        stack_name=stack_name,
        changes=tuple(changes),
        stack_id=stack_id,
        stack_version=stack_version,
        parameters=parameters,
        description=prepared.description,
    )
