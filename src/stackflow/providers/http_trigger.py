"""``Stackflow::HttpTrigger``: ``POST /hooks/NAME`` starts a workflow with the request body.

Like Logic Apps' request trigger: the server answers ``202`` with the execution id, or waits for
the result when asked (``?wait=SECONDS``). Properties:

* ``Workflow`` (required): a workflow name, ``NAME:VERSION``, or a state machine ARN (what
  ``!Ref`` of a ``Stackflow::Workflow`` returns).
* ``Name`` (create-only): the hook's name, default ``<stack>-<logical id>``.
* ``Auth``: ``{Type: None}`` (the default: anyone who reaches the server may call),
  ``{Type: Token, Secret}`` (``Authorization: Bearer SECRET`` or ``X-Stackflow-Token: SECRET``),
  or ``{Type: Hmac, Secret, Header, Algorithm}``: the header (default
  ``X-Stackflow-Signature``) holds the HMAC-SHA256 of the raw body in hex, optionally prefixed
  ``sha256=``. Pass the secret as a ``NoEcho`` parameter; ``Auth`` is write-only: never shown
  in change sets, drift or errors. Only the SHA-256 of a token is stored.

The provider stores a :class:`~stackflow.store.triggers.TriggerRecord` (``store.triggers``).
``Ref`` returns the name; ``Fn::GetAtt`` gives ``Url`` (the path ``/hooks/NAME``) and ``Name``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from stackflow.errors import ProviderError
from stackflow.providers.base import (
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import (
    invalid,
    name_taken,
    stack_resource_name,
    whole_store,
)
from stackflow.providers.schedule import check_record_name, target_workflow
from stackflow.store.triggers import TriggerRecord

__all__ = [
    "DEFAULT_HEADER",
    "MIN_SECRET_LENGTH",
    "TYPE_NAME",
    "HttpTriggerProvider",
    "build_record",
    "hook_path",
    "token_digest",
    "trigger_name",
]

TYPE_NAME = "Stackflow::HttpTrigger"
#: The header of an HMAC signature unless ``Auth.Header`` names another.
DEFAULT_HEADER = "X-Stackflow-Signature"
#: Shortest accepted secret.
MIN_SECRET_LENGTH = 8
_NAME_PATTERN = "^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": TYPE_NAME,
        "description": "POST /hooks/NAME starts a workflow with the JSON request body as input.",
        "properties": {
            "Name": {
                "type": "string",
                "pattern": _NAME_PATTERN,
                "maxLength": 64,
                "description": "Hook name (default <stack>-<logical id>): POST /hooks/NAME.",
            },
            "Workflow": {
                "type": "string",
                "description": "Workflow name, NAME:VERSION or state machine ARN.",
            },
            "Auth": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "Type": {"type": "string", "enum": ["None", "Token", "Hmac"]},
                    "Secret": {
                        "type": "string",
                        "description": "The token, or the HMAC key (use a NoEcho parameter).",
                    },
                    "Header": {
                        "type": "string",
                        "pattern": "^[A-Za-z0-9-]+$",
                        "description": f"Header of the HMAC signature (default {DEFAULT_HEADER}).",
                    },
                    "Algorithm": {"type": "string", "enum": ["sha256"]},
                },
            },
            "Url": {"type": "string", "readOnly": True, "description": "The path /hooks/NAME."},
        },
        "required": ["Workflow"],
        "createOnlyProperties": ["/properties/Name"],
        "readOnlyProperties": ["/properties/Url"],
        "writeOnlyProperties": ["/properties/Auth/Secret"],
        "primaryIdentifier": ["/properties/Name"],
        "additionalProperties": False,
    }
)


#: The trigger name: ``Name``, the physical id, or ``<stack>-<logical id>``.
trigger_name = stack_resource_name


def hook_path(name: str) -> str:
    """Return the path a trigger answers on: ``/hooks/NAME``.

    Args:
        name: The trigger name.
    """
    return f"/hooks/{name}"


def token_digest(token: str) -> str:
    """Return the SHA-256 (hex) of a token, as stored for ``Auth.Type: Token``.

    Args:
        token: The token.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def build_record(request: ResourceRequest, created_at: float, now: float) -> TriggerRecord:
    """Validate a request's properties and build the trigger record.

    Args:
        request: The request.
        created_at: The trigger's creation time (epoch seconds).
        now: The current time (epoch seconds).

    Raises:
        ProviderError: InvalidRequest naming the property at fault (never quoting the secret).
    """
    props = request.properties
    name = trigger_name(request)
    check_record_name(name)
    workflow = target_workflow(props.get("Workflow"))
    auth = props.get("Auth") or {}
    kind = str(auth.get("Type") or "None")
    secret = auth.get("Secret")
    if kind == "None":
        if secret is not None:
            raise invalid("Auth.Secret: only used with Auth.Type Token or Hmac (Type is None)")
        stored = None
    else:
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            raise invalid(
                f"Auth.Secret: required with Auth.Type {kind}: a string of at least "
                f"{MIN_SECRET_LENGTH} characters (pass it as a NoEcho parameter)"
            )
        stored = token_digest(secret) if kind == "Token" else secret
    return TriggerRecord(
        name=name,
        workflow=workflow,
        auth_type=kind,
        secret=stored,
        header=str(auth.get("Header") or DEFAULT_HEADER),
        algorithm=str(auth.get("Algorithm") or "sha256"),
        stack_name=request.stack_name,
        logical_id=request.logical_id,
        created_at=created_at,
        updated_at=now,
    )


def _triggers(context: ProviderContext) -> Any:
    """Return the trigger store reachable from the context, or fail clearly."""
    return whole_store(context, TYPE_NAME).triggers


def _attributes(name: str) -> dict[str, Any]:
    return {"Url": hook_path(name), "Name": name}


class HttpTriggerProvider(Provider):
    """The ``Stackflow::HttpTrigger`` resource type."""

    schema = SCHEMA

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Validate the properties and store the trigger (its name must be free)."""
        store = _triggers(context)
        name = trigger_name(request)
        existing = store.find_trigger(name)
        taken = name_taken(existing, request, "an HTTP trigger", name)
        return taken or self._write(request, store, existing)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Store the new workflow and authentication."""
        store = _triggers(context)
        return self._write(request, store, store.find_trigger(trigger_name(request)))

    def _write(
        self, request: ResourceRequest, store: Any, existing: TriggerRecord | None
    ) -> ProgressEvent:
        now = time.time()
        record = build_record(request, existing.created_at if existing else now, now)
        store.put_trigger(record)
        return ProgressEvent.success(record.name, _attributes(record.name))

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Remove the trigger; a missing one is success."""
        _triggers(context).delete_trigger(trigger_name(request))
        return ProgressEvent.success(request.physical_id)

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Return the stored trigger's workflow and name (``Auth`` is write-only: not read)."""
        name = trigger_name(request)
        record = _triggers(context).find_trigger(name)
        if record is None:
            return None
        props = request.properties
        actual: dict[str, Any] = {}
        if "Workflow" in props:
            try:
                same = target_workflow(props["Workflow"]) == record.workflow
            except ProviderError:
                same = False
            actual["Workflow"] = props["Workflow"] if same else record.workflow
        if "Name" in props:
            actual["Name"] = record.name
        return ReadResult(actual, _attributes(name))
