"""The composition root: the one place where concrete backends are wired together.

:class:`Engine` opens a store, an executor and a clock, runs workflows through the durable
runtime, and reads executions back. The CLI, the API and the test helpers all go through it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from stackflow.clock import Clock
from stackflow.errors import DefinitionError, Problem, SourceLocation, StackflowError
from stackflow.executors.base import Executor
from stackflow.store import open_store
from stackflow.store.base import ExecutionRecord, HistoryEvent, Store
from stackflow.types import JSON
from stackflow.workflow.asl.loader import LoadedDefinition, from_object, load_definition_file
from stackflow.workflow.asl.validate import check_definition
from stackflow.workflow.runtime import EventListener, Runtime

#: What can be run: a loaded definition, a parsed definition, or a path to a JSON/YAML file.
DefinitionSource = LoadedDefinition | Mapping[str, Any] | str | Path

_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_DEFINITION_SUFFIXES = frozenset({"asl", "json", "yaml", "yml"})


def default_home() -> Path:
    """Return ``$STACKFLOW_HOME`` or ``~/.stackflow``."""
    return Path(os.environ.get("STACKFLOW_HOME") or Path.home() / ".stackflow")


def workflow_name_of(path: Path) -> str:
    """Return the workflow name a file gives: its name without ``.asl``/``.json``/``.yaml``."""
    name = path.name
    while True:
        stem, dot, suffix = name.rpartition(".")
        if not dot or suffix.lower() not in _DEFINITION_SUFFIXES:
            return name
        name = stem


def load_workflow(
    source: DefinitionSource, *, validate: bool = True
) -> tuple[LoadedDefinition, str]:
    """Load (and validate) a definition and derive a workflow name for it.

    Args:
        source: A loaded definition, a parsed definition, or a path to a JSON or YAML file.
        validate: Check the definition and raise on any problem.

    Returns:
        The loaded definition and its default workflow name (the file's stem, else ``workflow``).

    Raises:
        DefinitionError: The definition is invalid (every problem listed, with locations).
    """
    name = "workflow"
    if isinstance(source, LoadedDefinition):
        loaded = source
        if loaded.source_map.file:
            name = workflow_name_of(Path(loaded.source_map.file))
    elif isinstance(source, Mapping):
        loaded = from_object(dict(source))
    else:
        path = Path(source)
        if not path.is_file():
            location = SourceLocation(str(path), None, None, "")
            raise DefinitionError([Problem(location, "file not found", "FILE_NOT_FOUND")])
        loaded = load_definition_file(path)
        name = workflow_name_of(path)
    if validate:
        check_definition(loaded)
    return loaded, _NAME.sub("-", name) or "workflow"


class Engine:
    """stackflow's workflow engine: a store, an executor and the durable runtime.

    Args:
        store: Where executions are recorded.
        executor: Where task code runs (default: a bounded local thread pool).
        clock: Source of time (default: the system clock).
    """

    def __init__(
        self, store: Store, *, executor: Executor | None = None, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.runtime = Runtime(store, executor=executor, clock=clock)

    @classmethod
    def open(
        cls,
        home: str | Path | None = None,
        *,
        durability: Literal["full", "normal"] | None = None,
        executor: Executor | None = None,
    ) -> Engine:
        """Open the engine on the SQLite store under ``home`` (default: :func:`default_home`).

        Args:
            home: Directory holding ``stackflow.db``.
            durability: ``full`` fsyncs every group commit; ``normal`` is faster and still safe
                when the process is killed, but may lose the last commits on power loss.
                Default: ``$STACKFLOW_DURABILITY``, else ``full``.
            executor: Where task code runs.

        Raises:
            StackflowError: ``$STACKFLOW_DURABILITY`` holds something other than full/normal.
        """
        if durability is None:
            setting = os.environ.get("STACKFLOW_DURABILITY", "full").strip().lower()
            if setting not in ("full", "normal"):
                raise StackflowError(
                    f"STACKFLOW_DURABILITY must be 'full' or 'normal', not {setting!r}"
                )
            durability = "full" if setting == "full" else "normal"
        directory = Path(home) if home is not None else default_home()
        directory.mkdir(parents=True, exist_ok=True)
        store = open_store(str(directory / "stackflow.db"), durability=durability)
        return cls(store, executor=executor)

    def start(
        self,
        definition: DefinitionSource,
        input: JSON = None,
        *,
        name: str | None = None,
        workflow: str | None = None,
        listener: EventListener | None = None,
    ) -> ExecutionRecord:
        """Validate a definition, record a new execution of it, and start running it.

        Raises:
            DefinitionError: The definition is invalid; nothing is recorded.
        """
        loaded, default_name = load_workflow(definition)
        text = json.dumps(loaded.document, separators=(",", ":"))
        return self.runtime.start_execution(
            text,
            {} if input is None else input,
            workflow=workflow or default_name,
            name=name,
            listener=listener,
        )

    def run(
        self,
        definition: DefinitionSource,
        input: JSON = None,
        *,
        name: str | None = None,
        workflow: str | None = None,
        timeout: float | None = None,
        listener: EventListener | None = None,
    ) -> ExecutionRecord:
        """Start an execution and wait until it ends; return its final record."""
        record = self.start(definition, input, name=name, workflow=workflow, listener=listener)
        return self.wait(record.execution_id, timeout)

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:
        """Block until an execution is terminal and return its record."""
        return self.runtime.wait(execution_id, timeout)

    def stop(
        self, execution_id: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """Abort a running execution."""
        self.runtime.stop_execution(execution_id, error, cause)

    def describe(self, execution_id: str) -> ExecutionRecord:
        """Return an execution's record."""
        return self.store.get_execution(execution_id)

    def history(self, execution_id: str) -> list[HistoryEvent]:
        """Return an execution's history events in order."""
        return self.store.get_history(execution_id)

    def list_executions(
        self, *, status: str | None = None, workflow: str | None = None, limit: int = 100
    ) -> list[ExecutionRecord]:
        """Return executions, newest first."""
        return self.store.list_executions(status=status, workflow=workflow, limit=limit)

    def close(self) -> None:
        """Stop the runtime and close the store."""
        self.runtime.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
