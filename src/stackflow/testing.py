"""Helpers for testing workflows (shipped for users, used by stackflow's own tests).

``run_workflow`` runs a definition to completion on an in-memory store. With ``time_skipping``
(the default) a fake clock jumps over Wait states and retry intervals whenever nothing else can
happen, so a workflow that waits for a day finishes in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackflow.clock import FakeClock
from stackflow.engine import DefinitionSource, Engine
from stackflow.store.base import HistoryEvent
from stackflow.store.memory import MemoryStore
from stackflow.types import JSON
from stackflow.workflow.code.decorators import WorkflowFunction


@dataclass(frozen=True)
class WorkflowResult:
    """The outcome of :func:`run_workflow`.

    Attributes:
        execution_id: The execution's id.
        status: SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
        output: Output when SUCCEEDED.
        error: Error name when not SUCCEEDED.
        cause: Cause when not SUCCEEDED.
        events: The history, each event with ``type`` (e.g. ``PassStateEntered``) and ``details``.
    """

    execution_id: str
    status: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    events: list[HistoryEvent] = field(default_factory=list)


def run_workflow(
    definition: DefinitionSource,
    input: JSON = None,
    *,
    time_skipping: bool = True,
    timeout: float | None = 30.0,
) -> WorkflowResult:
    """Run a workflow definition to completion on an in-memory store.

    Args:
        definition: The definition (parsed JSON, a loaded definition, or a file path), or a
            ``@stackflow.workflow`` function (a code workflow; its sleeps are skipped too).
        input: Execution input (default ``{}``).
        time_skipping: Skip waits and retry intervals on a fake clock; False runs in real time.
        timeout: Real seconds to wait for the execution to end.

    Returns:
        The execution's status, output, error, cause and history.

    Raises:
        DefinitionError: The definition is invalid.
        TimeoutError: The execution did not end within ``timeout``.
    """
    clock = FakeClock() if time_skipping else None
    if callable(definition) and not isinstance(definition, WorkflowFunction):
        raise TypeError("run_workflow takes a definition or a @stackflow.workflow function")
    engine = Engine(MemoryStore(), clock=clock)
    try:
        record = engine.run(definition, {} if input is None else input, timeout=timeout)
        return WorkflowResult(
            execution_id=record.execution_id,
            status=record.status,
            output=record.output,
            error=record.error,
            cause=record.cause,
            events=engine.history(record.execution_id),
        )
    finally:
        engine.close()
