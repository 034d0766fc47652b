"""``Stackflow::Stack`` (alias ``AWS::CloudFormation::Stack``): a nested stack from a local file.

Properties: ``TemplateURL`` (required; a path relative to the parent template's folder, an
optional ``file://`` prefix is removed) and ``Parameters`` (name to value; lists are joined with
commas). ``Ref`` gives the nested stack's id and ``Fn::GetAtt Nested.Outputs.Name`` its outputs.
The nested stack is named ``<parent>-<logical id>-<random>`` and is applied, updated and deleted
through the stack service itself (``context.stacks``); it rolls back on its own when it fails.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from stackflow.errors import ProviderError, StackNotFoundError
from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": "Stackflow::Stack",
        "description": "A nested stack whose template is a local file.",
        "properties": {
            "TemplateURL": {
                "type": "string",
                "minLength": 1,
                "description": "Path of the nested template, relative to the parent template.",
            },
            "Parameters": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean", "array"]},
                "description": "Parameter values of the nested stack.",
            },
            "TimeoutInMinutes": {"type": ["integer", "string"]},
            "NotificationARNs": {"type": "array"},
            "Tags": {"type": "array"},
        },
        "required": ["TemplateURL"],
        "createOnlyProperties": [],
        "readOnlyProperties": [],
        "writeOnlyProperties": [],
        "additionalProperties": False,
    }
)


def _service(context: ProviderContext) -> Any:
    if context.stacks is None:
        raise ProviderError(
            "nested stacks need the stack service (none was given)",
            HandlerErrorCode.InternalFailure,
        )
    return context.stacks


def _template_path(request: ResourceRequest) -> Path:
    url = str(request.properties.get("TemplateURL", ""))
    if url.startswith("file://"):
        url = url[len("file://") :]
    if "://" in url:
        raise ProviderError(
            f"TemplateURL {url!r}: only local paths are supported", HandlerErrorCode.InvalidRequest
        )
    path = Path(url).expanduser()
    if not path.is_absolute():
        path = request.base_dir / path
    return path


def _parameters(request: ResourceRequest) -> dict[str, str]:
    raw = request.properties.get("Parameters") or {}
    values: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, list):
            values[key] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            values[key] = "true" if value else "false"
        else:
            values[key] = str(value)
    return values


def stack_name_of(stack_id: str) -> str:
    """Return the stack name inside a stack id (``arn:...:stack/<name>/<uuid>``)."""
    parts = stack_id.split("/")
    return parts[-2] if len(parts) >= 3 else stack_id


def _why(result: Any, verb: str, name: str) -> str:
    causes = "; ".join(f"{c.logical_id}: {c.reason}" for c in result.root_causes)
    detail = causes or result.status_reason or result.status
    return f"Embedded stack {name} was not successfully {verb}: {detail}"


def _attributes(result: Any) -> dict[str, Any]:
    return {f"Outputs.{key}": value for key, value in (result.outputs or {}).items()}


class NestedStackProvider(Provider):
    """The nested stack resource type."""

    schema = SCHEMA
    aliases = ("AWS::CloudFormation::Stack",)

    def attribute_names(self) -> frozenset[str] | None:
        """Any ``Outputs.<name>`` may be read, so the names are not checked."""
        return None

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Apply the nested template as a new stack; delete it again if that fails."""
        service = _service(context)
        name = request.physical_id_hint
        result = service.apply(_template_path(request), name, _parameters(request))
        if not result.ok:
            message = _why(result, "created", name)
            with contextlib.suppress(StackNotFoundError):
                service.delete(name)
            return ProgressEvent.failed(message, HandlerErrorCode.NotStabilized)
        return ProgressEvent.success(result.stack_id, _attributes(result))

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Apply the new template/parameters to the nested stack (it rolls back on failure)."""
        service = _service(context)
        name = stack_name_of(request.physical_id or "")
        result = service.apply(_template_path(request), name, _parameters(request))
        if not result.ok:
            return ProgressEvent.failed(
                _why(result, "updated", name), HandlerErrorCode.NotStabilized
            )
        return ProgressEvent.success(result.stack_id, _attributes(result))

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Delete the nested stack (a missing one is success)."""
        service = _service(context)
        if not request.physical_id:
            return ProgressEvent.success(None)
        try:
            record = service.store.find_stack(request.physical_id)
            if record is None or record.deleted:
                return ProgressEvent.success(request.physical_id)
            result = service.delete(record.name)
        except StackNotFoundError:
            return ProgressEvent.success(request.physical_id)
        if not result.ok:
            return ProgressEvent.failed(
                _why(result, "deleted", record.name), HandlerErrorCode.NotStabilized
            )
        return ProgressEvent.success(request.physical_id)

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Return the nested stack's outputs as attributes (None when it is gone)."""
        service = _service(context)
        record = (
            service.store.find_stack(request.physical_id or "") if request.physical_id else None
        )
        if record is None or record.deleted:
            return None
        outputs = {
            f"Outputs.{k}": (v.get("Value") if isinstance(v, dict) else v)
            for k, v in (record.outputs or {}).items()
        }
        return ReadResult({}, outputs)
