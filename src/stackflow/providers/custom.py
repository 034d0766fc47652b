"""Custom resources: ``Custom::*`` and ``AWS::CloudFormation::CustomResource``.

They follow CloudFormation's custom resource request/response protocol. The ``ServiceToken``
property selects the handler:

* ``python:MODULE:FUNCTION``: ``FUNCTION(event)`` is called in-process and returns the response
  (a dict; ``None`` means SUCCESS with no data). An exception fails the resource.
* ``stackflow:exec:<command>`` (run by ``/bin/sh -c``), or ``stackflow:exec`` with an
  ``ExecCommand`` property (an argv list or a shell string): the event is written as JSON on
  standard input, and the last line of standard output that is a JSON object is the response.

The event has ``RequestType`` (Create, Update, Delete), ``ServiceToken``, ``ResponseURL`` (always
``""``: nothing is uploaded), ``StackId``, ``RequestId``, ``ResourceType``, ``LogicalResourceId``,
``PhysicalResourceId`` (Update and Delete), ``ResourceProperties`` (every property, ServiceToken
included, values as resolved, not turned into strings) and ``OldResourceProperties`` (Update).

The response has ``Status`` (``SUCCESS`` or ``FAILED``), ``Reason``, ``PhysicalResourceId``
(default: the request's, or a generated one on Create), ``Data`` (the GetAtt attributes) and
``NoEcho`` (mask the attributes). An Update answering a different ``PhysicalResourceId`` replaced
the resource: the engine then sends a Delete for the old id.

Handlers get ``TimeoutSeconds`` (a property, default 300 seconds; CloudFormation waits an hour).
A property change never forces replacement; changing ``ServiceToken`` is refused
(``NotUpdatable``) as on AWS. Custom resources have no observable state, so no drift is reported.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import threading
from pathlib import Path
from typing import Any

from stackflow.errors import TaskResourceError
from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import invalid, last_json_object, run_process, tail_lines
from stackflow.workflow.tasks.base import (
    EXEC_RESOURCE,
    PYTHON_RESOURCE_PREFIX,
    parse_python_resource,
)
from stackflow.workflow.tasks.python_task import load_function

DEFAULT_TIMEOUT_SECONDS = 300.0
TYPE_NAME = "AWS::CloudFormation::CustomResource"

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": TYPE_NAME,
        "description": "A custom resource (also any Custom::Name type) following CloudFormation's "
        "custom resource protocol; ServiceToken is python:MODULE:FUNCTION or stackflow:exec.",
        "properties": {
            "ServiceToken": {
                "type": "string",
                "minLength": 1,
                "description": "python:MODULE:FUNCTION, stackflow:exec:<command>, or "
                "stackflow:exec with ExecCommand.",
            },
            "ExecCommand": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}},
                ],
                "description": "The command of ServiceToken stackflow:exec.",
            },
            "TimeoutSeconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": DEFAULT_TIMEOUT_SECONDS,
                "description": "How long the handler may take.",
            },
        },
        "required": ["ServiceToken"],
        "createOnlyProperties": [],
        "readOnlyProperties": [],
        "writeOnlyProperties": [],
        "additionalProperties": True,
    }
)


def _event(request: ResourceRequest, request_type: str) -> dict[str, Any]:
    props = request.properties
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": props.get("ServiceToken"),
        "ResponseURL": "",
        "StackId": request.stack_id,
        "RequestId": request.request_token,
        "ResourceType": request.resource_type,
        "LogicalResourceId": request.logical_id,
        "ResourceProperties": dict(props),
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = request.physical_id
    if request_type == "Update":
        event["OldResourceProperties"] = dict(request.previous_properties or {})
    return event


def _timeout(props: dict[str, Any]) -> float:
    value = props.get("TimeoutSeconds")
    try:
        return float(value) if value is not None else DEFAULT_TIMEOUT_SECONDS
    except (TypeError, ValueError):
        raise invalid(f"TimeoutSeconds must be a number, got {value!r}") from None


def _call_python(token: str, event: dict[str, Any], timeout: float, base_dir: Path) -> Any:
    # Modules beside the template are importable (after everything else on the path).
    folder = str(base_dir.resolve())
    if folder not in sys.path:
        sys.path.append(folder)
    try:
        function = load_function(token)
    except TaskResourceError as exc:
        raise invalid(str(exc)) from None
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            result = function(event)
            if inspect.iscoroutine(result):
                result = asyncio.run(result)
            box["result"] = result
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"custom-resource {token}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _TimedOut()
    if "error" in box:
        error = box["error"]
        raise _HandlerFailed(f"{token} raised {type(error).__name__}: {error}")
    return box.get("result")


class _TimedOut(Exception):
    """The handler did not answer in time."""


class _HandlerFailed(Exception):
    """The handler failed without a response."""


def _call_exec(
    token: str, props: dict[str, Any], event: dict[str, Any], timeout: float, base_dir: Path
) -> Any:
    command: Any
    if token.startswith(EXEC_RESOURCE + ":"):
        command = token[len(EXEC_RESOURCE) + 1 :]
        if not command.strip():
            raise invalid("ServiceToken stackflow:exec: names no command")
    else:
        command = props.get("ExecCommand")
        if command is None:
            raise invalid("ServiceToken stackflow:exec needs an ExecCommand property")
    result = run_process(
        command, stdin=json.dumps(event, default=str), timeout=timeout, cwd=base_dir
    )
    if result.timed_out:
        raise _TimedOut()
    if result.exit_code != 0:
        message = f"The handler exited with code {result.exit_code}"
        stderr = tail_lines(result.stderr)
        raise _HandlerFailed(message + (f":\n{stderr}" if stderr else ""))
    response = last_json_object(result.stdout)
    if response is None:
        raise _HandlerFailed("The handler printed no JSON response object on stdout")
    return response


def _invoke(request: ResourceRequest, request_type: str) -> ProgressEvent:
    props = request.properties
    token = props.get("ServiceToken")
    if not isinstance(token, str) or not token:
        raise invalid("ServiceToken is required")
    timeout = _timeout(props)
    event = _event(request, request_type)
    try:
        if token.startswith(PYTHON_RESOURCE_PREFIX):
            if parse_python_resource(token) is None:
                raise invalid(f"ServiceToken {token!r} must have the form python:MODULE:FUNCTION")
            response = _call_python(token, event, timeout, request.base_dir)
        elif token == EXEC_RESOURCE or token.startswith(EXEC_RESOURCE + ":"):
            response = _call_exec(token, props, event, timeout, request.base_dir)
        else:
            raise invalid(
                f"Unsupported ServiceToken {token!r}: expected python:MODULE:FUNCTION, "
                "stackflow:exec:<command> or stackflow:exec with ExecCommand"
            )
    except _TimedOut:
        return ProgressEvent.failed(
            f"The custom resource handler did not respond within {timeout:g} seconds",
            HandlerErrorCode.Timeout,
        )
    except _HandlerFailed as exc:
        return ProgressEvent.failed(str(exc))
    return _response(request, request_type, response)


def _response(request: ResourceRequest, request_type: str, response: Any) -> ProgressEvent:
    current = request.physical_id or request.physical_id_hint
    if response is None:
        return ProgressEvent.success(current, {})
    if not isinstance(response, dict):
        return ProgressEvent.failed(
            f"The handler's response must be an object, got {type(response).__name__}",
            HandlerErrorCode.InvalidRequest,
        )
    status = str(response.get("Status", "SUCCESS")).upper()
    reason = str(response.get("Reason") or "")
    if status == "FAILED":
        return ProgressEvent.failed(reason or "The custom resource handler reported FAILED")
    if status != "SUCCESS":
        return ProgressEvent.failed(
            f"The handler's response Status must be SUCCESS or FAILED, got {status!r}",
            HandlerErrorCode.InvalidRequest,
        )
    data = response.get("Data") or {}
    if not isinstance(data, dict):
        return ProgressEvent.failed(
            "The handler's response Data must be an object", HandlerErrorCode.InvalidRequest
        )
    physical = response.get("PhysicalResourceId") or current
    if request_type == "Delete":
        physical = request.physical_id or physical
    return ProgressEvent.success(
        str(physical), data, reason, no_echo=bool(response.get("NoEcho", False))
    )


class CustomResourceProvider(Provider):
    """Custom resources (``Custom::*`` and ``AWS::CloudFormation::CustomResource``)."""

    schema = SCHEMA

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Send a Create request to the handler."""
        context.report(f"calling {request.properties.get('ServiceToken')} (Create)")
        return _invoke(request, "Create")

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Send an Update request; a changed ServiceToken is refused (NotUpdatable)."""
        before = (request.previous_properties or {}).get("ServiceToken")
        after = request.properties.get("ServiceToken")
        if before is not None and before != after:
            return ProgressEvent.failed(
                "Modifying the ServiceToken of a custom resource is not allowed",
                HandlerErrorCode.NotUpdatable,
            )
        context.report(f"calling {after} (Update)")
        return _invoke(request, "Update")

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Send a Delete request to the handler."""
        context.report(f"calling {request.properties.get('ServiceToken')} (Delete)")
        return _invoke(request, "Delete")

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Return the recorded properties and attributes (no observable state)."""
        return ReadResult(dict(request.properties), dict(request.previous_attributes or {}))

    def requires_replacement(self, name: str, before: Any, after: Any) -> bool:
        """Never: the handler decides (by answering a new PhysicalResourceId)."""
        return False

    def attribute_names(self) -> frozenset[str] | None:
        """Any attribute may exist (the handler's Data)."""
        return None
