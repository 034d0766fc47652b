"""stackflow: self-hosted orchestration and durable workflows.

The public Python API. Workflows in the Amazon States Language run through :class:`Engine`;
``stackflow.testing.run_workflow`` runs one in memory with time skipping. Names are imported on
first use, so ``import stackflow`` (and the CLI's start-up) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Workflows in code. ``stackflow.workflow`` is the decorator (it shadows the subpackage of the same
# name as an attribute; ``from stackflow.workflow.x import y`` imports keep working).
from stackflow.workflow.code.api import (
    current_execution_id,
    gather,
    patched,
    run_child,
    send_event,
    sleep,
    wait_for_event,
)
from stackflow.workflow.code.decorators import step, workflow

#: Public name -> module that defines it.
_EXPORTS = {
    # engine
    "Engine": "stackflow.engine",
    "default_home": "stackflow.engine",
    "load_workflow": "stackflow.engine",
    # definitions
    "LoadedDefinition": "stackflow.workflow.asl.loader",
    "load_definition": "stackflow.workflow.asl.loader",
    "load_definition_file": "stackflow.workflow.asl.loader",
    "validate_definition": "stackflow.workflow.asl.validate",
    "check_definition": "stackflow.workflow.asl.validate",
    # store
    "Store": "stackflow.store",
    "MemoryStore": "stackflow.store",
    "SQLiteStore": "stackflow.store",
    "open_store": "stackflow.store",
    "ExecutionRecord": "stackflow.store",
    "HistoryEvent": "stackflow.store",
    # time
    "Clock": "stackflow.clock",
    "SystemClock": "stackflow.clock",
    "FakeClock": "stackflow.clock",
    # errors
    "StackflowError": "stackflow.errors",
    "InputError": "stackflow.errors",
    "DefinitionError": "stackflow.errors",
    "Problem": "stackflow.errors",
    "SourceLocation": "stackflow.errors",
    "WorkflowFailure": "stackflow.errors",
    "StoreError": "stackflow.errors",
    "NotFoundError": "stackflow.errors",
    "ConflictError": "stackflow.errors",
    "TaskResourceError": "stackflow.errors",
}

__all__ = [  # grouped as in _EXPORTS
    "workflow",
    "step",
    "sleep",
    "wait_for_event",
    "gather",
    "patched",
    "run_child",
    "send_event",
    "current_execution_id",
    "Engine",
    "default_home",
    "load_workflow",
    "LoadedDefinition",
    "load_definition",
    "load_definition_file",
    "validate_definition",
    "check_definition",
    "Store",
    "MemoryStore",
    "SQLiteStore",
    "open_store",
    "ExecutionRecord",
    "HistoryEvent",
    "Clock",
    "SystemClock",
    "FakeClock",
    "StackflowError",
    "InputError",
    "DefinitionError",
    "Problem",
    "SourceLocation",
    "WorkflowFailure",
    "StoreError",
    "NotFoundError",
    "ConflictError",
    "TaskResourceError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stackflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from stackflow.clock import Clock, FakeClock, SystemClock
    from stackflow.engine import Engine, default_home, load_workflow
    from stackflow.errors import (
        ConflictError,
        DefinitionError,
        InputError,
        NotFoundError,
        Problem,
        SourceLocation,
        StackflowError,
        StoreError,
        TaskResourceError,
        WorkflowFailure,
    )
    from stackflow.store import (
        ExecutionRecord,
        HistoryEvent,
        MemoryStore,
        SQLiteStore,
        Store,
        open_store,
    )
    from stackflow.workflow.asl.loader import (
        LoadedDefinition,
        load_definition,
        load_definition_file,
    )
    from stackflow.workflow.asl.validate import check_definition, validate_definition
