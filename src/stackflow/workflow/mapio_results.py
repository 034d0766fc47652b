"""The result files of a Distributed Map's ResultWriter: entries as AWS writes them (pure).

A child execution is described as in AWS's ``SUCCEEDED_n.json`` / ``FAILED_n.json`` /
``PENDING_n.json`` files (keys in AWS's alphabetical order, ``Input``/``Output`` as compact JSON
strings, dates as ``2025-02-04T01:49:50.099Z``), and ``WriterConfig.Transformation`` (NONE,
COMPACT, FLATTEN) is applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from stackflow.types import JSON

_COMPACT: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}

#: Child statuses that go to PENDING files (never started, or cut off).
PENDING_STATUSES = frozenset({"PENDING", "RUNNING", None})
#: Child statuses that go to FAILED files.
FAILED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def make_map_run_arn(execution_arn: str, label: str, map_run_id: str) -> str:
    """Build a Map Run ARN the way AWS does from the parent execution's ARN.

    Args:
        execution_arn: ``arn:<partition>:states:<region>:<account>:execution:<machine>:<name>``.
        label: The Map state's ``Label``, or its name.
        map_run_id: The Map Run's id (a UUID).

    Returns:
        ``arn:<partition>:states:<region>:<account>:mapRun:<machine>/<label>:<map_run_id>``.
    """
    head, sep, tail = execution_arn.partition(":execution:")
    if not sep:
        return f"{execution_arn}/{label}:{map_run_id}"
    machine = tail.rsplit(":", 1)[0]
    return f"{head}:mapRun:{machine}/{label}:{map_run_id}"


def aws_timestamp(value: Any) -> str | None:
    """Format a time as AWS prints it in result files: ``2025-02-04T01:49:50.099Z``.

    Args:
        value: Epoch seconds, a datetime (naive means UTC), a preformatted string, or None.

    Returns:
        The ISO 8601 text in UTC with milliseconds, or None for None.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(float(value), tz=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _dumps(value: JSON) -> str:
    return json.dumps(value, **_COMPACT)  # type: ignore[arg-type]


def _child_machine_arn(child_arn: str, parent_arn: str) -> str:
    for arn in (child_arn, parent_arn):
        head, sep, tail = arn.partition(":execution:")
        if sep:
            return f"{head}:stateMachine:{tail.rsplit(':', 1)[0]}"
    return ""


def result_entry(result: Mapping[str, Any], execution_arn: str) -> dict[str, JSON]:
    """Describe one child execution as AWS does in SUCCEEDED/FAILED/PENDING result files.

    Args:
        result: ``{"index", "name", "execution_arn", "input", "status", "output", "error",
            "cause", "start_time", "stop_time"}`` of one child execution.
        execution_arn: The parent execution's ARN (for the child's state machine ARN when the
            child's own ARN does not have the usual form).

    Returns:
        The entry, keys in AWS's (alphabetical) order; a PENDING child has only ``Input``,
        ``InputDetails`` and ``Status``.
    """
    status = result.get("status")
    if status in PENDING_STATUSES:
        return {
            "Input": _dumps(result.get("input")),
            "InputDetails": {"Included": True},
            "Status": "PENDING",
        }
    child_arn = str(result.get("execution_arn") or "")
    entry: dict[str, JSON] = {}
    if status != "SUCCEEDED":
        if result.get("cause") is not None:
            entry["Cause"] = result["cause"]
        if result.get("error") is not None:
            entry["Error"] = result["error"]
    entry["ExecutionArn"] = child_arn
    entry["Input"] = _dumps(result.get("input"))
    entry["InputDetails"] = {"Included": True}
    entry["Name"] = result.get("name") or child_arn.rsplit(":", 1)[-1]
    if status == "SUCCEEDED":
        entry["Output"] = _dumps(result.get("output"))
    entry["OutputDetails"] = {"Included": True}
    entry["RedriveCount"] = 0
    if status == "SUCCEEDED":
        entry["RedriveStatus"] = "NOT_REDRIVABLE"
        entry["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    else:
        entry["RedriveStatus"] = "REDRIVABLE_BY_MAP_RUN"
    start, stop = aws_timestamp(result.get("start_time")), aws_timestamp(result.get("stop_time"))
    if start is not None:
        entry["StartDate"] = start
    entry["StateMachineArn"] = _child_machine_arn(child_arn, execution_arn)
    entry["Status"] = status
    if stop is not None:
        entry["StopDate"] = stop
    return entry


def transform_results(
    results: Sequence[Mapping[str, Any]], transformation: str, execution_arn: str
) -> list[JSON]:
    """Apply a WriterConfig Transformation to child results (failed children stay unchanged).

    Args:
        results: Child results (see :func:`result_entry`), in item order.
        transformation: ``NONE`` (AWS's metadata entries), ``COMPACT`` (the outputs) or
            ``FLATTEN`` (the outputs, arrays spliced in).
        execution_arn: The parent execution's ARN.

    Returns:
        The transformed list; a child that did not succeed appears as its ``NONE`` entry.
    """
    return list(iter_results(results, transformation, execution_arn))


def iter_results(
    results: Iterable[Mapping[str, Any]], transformation: str, execution_arn: str
) -> Iterator[JSON]:
    """Yield the values of :func:`transform_results` one at a time."""
    for result in results:
        if transformation == "NONE" or result.get("status") != "SUCCEEDED":
            yield result_entry(result, execution_arn)
        elif transformation == "FLATTEN" and isinstance(result.get("output"), list):
            yield from result["output"]
        else:
            yield result.get("output")


def encode_chunks(values: Iterable[JSON], output_type: str) -> Iterator[bytes]:
    """Serialize result values as a result file, a chunk per value (a JSON array, or JSON Lines).

    Args:
        values: The entries or outputs.
        output_type: ``JSON`` or ``JSONL``.

    Yields:
        Consecutive pieces of the file's bytes (UTF-8).
    """
    if output_type == "JSONL":
        for value in values:
            yield (_dumps(value) + "\n").encode("utf-8")
        return
    yield b"["
    for i, value in enumerate(values):
        yield (("," if i else "") + _dumps(value)).encode("utf-8")
    yield b"]"


def encode_results(values: list[JSON], output_type: str) -> bytes:
    """Serialize result values as a result file: a JSON array, or JSON Lines.

    Args:
        values: The entries or outputs.
        output_type: ``JSON`` or ``JSONL``.

    Returns:
        The file's bytes (UTF-8).
    """
    if output_type == "JSONL":
        return "".join(_dumps(value) + "\n" for value in values).encode("utf-8")
    return _dumps(values).encode("utf-8")
