"""What a code execution's history says about each numbered operation (step, sleep, event...).

Every operation of a code workflow gets the next index in program order. Its events carry the
index (``details["step"]``), so after a crash the function can run again and each operation finds
what it did last time. An operation recorded under another name means the code changed under a
running execution: that is reported, never guessed.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackflow.errors import StackflowError
from stackflow.types import JSON

if TYPE_CHECKING:
    from stackflow.store.base import HistoryEvent

#: Error name of a step call that does not match the recorded history.
STEP_MISMATCH = "Stackflow.StepMismatch"


@dataclass
class Recorded:
    """One operation as the history has it.

    Attributes:
        kind: ``step``, ``sleep``, ``event``, ``child``, ``patch`` or ``send``.
        name: Step name, event name, child target or change id.
        done: The operation completed (its result is ``output`` or ``error``/``cause``).
        output: Its result.
        error: Error name when it failed.
        cause: Cause when it failed.
        due: When a sleep or an event wait ends (epoch seconds), if recorded.
        child_id: The child execution of a ``child`` operation.
        attempts: Failed attempts of a step that will be retried.
        retry_at: When the next attempt of such a step is due.
    """

    kind: str
    name: str
    done: bool = False
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    due: float | None = None
    child_id: str | None = None
    attempts: int = 0
    retry_at: float | None = None


class StepMismatchError(StackflowError):
    """The code calls a different operation than the history records at that index."""

    def __init__(self, index: int, recorded: Recorded, requested_kind: str, requested: str) -> None:
        self.index = index
        super().__init__(
            f"Step {index}: the history records {recorded.kind} {recorded.name!r} but the code "
            f"now calls {requested_kind} {requested!r}. The workflow's code changed while this "
            "execution was in flight: branch with stackflow.patched('change-id') to keep old "
            "executions on the old path, then `stackflow workflow redrive` it."
        )


class StepFailedError(StackflowError):
    """A step failed with an error that cannot be rebuilt as its original exception type.

    Attributes:
        error: The recorded error name (the exception's class name).
        cause: The recorded cause.
    """

    def __init__(self, error: str, cause: str | None) -> None:
        self.error = error
        self.cause = cause
        super().__init__(f"{error}: {cause}" if cause else error)


_KIND_BY_EVENT = {
    "TaskStateEntered": "step",
    "WaitStateEntered": "sleep",
    "EventWaitStarted": "event",
    "ChildStarted": "child",
    "StepPatched": "patch",
    "EventSent": "send",
}


def read_history(events: list[HistoryEvent]) -> dict[int, Recorded]:
    """Return the recorded operations of a code execution by index."""
    records: dict[int, Recorded] = {}
    for event in events:
        details = event.details
        index = details.get("step")
        if not isinstance(index, int):
            continue
        kind = _KIND_BY_EVENT.get(event.type)
        if kind is not None:
            record = Recorded(kind, str(details.get("name", "")))
            record.due = details.get("due")
            record.child_id = details.get("child_id")
            record.done = kind in ("patch", "send")
            records[index] = record
            continue
        found = records.get(index)
        if found is None:
            continue
        record = found
        if event.type in ("TaskSucceeded", "EventReceived", "ChildSucceeded"):
            record.done, record.output = True, details.get("output")
        elif event.type == "EventTimedOut" or event.type == "WaitStateExited":
            record.done = True
        elif event.type in ("TaskFailed", "ChildFailed") and details.get("final", True):
            record.done = True
            record.error, record.cause = details.get("error"), details.get("cause")
        elif event.type == "TaskFailed":  # an attempt that will be retried
            record.attempts += 1
            retry_at = details.get("retry_at")
            record.retry_at = retry_at if isinstance(retry_at, (int, float)) else None
    return records


def rebuild_error(error: str | None, cause: str | None) -> BaseException:
    """Return an exception for a recorded failure: the built-in type when it is one."""
    message = cause or ""
    try:
        parsed = json.loads(message) if message.startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        message = str(parsed["errorMessage"])
    kind = getattr(builtins, error or "", None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:  # an exception type with another constructor
            pass
    return StepFailedError(error or "Error", cause)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """Return the error name and the Lambda-style JSON cause of an exception."""
    import traceback

    name = exc.error if isinstance(exc, StepFailedError) else type(exc).__name__
    cause = json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": name,
            "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],
        }
    )
    return name, cause


def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> JSON:
    """Return a step's arguments as recorded in its TaskStateEntered event."""
    if not kwargs:
        return list(args) if len(args) != 1 else args[0]
    return {"args": list(args), "kwargs": kwargs}
