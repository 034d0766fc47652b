"""Workflows written in Python: ``@workflow``, ``@step`` and the durable primitives."""

from stackflow.workflow.code.api import (
    current_execution_id,
    gather,
    patched,
    run_child,
    send_event,
    sleep,
    wait_for_event,
)
from stackflow.workflow.code.decorators import (
    RetryPolicy,
    StepFunction,
    WorkflowFunction,
    resolve_workflow,
    step,
    workflow,
)
from stackflow.workflow.code.records import StepFailedError, StepMismatchError

__all__ = [
    "RetryPolicy",
    "StepFailedError",
    "StepFunction",
    "StepMismatchError",
    "WorkflowFunction",
    "current_execution_id",
    "gather",
    "patched",
    "resolve_workflow",
    "run_child",
    "send_event",
    "sleep",
    "step",
    "wait_for_event",
    "workflow",
]
