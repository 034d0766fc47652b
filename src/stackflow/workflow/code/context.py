"""Which code execution the current thread (or task) belongs to."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

from stackflow.errors import StackflowError

if TYPE_CHECKING:
    from stackflow.workflow.code.run import CodeRun

_CURRENT: contextvars.ContextVar[CodeRun | None] = contextvars.ContextVar(
    "stackflow_code_run", default=None
)


def current_run() -> CodeRun | None:
    """Return the code execution running in this context, or None outside a workflow."""
    return _CURRENT.get()


def require_run() -> CodeRun:
    """Return the code execution running in this context.

    Raises:
        StackflowError: Called outside a running ``@workflow``.
    """
    run = _CURRENT.get()
    if run is None:
        raise StackflowError(
            "this call must run inside a @stackflow.workflow execution "
            "(start it with Engine.run/start, `stackflow workflow run MODULE:FUNCTION`, "
            "or stackflow.testing.run_workflow)"
        )
    return run


def enter_run(run: CodeRun) -> contextvars.Token[CodeRun | None]:
    """Make ``run`` the current execution of this context."""
    return _CURRENT.set(run)


def leave_run(token: contextvars.Token[CodeRun | None]) -> None:
    """Undo :func:`enter_run`."""
    _CURRENT.reset(token)


_IN_STEP: contextvars.ContextVar[bool] = contextvars.ContextVar("stackflow_in_step", default=False)


def in_step() -> bool:
    """Return True while a step's function runs (steps it calls are plain calls)."""
    return _IN_STEP.get()


def enter_step() -> contextvars.Token[bool]:
    """Mark the current context as running a step's function."""
    return _IN_STEP.set(True)


def leave_step(token: contextvars.Token[bool]) -> None:
    """Undo :func:`enter_step`."""
    _IN_STEP.reset(token)
