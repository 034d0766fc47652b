"""``Local::Command``: run commands on create, update and delete (like Terraform's local-exec).

Properties:

* ``Create``, ``Update``, ``Delete``: a command string (run by ``/bin/sh -c``) or an argv list.
  All optional; a missing command is simply not run.
* ``Environment``: variables added to stackflow's environment.
* ``WorkingDirectory``: where commands run (relative to the template's folder; default: the
  template's folder).
* ``TimeoutSeconds`` (default 300): the whole process group is killed when a command runs longer.
* ``Triggers``: any object; it is not used by the commands, but changing it re-runs the commands.

An update runs ``Update`` (or ``Create`` when there is no ``Update``) when any property other than
``Delete`` and ``TimeoutSeconds`` changed; otherwise, or when the command prints no JSON object,
it keeps the previous attributes. No property
forces replacement.

Commands see ``STACKFLOW_STACK_NAME``, ``STACKFLOW_LOGICAL_ID``, ``STACKFLOW_PHYSICAL_ID``,
``STACKFLOW_REQUEST_TYPE`` (Create/Update/Delete), ``STACKFLOW_PROPERTIES`` (JSON) and, for
Update and Delete, ``STACKFLOW_OLD_PROPERTIES`` (JSON of the properties last applied).

The last line of standard output that parses as a JSON object becomes the attributes (GetAtt).
A non-zero exit fails the handler with the exit code and the last lines of standard error.
A command has no observable state: ``read`` returns the properties as recorded, so drift is never
reported.
"""

from __future__ import annotations

import json
from typing import Any

from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import last_json_object, resolve_path, run_process, tail_lines

DEFAULT_TIMEOUT_SECONDS = 300.0

_COMMAND_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}},
    ],
}

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": "Local::Command",
        "description": "Commands run on create, update and delete (like Terraform's local-exec). "
        "The last JSON object line of stdout becomes the attributes.",
        "properties": {
            "Create": {**_COMMAND_SCHEMA, "description": "Run on create (string: /bin/sh -c)."},
            "Update": {
                **_COMMAND_SCHEMA,
                "description": "Run on update; without it, Create runs again.",
            },
            "Delete": {**_COMMAND_SCHEMA, "description": "Run on delete."},
            "Environment": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Extra environment variables.",
            },
            "WorkingDirectory": {
                "type": "string",
                "description": "Where commands run (default: the template's folder).",
            },
            "TimeoutSeconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": DEFAULT_TIMEOUT_SECONDS,
                "description": "Kill the command's process group after this many seconds.",
            },
            "Triggers": {
                "type": "object",
                "description": "Any values; a change re-runs Update (or Create).",
            },
        },
        "createOnlyProperties": [],
        "readOnlyProperties": [],
        "writeOnlyProperties": [],
        "additionalProperties": False,
    }
)

#: Properties whose change does not re-run anything on update.
_NO_RERUN = frozenset({"Delete", "TimeoutSeconds"})


def _run(
    request: ResourceRequest, command: Any, request_type: str, physical_id: str
) -> ProgressEvent:
    props = request.properties
    env: dict[str, Any] = dict(props.get("Environment") or {})
    env.update(
        {
            "STACKFLOW_STACK_NAME": request.stack_name,
            "STACKFLOW_LOGICAL_ID": request.logical_id,
            "STACKFLOW_PHYSICAL_ID": physical_id,
            "STACKFLOW_REQUEST_TYPE": request_type,
            "STACKFLOW_PROPERTIES": json.dumps(props, default=str),
        }
    )
    if request_type == "Update":
        env["STACKFLOW_OLD_PROPERTIES"] = json.dumps(request.previous_properties or {}, default=str)
    elif request_type == "Delete":
        env["STACKFLOW_OLD_PROPERTIES"] = json.dumps(props, default=str)
    cwd = props.get("WorkingDirectory")
    cwd_path = resolve_path(request, cwd, "WorkingDirectory") if cwd else request.base_dir
    timeout = float(props.get("TimeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
    result = run_process(command, env=env, cwd=cwd_path, timeout=timeout)
    if result.timed_out:
        return ProgressEvent.failed(
            f"The {request_type} command did not finish within {timeout:g} seconds and was killed",
            HandlerErrorCode.Timeout,
        )
    if result.exit_code != 0:
        message = f"The {request_type} command exited with code {result.exit_code}"
        stderr = tail_lines(result.stderr)
        if stderr:
            message += f":\n{stderr}"
        return ProgressEvent.failed(message, HandlerErrorCode.GeneralServiceException)
    attributes = last_json_object(result.stdout) or {}
    return ProgressEvent.success(physical_id, attributes)


class CommandProvider(Provider):
    """The ``Local::Command`` resource type."""

    schema = SCHEMA

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Run the Create command; its last JSON stdout line becomes the attributes."""
        physical_id = request.physical_id or request.physical_id_hint
        command = request.properties.get("Create")
        if command is None:
            return ProgressEvent.success(physical_id, {})
        context.report("running the Create command")
        return _run(request, command, "Create", physical_id)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Run Update (or Create) when a property other than Delete/TimeoutSeconds changed."""
        physical_id = request.physical_id or request.physical_id_hint
        before = request.previous_properties or {}
        after = request.properties
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        command = after.get("Update", after.get("Create"))
        if not (changed - _NO_RERUN) or command is None:
            return ProgressEvent.success(physical_id, dict(request.previous_attributes or {}))
        kind = "Update" if "Update" in after else "Create"
        context.report(f"running the {kind} command")
        event = _run(request, command, "Update", physical_id)
        if event.status == "SUCCESS" and not event.attributes:
            return ProgressEvent.success(physical_id, dict(request.previous_attributes or {}))
        return event

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Run the Delete command (if any)."""
        physical_id = request.physical_id or request.physical_id_hint
        command = request.properties.get("Delete")
        if command is None:
            return ProgressEvent.success(physical_id)
        context.report("running the Delete command")
        return _run(request, command, "Delete", physical_id)

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Return the recorded properties and attributes (a command has no observable state)."""
        return ReadResult(dict(request.properties), dict(request.previous_attributes or {}))

    def attribute_names(self) -> frozenset[str] | None:
        """Any attribute may exist (they come from the command's output)."""
        return None
