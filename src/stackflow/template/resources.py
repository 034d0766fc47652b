"""Checking the Resources and Outputs sections into declarations."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from stackflow.errors import TemplateError
from stackflow.sourcemap import join_pointer
from stackflow.template.conditions import ConditionTable
from stackflow.template.intrinsics import Evaluator, is_opaque
from stackflow.template.model import NO_VALUE, PSEUDO_PARAMETERS, Problems, ResourceDeclaration

if TYPE_CHECKING:
    from stackflow.template.prepare import PreparedTemplate

_POLICIES = ("Delete", "Retain", "Snapshot", "RetainExceptOnCreate")


def _condition_of(
    body: dict[str, Any], pointer: str, table: ConditionTable, problems: Problems
) -> tuple[str | None, bool]:
    name = body.get("Condition")
    if name is None:
        return None, True
    if not isinstance(name, str):
        problems.add(join_pointer(pointer, "Condition"), "Condition must name a condition.")
        return None, False
    try:
        return name, bool(table.value(name, join_pointer(pointer, "Condition")))
    except TemplateError as exc:
        problems.items.extend(exc.problems)
        return name, False


def declare_resources(
    prepared: PreparedTemplate,
    section: dict[str, Any],
    table: ConditionTable,
    evaluator: Evaluator,
    problems: Problems,
) -> None:
    """Check every resource and record the active ones in ``prepared.resources``.

    Args:
        prepared: The template being prepared.
        section: The Resources section.
        table: Condition values.
        evaluator: Evaluates resource attributes given as intrinsics (language extensions).
        problems: Where problems are recorded.
    """
    from stackflow.template.prepare import RESOURCE_ATTRIBUTES, did_you_mean

    for lid, body in section.items():
        pointer = join_pointer("/Resources", lid)
        if lid in PSEUDO_PARAMETERS or not re.fullmatch(r"[A-Za-z0-9]+", lid):
            problems.add(
                pointer,
                f"Resource logical id {lid!r} must be alphanumeric "
                "(A-Za-z0-9) and not a pseudo parameter name.",
            )
            continue
        if lid in prepared.parameters:
            problems.add(pointer, f"{lid!r} is both a parameter and a resource.")
        if not isinstance(body, dict):
            problems.add(pointer, f"Resource {lid!r} must be an object with a Type.")
            continue
        for key in body:
            if key not in RESOURCE_ATTRIBUTES:
                problems.add(
                    join_pointer(pointer, key),
                    f"Invalid resource attribute {key!r} "
                    f"of {lid!r}." + did_you_mean(key, RESOURCE_ATTRIBUTES),
                )
        type_name = body.get("Type")
        if not isinstance(type_name, str) or not type_name:
            problems.add(join_pointer(pointer, "Type"), f"Resource {lid!r} needs a Type string.")
            continue
        properties = body.get("Properties")
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            problems.add(join_pointer(pointer, "Properties"), "Properties must be an object.")
            continue
        depends = body.get("DependsOn")
        if depends is None:
            depends_on: tuple[str, ...] = ()
        elif isinstance(depends, str):
            depends_on = (depends,)
        elif isinstance(depends, list) and all(isinstance(d, str) for d in depends):
            depends_on = tuple(depends)
        else:
            problems.add(
                join_pointer(pointer, "DependsOn"),
                "DependsOn must be a logical id or a list of logical ids.",
            )
            continue
        condition, active = _condition_of(body, pointer, table, problems)
        policies = {}
        for key in ("DeletionPolicy", "UpdateReplacePolicy"):
            raw = body.get(key)
            value = evaluator.evaluate(raw, join_pointer(pointer, key)) if raw is not None else None
            if value is NO_VALUE or (
                value is not None and value not in _POLICIES and not is_opaque(value)
            ):
                problems.add(
                    join_pointer(pointer, key), f"{key} must be one of {', '.join(_POLICIES)}."
                )
                value = None
            policies[key] = value if isinstance(value, str) else None
        dicts = {}
        for key in ("CreationPolicy", "UpdatePolicy", "Metadata"):
            raw = body.get(key)
            if raw is not None and not isinstance(raw, dict):
                problems.add(join_pointer(pointer, key), f"{key} must be an object.")
                raw = None
            dicts[key] = raw
        if not active:
            continue
        prepared.resources[lid] = ResourceDeclaration(
            logical_id=lid,
            type=type_name,
            properties=properties,
            depends_on=depends_on,
            condition=condition,
            deletion_policy=policies["DeletionPolicy"],
            update_replace_policy=policies["UpdateReplacePolicy"],
            creation_policy=dicts["CreationPolicy"],
            update_policy=dicts["UpdatePolicy"],
            metadata=dicts["Metadata"],
            pointer=pointer,
        )


def prepare_outputs(
    prepared: PreparedTemplate, section: Any, table: ConditionTable, problems: Problems
) -> None:
    """Check the Outputs section and record the active outputs in ``prepared.outputs``.

    Args:
        prepared: The template being prepared.
        section: The Outputs section (None when absent).
        table: Condition values.
        problems: Where problems are recorded.
    """
    from stackflow.template.prepare import OUTPUT_KEYS, did_you_mean

    if section is None:
        return
    if not isinstance(section, dict):
        problems.add("/Outputs", "Outputs must be an object of outputs.")
        return
    for name, body in section.items():
        pointer = join_pointer("/Outputs", name)
        if not isinstance(body, dict) or body.get("Value") is None:
            problems.add(
                pointer,
                f"Template format error: Output {name} is malformed; every output needs a Value.",
            )
            continue
        for key in body:
            if key not in OUTPUT_KEYS:
                problems.add(
                    join_pointer(pointer, key),
                    f"Invalid output attribute {key!r}." + did_you_mean(key, OUTPUT_KEYS),
                )
        export = body.get("Export")
        if export is not None and not (isinstance(export, dict) and "Name" in export):
            problems.add(join_pointer(pointer, "Export"), "Export must be an object with a Name.")
        _, active = _condition_of(body, pointer, table, problems)
        if active:
            prepared.outputs[name] = body
