"""JSON views of stackflow's records, shared by the CLI's ``--json`` output and the HTTP API.

One place decides how an execution, a history event, a definition problem or a stack event
looks as JSON, so ``stackflow workflow describe --json`` and ``GET /api/v1/executions/{id}``
print the same keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackflow.errors import Problem
    from stackflow.scheduler.service import ScheduledRun
    from stackflow.store.base import ExecutionRecord, HistoryEvent
    from stackflow.store.services import ReplicaRecord, ServiceRecord
    from stackflow.store.stacks import ChangeSetRecord, StackEvent, StackRecord

__all__ = [
    "change_set_record_json",
    "event_json",
    "execution_graph",
    "log_files",
    "parsed_definition",
    "problem_json",
    "ready_count",
    "record_json",
    "scheduled_run_json",
    "service_json",
    "service_summary_json",
    "stack_event_json",
    "stack_summary_json",
    "supervisor_text",
]


def problem_json(problem: Problem) -> dict[str, Any]:
    """Return a problem in user input as JSON.

    Args:
        problem: The problem.

    Returns:
        ``{"file", "line", "column", "pointer", "message", "code"}``.
    """
    loc = problem.location
    return {
        "file": loc.file,
        "line": loc.line,
        "column": loc.column,
        "pointer": loc.pointer,
        "message": problem.message,
        "code": problem.code,
    }


def parsed_definition(text: str) -> Any:
    """Return a stored definition parsed from JSON, or the text itself (a code reference).

    Args:
        text: The definition as stored with an execution or a workflow version.
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def record_json(record: ExecutionRecord, *, full: bool = False) -> dict[str, Any]:
    """Return an execution as the JSON object ``list`` and ``describe`` print.

    Args:
        record: The execution.
        full: Include input, output and the definition (for ``describe``).

    Returns:
        ``execution, name, workflow, status, start_time, stop_time, error, cause, parent_id``
        (times in seconds since the epoch), plus ``input, output, definition`` when ``full``.
    """
    data: dict[str, Any] = {
        "execution": record.execution_id,
        "name": record.name,
        "workflow": record.workflow,
        "status": record.status,
        "start_time": record.start_time,
        "stop_time": record.stop_time,
        "error": record.error,
        "cause": record.cause,
        "parent_id": record.parent_id,
    }
    if full:
        definition = parsed_definition(record.definition)
        data.update(input=record.input, output=record.output, definition=definition)
    return data


def event_json(event: HistoryEvent) -> dict[str, Any]:
    """Return a history event as the JSON object ``history --json`` prints.

    Args:
        event: The event.

    Returns:
        ``{"id", "type", "timestamp", "previous_event_id", "details"}``.
    """
    return {
        "id": event.id,
        "type": event.type,
        "timestamp": event.timestamp,
        "previous_event_id": event.previous_event_id,
        "details": event.details,
    }


def stack_event_json(event: StackEvent) -> dict[str, Any]:
    """Return a stack event as ``stack events --json`` prints it (CloudFormation's names).

    Args:
        event: The event (its reason never holds NoEcho values).
    """
    return {
        "EventId": event.seq,
        "Timestamp": event.timestamp,
        "LogicalResourceId": event.logical_id,
        "PhysicalResourceId": event.physical_id,
        "ResourceType": event.resource_type,
        "ResourceStatus": event.status,
        "ResourceStatusReason": event.reason,
        "OperationId": event.operation_id,
    }


def stack_summary_json(record: StackRecord) -> dict[str, Any]:
    """Return a stack as one row of ``stack list --json``.

    Args:
        record: The stack.
    """
    return {
        "StackName": record.name,
        "StackId": record.stack_id,
        "StackStatus": record.status,
        "CreationTime": record.created_at,
        "LastUpdatedTime": record.updated_at,
        "TemplateFile": record.template_file,
    }


def execution_graph(definition: str, events: list[Any]) -> dict[str, Any]:
    """Return the graph of an execution's history from its stored definition text.

    Args:
        definition: The execution record's definition (a code reference or ASL JSON).
        events: Its history events.

    Returns:
        :func:`stackflow.workflow.code.graph.history_graph` for a code workflow,
        :func:`stackflow.workflow.code.graph.asl_history_graph` for an ASL one.
    """
    from stackflow.workflow.code.graph import asl_history_graph, history_graph
    from stackflow.workflow.code.run import code_ref

    if code_ref(definition) is not None:
        return history_graph(events)
    document = parsed_definition(definition)
    return asl_history_graph(events, document if isinstance(document, dict) else {})


