"""What every route module shares: the engine of the app, the role dependencies, and starting a
deployed workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, Request

from stackflow.api.auth import require

if TYPE_CHECKING:
    from stackflow.engine import Engine
    from stackflow.store.base import ExecutionRecord
    from stackflow.types import JSON

__all__ = ["ADMIN", "OPERATE", "READ", "engine_of", "stack_secrets", "start_deployed"]

#: Route dependencies: the least role a route needs.
READ = [Depends(require("read"))]
OPERATE = [Depends(require("operate"))]
ADMIN = [Depends(require("admin"))]


def engine_of(request: Request) -> Engine:
    """Return the engine the app serves.

    Args:
        request: The current request.
    """
    engine: Engine = request.app.state.engine
    return engine


def stack_secrets(engine: Engine, stack_name: str | None) -> list[str]:
    """Return the NoEcho values recorded for a stack, to mask them in answers.

    Args:
        engine: The engine.
        stack_name: The stack (None or "" for none).

    Returns:
        The values; none when there is no such stack.
    """
    from stackflow.stacks.inputs import stack_secrets as secrets_of

    return secrets_of(engine.store.stacks, stack_name)


def start_deployed(
    engine: Engine, workflow: str, version: int | None, payload: JSON, *, name: str | None = None
) -> ExecutionRecord:
    """Start an execution of a deployed workflow version, driven by the engine's runtime.

    The API never hands a workflow reference to ``Engine.start``, which would take a file of
    that name on the server for the definition.

    Args:
        engine: The engine.
        workflow: The deployed workflow's name.
        version: Its version (None: the latest).
        payload: The execution input.
        name: Execution name, unique per workflow (the same input again returns the existing
            execution; another input is a conflict).

    Raises:
        NotFoundError: No such workflow or version.
        ExecutionAlreadyExists: The name is taken by an execution with another input.
    """
    from stackflow.workflow import control

    deployed = engine.store.get_workflow(workflow, version)
    return control.start_unique(
        engine.runtime,
        deployed.definition,
        payload,
        workflow=deployed.name,
        name=name,
        version=deployed.version,
    )
