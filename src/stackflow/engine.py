"""The composition root: the one place where concrete backends are wired together.

:class:`Engine` opens a store, an executor and a clock, runs workflows through the durable
runtime, and reads executions back. The CLI, the API and the test helpers all go through it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from stackflow.clock import Clock
from stackflow.errors import DefinitionError, Problem, SourceLocation, StackflowError
from stackflow.executors.base import Executor
from stackflow.store import open_store
from stackflow.store.base import ExecutionRecord, HistoryEvent, Store, WorkflowVersion
from stackflow.types import JSON
from stackflow.workflow import control
from stackflow.workflow.asl.loader import LoadedDefinition
from stackflow.workflow.code.decorators import WorkflowFunction, resolve_workflow
from stackflow.workflow.code.run import code_definition
from stackflow.workflow.runtime import EventListener, Runtime

if TYPE_CHECKING:
    from stackflow.stacks import StackService

#: What can be run: a loaded definition, a parsed definition, a path to a JSON/YAML file, a
#: deployed workflow's name, a ``@workflow`` function or its ``module:function`` reference.
DefinitionSource = LoadedDefinition | Mapping[str, Any] | str | Path | WorkflowFunction

_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_CODE_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME_OK = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
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
    from stackflow.workflow.asl.loader import from_object, load_definition_file
    from stackflow.workflow.asl.validate import check_definition

    name = "workflow"
    if isinstance(source, LoadedDefinition):
        loaded = source
        if loaded.source_map.file:
            name = workflow_name_of(Path(loaded.source_map.file))
    elif isinstance(source, Mapping):
        loaded = from_object(dict(source))
    elif isinstance(source, WorkflowFunction):
        raise StackflowError(f"{source.ref} is a code workflow, not an ASL definition")
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
        **runtime_options: Passed to :class:`Runtime` (``claim``, ``lease_seconds``, ``owner``,
            ``max_executions``, ``poll_interval``).
    """

    def __init__(
        self,
        store: Store,
        *,
        executor: Executor | None = None,
        clock: Clock | None = None,
        **runtime_options: Any,
    ) -> None:
        self.store = store
        self.runtime = Runtime(store, executor=executor, clock=clock, **runtime_options)

    @classmethod
    def open(
        cls,
        home: str | Path | None = None,
        *,
        durability: Literal["full", "normal"] | None = None,
        executor: Executor | None = None,
        **runtime_options: Any,
    ) -> Engine:
        """Open the engine on the SQLite store under ``home`` (default: :func:`default_home`).

        Args:
            home: Directory holding ``stackflow.db``.
            durability: ``full`` fsyncs every group commit; ``normal`` is faster and still safe
                when the process is killed, but may lose the last commits on power loss.
                Default: ``$STACKFLOW_DURABILITY``, else ``full``.
            executor: Where task code runs.
            **runtime_options: Passed to :class:`Runtime`.

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
        engine = cls(store, executor=executor, **runtime_options)
        engine.home = directory
        return engine

    # ------------------------------------------------------------------ starting

    def resolve(self, source: DefinitionSource) -> tuple[str, str, int | None]:
        """Return ``(definition JSON, workflow name, version)`` for a file, a parsed definition,
        or the name of a deployed workflow (``NAME`` or ``NAME:VERSION``).

        Raises:
            DefinitionError: An invalid definition (nothing is recorded).
            NotFoundError: A name that is neither a file nor a deployed workflow.
        """
        if isinstance(source, WorkflowFunction):
            return code_definition(source), source.name, None
        if isinstance(source, str) and not Path(source).exists() and _looks_like_code(source):
            function = resolve_workflow(source)
            return code_definition(function), function.name, None
        if isinstance(source, str) and not Path(source).exists() and _looks_like_name(source):
            name, _, version = source.partition(":")
            deployed = self.store.get_workflow(name, int(version) if version else None)
            return deployed.definition, deployed.name, deployed.version
        loaded, default_name = load_workflow(source)
        return json.dumps(loaded.document, separators=(",", ":")), default_name, None

    def start(
        self,
        definition: DefinitionSource,
        input: JSON = None,
        *,
        name: str | None = None,
        workflow: str | None = None,
        listener: EventListener | None = None,
        drive: bool = True,
    ) -> ExecutionRecord:
        """Record a new execution and (with ``drive``) run it in this process.

        Args:
            definition: A file, a parsed definition, or a deployed workflow's name.
            input: Execution input (default ``{}``).
            name: Execution name, unique per workflow: starting it again with the same input
                returns the existing execution, with another input is an error.
            workflow: Workflow name (default: the file name or the deployed name).
            listener: Called with each committed history event.
            drive: False only records the execution for a ``stackflow worker`` to run.

        Raises:
            DefinitionError: The definition is invalid; nothing is recorded.
            ExecutionAlreadyExists: The name is taken by an execution with another input.
        """
        text, default_name, version = self.resolve(definition)
        return control.start_unique(
            self.runtime,
            text,
            {} if input is None else input,
            workflow=workflow or default_name,
            name=name,
            version=version,
            listener=listener,
            drive=drive,
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

    def deploy(self, source: DefinitionSource, name: str | None = None) -> WorkflowVersion:
        """Validate a definition and store it as the next version of workflow ``name``.

        An execution keeps the version it started with, even after a new one is deployed.
        """
        loaded, default_name = load_workflow(source)
        workflow = name or default_name
        if not _looks_like_name(workflow) or ":" in workflow:
            raise StackflowError(
                f"Invalid workflow name {workflow!r}: use letters, digits, '_', '-' and '.' "
                "(not starting with '.')"
            )
        text = json.dumps(loaded.document, separators=(",", ":"))
        return self.store.deploy_workflow(workflow, text, time.time())

    # ------------------------------------------------------------------ stacks

    #: The stackflow home (state directory) handed to resource providers.
    home: Path | None = None

    @property
    def stacks(self) -> StackService:
        """The stack service over this engine's store (created on first use)."""
        from stackflow.stacks import StackService

        service: StackService | None = self.__dict__.get("_stack_service")
        if service is None:
            service = StackService(
                self.store.stacks,
                home=self.home or default_home(),
                workflows=self,
                root_store=self.store,
            )
            self.__dict__["_stack_service"] = service
        return service

    def deploy_definition(
        self, name: str, definition: dict[str, Any], *, base_dir: Path
    ) -> tuple[str, int]:
        """Validate and deploy a definition as the next version of workflow ``name``.

        Part of :class:`~stackflow.providers.WorkflowDeployer` (``Stackflow::Workflow``).

        Args:
            name: Workflow name.
            definition: The parsed ASL definition.
            base_dir: The template's folder (unused: the definition is already parsed).

        Returns:
            The workflow's ARN and the deployed version.

        Raises:
            DefinitionError: The definition is invalid.
        """
        deployed = self.deploy(definition, name)
        return _state_machine_arn(name), deployed.version

    def delete_workflow(self, name: str) -> None:
        """Delete workflow ``name``: every deployed version (a missing workflow is not an error).

        Executions keep the definition they run, so running ones are not affected.
        """
        self.store.delete_workflow(name)

    def describe_workflow(self, name: str) -> tuple[str, int, dict[str, Any]] | None:
        """Return ``(arn, version, definition)`` of the latest version of ``name``, or None."""
        from stackflow.errors import NotFoundError

        try:
            deployed = self.store.get_workflow(name)
        except NotFoundError:
            return None
        return _state_machine_arn(name), deployed.version, json.loads(deployed.definition)

    # ------------------------------------------------------------------ controlling

    def stop(
        self, execution_id: str, *, error: str | None = None, cause: str | None = None
    ) -> ExecutionRecord:
        """Abort a running execution and its children (a no-op once it ended)."""
        return control.stop(self.runtime, execution_id, error, cause)

    def redrive(self, execution_id: str) -> ExecutionRecord:
        """Restart a FAILED, TIMED_OUT or ABORTED execution from where it stopped."""
        return control.redrive(self.runtime, execution_id)

    def send_task_success(self, task_token: str, output: JSON) -> None:
        """Complete a task that waits for its token (``.waitForTaskToken`` or an activity)."""
        control.send_task_result(self.runtime, task_token, "task_success", {"output": output})

    def send_task_failure(
        self, task_token: str, error: str | None = None, cause: str | None = None
    ) -> None:
        """Fail a task that waits for its token."""
        payload = {"error": error, "cause": cause}
        control.send_task_result(self.runtime, task_token, "task_failure", payload)

    def send_task_heartbeat(self, task_token: str) -> None:
        """Tell a waiting task with HeartbeatSeconds that its worker is still alive."""
        control.send_task_result(self.runtime, task_token, "task_heartbeat", {})

    def send_event(self, execution_id: str, name: str, payload: JSON = None) -> None:
        """Deliver an event to a code workflow waiting in ``wait_for_event(name)`` (it is stored
        until the workflow asks for it)."""
        control.send_event(self.runtime, execution_id, name, payload)

    def get_activity_task(self, activity: str, worker: str | None = None) -> dict[str, JSON] | None:
        """Take the oldest waiting task of an activity: ``{"taskToken", "input"}`` or None."""
        return control.get_activity_task(self.store, activity, worker)

    # ------------------------------------------------------------------ reading

    def describe(self, execution_id: str) -> ExecutionRecord:
        """Return an execution's record."""
        return self.store.get_execution(execution_id)

    def history(self, execution_id: str) -> list[HistoryEvent]:
        """Return an execution's history events in order."""
        return self.store.get_history(execution_id)

    def list_executions(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRecord]:
        """Return executions, newest first."""
        return self.store.list_executions(
            status=status, workflow=workflow, parent_id=parent_id, limit=limit
        )

    def close(self, *, release: bool = True) -> None:
        """Stop the runtime (releasing its leases) and close the store."""
        self.runtime.close(release=release)
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _state_machine_arn(name: str) -> str:
    """Return the ARN of a deployed workflow, as the ASL context object reports it."""
    from stackflow.workflow.asl.context import DEFAULT_IDENTITY

    return DEFAULT_IDENTITY.state_machine_arn(name)


def _looks_like_code(text: str) -> bool:
    """A code workflow reference: ``package.module:function`` (a ``@stackflow.workflow``)."""
    module, sep, function = text.partition(":")
    return (
        bool(sep) and bool(_CODE_MODULE.match(module)) and function.replace(".", "_").isidentifier()
    )


def _looks_like_name(text: str) -> bool:
    """A deployed workflow reference: ``NAME`` or ``NAME:VERSION`` without path separators."""
    name, _, version = text.partition(":")
    return bool(_NAME_OK.match(name)) and (not version or version.isdigit())
