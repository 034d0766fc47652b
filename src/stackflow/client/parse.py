"""Execution records rebuilt from the API's JSON: the inverse of :mod:`stackflow.views`.

Each function takes what a route returns and gives back the dataclass the local
:class:`~stackflow.engine.Engine` returns, so the CLI renders a remote result with the same
code. Fields the JSON does not carry get neutral values: an execution from a list has no input
or definition (``None``, ``""``). Stacks are in :mod:`stackflow.client.stack_json`.
"""

from __future__ import annotations

import json
from typing import Any

from stackflow.store.base import ExecutionRecord, HistoryEvent, WorkflowVersion

__all__ = ["definition_text", "event_from_json", "record_from_json", "version_from_json"]


def definition_text(definition: Any) -> str:
    """Return a definition as stored: compact JSON text, or a code reference as is.

    Args:
        definition: The API's ``definition`` (a parsed object, a code reference, or None).
    """
    if definition is None:
        return ""
    if isinstance(definition, str):
        return definition
    return json.dumps(definition, separators=(",", ":"))


def record_from_json(data: dict[str, Any]) -> ExecutionRecord:
    """Return an execution from ``GET /executions[/{id}]`` or a start, stop or redrive answer.

    Args:
        data: :func:`stackflow.views.record_json` (``full`` or not), maybe with ``version``.
    """
    return ExecutionRecord(
        execution_id=str(data["execution"]),
        name=str(data.get("name") or ""),
        workflow=str(data.get("workflow") or ""),
        definition=definition_text(data.get("definition")),
        status=str(data["status"]),
        input=data.get("input"),
        start_time=float(data.get("start_time") or 0.0),
        output=data.get("output"),
        error=data.get("error"),
        cause=data.get("cause"),
        stop_time=data.get("stop_time"),
        parent_id=data.get("parent_id"),
        version=data.get("version"),
    )


def event_from_json(data: dict[str, Any]) -> HistoryEvent:
    """Return a history event from ``GET /executions/{id}/history``.

    Args:
        data: :func:`stackflow.views.event_json`.
    """
    return HistoryEvent(
        id=int(data["id"]),
        type=str(data["type"]),
        timestamp=float(data["timestamp"]),
        previous_event_id=int(data.get("previous_event_id") or 0),
        details=dict(data.get("details") or {}),
    )


def version_from_json(data: dict[str, Any]) -> WorkflowVersion:
    """Return a deployed workflow version from ``POST /workflows`` or ``GET /workflows/{name}``.

    Args:
        data: ``{"name", "version", "created", "definition"?}``.
    """
    return WorkflowVersion(
        name=str(data["name"]),
        version=int(data["version"]),
        definition=definition_text(data.get("definition")),
        created=float(data.get("created") or 0.0),
    )
