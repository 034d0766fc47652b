"""Inputs of stack operations: reading templates, secrets, ids, and checking resources."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from stackflow.errors import Problem, SourceLocation, TemplateError
from stackflow.providers import ProviderRegistry
from stackflow.stacks.changes import mask_secrets
from stackflow.store.stacks import StackRecord, StackStore
from stackflow.template import PreparedTemplate

#: Template source accepted by plan/apply: a path, or the template text itself.
TemplateSource = str | Path


def check_types(prepared: PreparedTemplate, registry: ProviderRegistry) -> None:
    """Raise a TemplateError naming every resource whose type has no provider."""
    problems: list[Problem] = []
    for declaration in prepared.resources.values():
        if registry.find(declaration.type) is None:
            try:
                registry.get(declaration.type)
            except Exception as exc:
                location = locate(prepared, f"{declaration.pointer}/Type")
                problems.append(Problem(location, str(exc), "UNKNOWN_RESOURCE_TYPE"))
    if problems:
        raise TemplateError(problems)


def check_properties(
    prepared: PreparedTemplate,
    resolved: dict[str, dict[str, Any]],
    registry: ProviderRegistry,
) -> None:
    """Raise a TemplateError for every property that breaks its provider's schema."""
    problems: list[Problem] = []
    for lid, properties in resolved.items():
        declaration = prepared.resources[lid]
        provider = registry.find(declaration.type)
        if provider is None:
            continue
        pointer = f"{declaration.pointer}/Properties"
        for problem in provider.check(properties, pointer=pointer):
            location = locate(prepared, problem.location.pointer)
            problems.append(Problem(location, problem.message, problem.code))
    if problems:
        raise TemplateError(problems)


def locate(prepared: PreparedTemplate, pointer: str) -> SourceLocation:
    """Locate a pointer, falling back to its nearest located parent."""
    current = pointer
    while True:
        try:
            location = prepared.locate(current)
        except Exception:
            location = None
        if location is not None and (location.line is not None or not current):
            return SourceLocation(location.file, location.line, location.column, pointer)
        if not current:
            return SourceLocation(None, None, None, pointer)
        current = current.rsplit("/", 1)[0]


def read_template(template: TemplateSource) -> tuple[str, str | None]:
    """Return ``(text, absolute file path or None)`` of a template path or text."""
    if isinstance(template, Path) or (
        isinstance(template, str)
        and "\n" not in template
        and "{" not in template
        and ": " not in template
    ):
        path = Path(template).expanduser()
        try:
            return path.read_text(encoding="utf-8"), str(path.resolve())
        except OSError as exc:
            location = SourceLocation(str(path), None, None, "")
            reason = "file not found" if isinstance(exc, FileNotFoundError) else str(exc)
            raise TemplateError(
                [Problem(location, f"cannot read the template: {reason}", "FILE_NOT_FOUND")]
            ) from None
    return str(template), None


def new_stack_id(name: str, region: str, account_id: str) -> str:
    """Return a new stack id (``arn:stackflow:cloudformation:REGION:ACCOUNT:stack/NAME/UUID``)."""
    return f"arn:stackflow:cloudformation:{region}:{account_id}:stack/{name}/{uuid.uuid4()}"


def secret_values(prepared: PreparedTemplate) -> list[str]:
    """Return the values of the NoEcho parameters (list items too), to mask them."""
    values: list[str] = []
    for parameter in prepared.parameters.values():
        if not parameter.no_echo:
            continue
        if isinstance(parameter.value, list | tuple):
            values.extend(str(v) for v in parameter.value)
            values.append(",".join(str(v) for v in parameter.value))
        else:
            values.append(str(parameter.value))
    return [v for v in values if v]


def stored_secrets(record: StackRecord) -> list[str]:
    """Return the NoEcho parameter values recorded for a stack, to mask them."""
    values = []
    for name in record.no_echo:
        value = record.parameters.get(name)
        if value:
            values.append(value)
            values.extend(part for part in value.split(",") if part)
    return values


def stack_secrets(store: StackStore, stack_name: str | None) -> list[str]:
    """Return the NoEcho values recorded for stack ``stack_name``, to mask them in output.

    Args:
        store: The stack store.
        stack_name: The stack (None or "" for none).

    Returns:
        The values; none when there is no such stack.
    """
    record = store.find_stack(stack_name) if stack_name else None
    return stored_secrets(record) if record is not None else []


def output_values(record: StackRecord) -> dict[str, Any]:
    """Return a stack's outputs as ``{name: value}``, NoEcho parameter values masked.

    AWS shows outputs in clear even when they repeat a NoEcho value; stackflow never shows a
    secret (exports and ``Fn::ImportValue`` still get the real value from the store).
    """
    values = {
        name: body.get("Value") if isinstance(body, dict) else body
        for name, body in (record.outputs or {}).items()
    }
    return dict(mask_secrets(values, stored_secrets(record)))


def parameter_text(value: Any) -> str:
    """Return a parameter value as given on a command line (lists joined with commas)."""
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)
