"""What workflow code calls: durable sleep, events, parallel steps, patches, child workflows."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from stackflow.types import JSON
from stackflow.workflow.code.context import require_run


def sleep(seconds: float) -> None:
    """Sleep durably inside a workflow: after a restart only the time left is slept."""
    require_run().sleep(seconds)


def wait_for_event(name: str, timeout: float | None = None) -> JSON:
    """Wait for ``send_event(execution_id, name, payload)`` and return the payload.

    Returns:
        The event's payload, or None when ``timeout`` seconds passed first.
    """
    return require_run().wait_for_event(name, timeout)


def send_event(execution_id: str, name: str, payload: JSON = None) -> None:
    """Send an event to another execution's ``wait_for_event(name)``, from inside a workflow
    (recorded: a replay does not send it again). Outside a workflow use ``Engine.send_event``."""
    require_run().send_event(execution_id, name, payload)


def gather(*futures: Future[Any]) -> list[Any]:
    """Wait for futures from ``step.submit(...)`` and return their results in order."""
    return [future.result() for future in futures]


def patched(change_id: str) -> bool:
    """Branch safely on a code change: True on the new path, False for executions that were
    already past this point when the change was deployed."""
    return require_run().patched(change_id)


def run_child(workflow: Any, input: JSON = None, *, name: str | None = None) -> JSON:
    """Run a child execution and return its output.

    Args:
        workflow: A ``@workflow`` function, or the name (``NAME`` or ``NAME:VERSION``) of a
            deployed workflow (ASL or code).
        input: The child's input.
        name: The child execution's name (default: derived from the parent's).

    Raises:
        Exception: The child's error (a built-in exception type when it was one).
    """
    return require_run().run_child(workflow, {} if input is None else input, name)


def current_execution_id() -> str:
    """Return the id of the execution the calling workflow code belongs to."""
    return require_run().execution_id