def change_set_record_json(record: ChangeSetRecord) -> dict[str, Any]:
    """Return a stored change set as ``ChangeSet.to_json()`` plus its status and creation time.

    Args:
        record: The change set (its ``changes`` were masked when it was made).

    Returns:
        The stored ``changes`` with ``ChangeSetId``, ``Status`` (the record's current one) and
        ``CreationTime`` (epoch seconds).
    """
    data = dict(record.changes)
    data["ChangeSetId"] = record.change_set_id
    data["Status"] = record.status
    data["CreationTime"] = record.created_at
    return data


def ready_count(record: ServiceRecord, replicas: list[ReplicaRecord]) -> int:
    """Return how many replicas of the service's current revision are READY.

    Args:
        record: The service.
        replicas: Its replica records.
    """
    return sum(1 for r in replicas if r.state == "READY" and r.revision == record.revision)


def supervisor_text(record: ServiceRecord, live: list[str], now: float) -> str:
    """Describe who supervises a service: its lease owner, or that nobody does.

    Args:
        record: The service.
        live: The live controllers (``store.services.live_controllers(now)``).
        now: The current time (epoch seconds).
    """
    if record.owner and record.lease_expires is not None and record.lease_expires > now:
        return record.owner
    if live:
        return f"waiting for {', '.join(live)}"
    return "none (no stackflow server is running; replicas are not supervised)"


def service_json(record: ServiceRecord, replicas: list[ReplicaRecord]) -> dict[str, Any]:
    """Return a service and its replicas as ``service status --json`` prints them.

    Args:
        record: The service.
        replicas: Its replica records.

    Returns:
        Every :class:`~stackflow.store.services.ServiceRecord` field, ``ready`` and
        ``replica_records`` (every replica's fields).
    """
    data = asdict(record)
    data["ready"] = ready_count(record, replicas)
    data["replica_records"] = [asdict(r) for r in replicas]
    return data


def service_summary_json(record: ServiceRecord, replicas: list[ReplicaRecord]) -> dict[str, Any]:
    """Return a service as one row of ``service list --json``.

    Args:
        record: The service.
        replicas: Its replica records.
    """
    return {
        "name": record.name,
        "stack": record.stack_name,
        "logical_id": record.logical_id,
        "revision": record.revision,
        "replicas": record.replicas,
        "ready": ready_count(record, replicas),
        "rollout": record.rollout,
        "load_balancer": record.load_balancer,
        "updated_at": record.updated_at,
    }


def log_files(
    home: Path, record: ServiceRecord, replicas: list[ReplicaRecord]
) -> list[tuple[int, Path]]:
    """Return ``(slot, log file)`` of every replica, in slot order, without duplicates.

    Replicas recorded with a ``log_path`` use it; files of replicas no longer recorded are found
    under ``<home>/services/<name>/<slot>-<replica>.log``.

    Args:
        home: The stackflow home.
        record: The service.
        replicas: Its replica records.
    """
    found: dict[Path, int] = {}
    for replica in replicas:
        if replica.log_path:
            found.setdefault(Path(replica.log_path), replica.slot)
    folder = home / "services" / record.name
    if folder.is_dir():
        for path in sorted(folder.glob("*.log")):
            slot_text = path.name.split("-", 1)[0]
            if slot_text.isdigit():
                found.setdefault(path, int(slot_text))
    return sorted(((slot, path) for path, slot in found.items()), key=lambda i: (i[0], str(i[1])))


def scheduled_run_json(run: ScheduledRun) -> dict[str, Any]:
    """Return a backfilled run as ``schedule backfill --json`` prints it.

    Args:
        run: The run.

    Returns:
        ``{"fire_time" (ISO 8601, UTC), "execution_name", "execution"}`` (``execution`` is
        None when an execution of that name existed with another input).
    """
    return {
        "fire_time": run.fire_time.isoformat().replace("+00:00", "Z"),
        "execution_name": run.execution_name,
        "execution": run.execution_id,
    }
