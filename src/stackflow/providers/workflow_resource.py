"""``Stackflow::Workflow`` (alias ``AWS::StepFunctions::StateMachine``): a deployed ASL workflow.

Properties:

* ``Name`` (create-only; AWS's ``StateMachineName`` is accepted as an alias): the workflow name,
  by default ``<stack>-<logical id>``.
* The definition, exactly one of: ``Definition`` (an object), ``DefinitionString`` (JSON or YAML
  text), ``DefinitionFile`` or ``DefinitionUri`` (a local path, relative to the template's
  folder).
* ``DefinitionSubstitutions``: ``${key}`` in the definition is replaced by the value, as AWS does
  (in a string that is exactly ``${key}``, a number or boolean value keeps its type).
* ``RoleArn``, ``StateMachineType``, ``Tags``, ``LoggingConfiguration``,
  ``TracingConfiguration``, ``EncryptionConfiguration``: accepted so AWS templates run unchanged,
  and ignored (stackflow has no IAM roles, express machines, tags or CloudWatch logs).

The definition is validated by stackflow's ASL validator; problems fail the handler with
``InvalidRequest`` naming each one. The workflow is deployed through ``context.workflows``.
Attributes: ``Name``, ``Arn``, ``Version``, ``StateMachineName`` and ``StateMachineArn``; the
physical id is the ARN (what ``Ref`` returns on AWS).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from stackflow.errors import DefinitionError, NotFoundError, ProviderError
from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
    WorkflowDeployer,
)
from stackflow.providers.common import invalid, resolve_path
from stackflow.workflow.asl.loader import from_object, load_definition
from stackflow.workflow.asl.validate import validate_definition

_IGNORED = (
    "RoleArn",
    "StateMachineType",
    "Tags",
    "LoggingConfiguration",
    "TracingConfiguration",
    "EncryptionConfiguration",
)
_SOURCES = ("Definition", "DefinitionString", "DefinitionFile", "DefinitionUri")

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": "Stackflow::Workflow",
        "description": "An Amazon States Language workflow deployed to stackflow.",
        "properties": {
            "Name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
                "description": "Workflow name (default <stack>-<logical id>). As an attribute: "
                "the name used.",
            },
            "StateMachineName": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
                "description": "AWS alias of Name.",
            },
            "Definition": {"type": "object", "description": "The ASL definition."},
            "DefinitionString": {
                "type": "string",
                "description": "The ASL definition as JSON or YAML text.",
            },
            "DefinitionFile": {
                "type": "string",
                "description": "A local file holding the definition (JSON or YAML).",
            },
            "DefinitionUri": {
                "type": "string",
                "description": "Alias of DefinitionFile (a local path).",
            },
            "DefinitionSubstitutions": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Values for ${key} placeholders in the definition.",
            },
            **{
                name: {"description": "Accepted for AWS compatibility and ignored."}
                for name in _IGNORED
            },
            "Arn": {"type": "string", "readOnly": True, "description": "The workflow ARN."},
            "Version": {
                "type": "integer",
                "readOnly": True,
                "description": "The deployed version.",
            },
            "StateMachineArn": {
                "type": "string",
                "readOnly": True,
                "description": "AWS alias of Arn.",
            },
        },
        "oneOf": [{"required": [name]} for name in _SOURCES],
        "createOnlyProperties": ["/properties/Name", "/properties/StateMachineName"],
        "readOnlyProperties": [
            "/properties/Name",
            "/properties/Arn",
            "/properties/Version",
            "/properties/StateMachineName",
            "/properties/StateMachineArn",
        ],
        "writeOnlyProperties": [],
        "primaryIdentifier": ["/properties/Arn"],
        "additionalProperties": False,
    }
)

_PLACEHOLDER = re.compile(r"\$\{([^{}]+)\}")


def workflow_name(request: ResourceRequest) -> str:
    """Return the workflow name: Name, StateMachineName, or ``<stack>-<logical id>``.

    Args:
        request: The request.

    Returns:
        The name.
    """
    props = request.properties
    name = props.get("Name") or props.get("StateMachineName")
    if name is None and request.previous_attributes:
        name = request.previous_attributes.get("Name")
    return str(name or f"{request.stack_name}-{request.logical_id}")


def _text_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _substitute_text(text: str, subs: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(
        lambda m: _text_value(subs[m.group(1)]) if m.group(1) in subs else m.group(0), text
    )


def _substitute(value: Any, subs: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in subs:
            return subs[whole.group(1)]
        return _substitute_text(value, subs)
    if isinstance(value, dict):
        return {_substitute_text(k, subs): _substitute(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(item, subs) for item in value]
    return value


def build_definition(request: ResourceRequest) -> dict[str, Any]:
    """Load, substitute and validate the definition a request asks for.

    Args:
        request: The request.

    Returns:
        The definition, ready to deploy.

    Raises:
        ProviderError: InvalidRequest when no (or more than one) source is given, the file
            cannot be read, or the definition has problems (each named).
    """
    props = request.properties
    given = [name for name in _SOURCES if props.get(name) is not None]
    if len(given) != 1:
        raise invalid(f"Set exactly one of {', '.join(_SOURCES)} (got {len(given)})")
    source = given[0]
    subs = props.get("DefinitionSubstitutions") or {}
    if not isinstance(subs, dict):
        raise invalid("DefinitionSubstitutions must be an object")
    try:
        if source == "Definition":
            document = props["Definition"]
            if not isinstance(document, dict):
                raise invalid("Definition must be an object")
            loaded = from_object(_substitute(document, subs))
        else:
            if source == "DefinitionString":
                text, file = str(props[source]), None
            else:
                path = resolve_path(request, props[source], source)
                try:
                    text = path.read_text(encoding="utf-8")
                except OSError as exc:
                    raise invalid(
                        f"{source} {path} cannot be read: {exc.strerror or exc}"
                    ) from None
                file = str(path)
            loaded = load_definition(_substitute_text(text, subs), file=file)
    except DefinitionError as exc:
        raise _definition_problems(exc.problems) from None
    problems = validate_definition(loaded)
    if problems:
        raise _definition_problems(problems)
    return dict(loaded.document)


def _definition_problems(problems: list[Any]) -> ProviderError:
    lines = "".join(f"\n  {problem}" for problem in problems)
    return invalid(f"Invalid workflow definition: {len(problems)} problem(s) found{lines}")


def _deployer(context: ProviderContext) -> WorkflowDeployer:
    if context.workflows is None:
        raise ProviderError(
            "No workflow deployer is available to deploy Stackflow::Workflow",
            HandlerErrorCode.InternalFailure,
        )
    return context.workflows


def _attributes(name: str, arn: str, version: int) -> dict[str, Any]:
    return {
        "Name": name,
        "Arn": arn,
        "Version": version,
        "StateMachineName": name,
        "StateMachineArn": arn,
    }


class WorkflowProvider(Provider):
    """The ``Stackflow::Workflow`` resource type (also ``AWS::StepFunctions::StateMachine``)."""

    schema = SCHEMA
    aliases = ("AWS::StepFunctions::StateMachine",)

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Validate and deploy the definition."""
        return self._deploy(request, context)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Deploy the new definition as a new version of the same workflow."""
        return self._deploy(request, context)

    def _deploy(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        definition = build_definition(request)
        name = workflow_name(request)
        arn, version = _deployer(context).deploy_definition(
            name, definition, base_dir=request.base_dir
        )
        return ProgressEvent.success(arn, _attributes(name, arn, version))

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Delete the workflow; a missing one is success."""
        name = workflow_name(request)
        with contextlib.suppress(NotFoundError):
            _deployer(context).delete_workflow(name)
        return ProgressEvent.success(request.physical_id)

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Compare the deployed definition with the one the properties describe."""
        name = workflow_name(request)
        found = _deployer(context).describe_workflow(name)
        if found is None:
            return None
        arn, version, deployed = found
        props = request.properties
        actual: dict[str, Any] = {}
        try:
            expected: dict[str, Any] | None = build_definition(request)
        except ProviderError:
            expected = None
        for source in _SOURCES:
            if source not in props:
                continue
            if expected == deployed:
                actual[source] = props[source]
            elif source == "Definition":
                actual[source] = deployed
            elif source == "DefinitionString":
                actual[source] = json.dumps(deployed, indent=2)
            else:
                actual[source] = f"(the deployed definition differs from {props[source]})"
        return ReadResult(actual, _attributes(name, arn, version))
