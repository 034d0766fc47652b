"""How a runtime starts child executions: Distributed Map items, ``startExecution`` tasks,
``python:`` tasks that name a ``@workflow``, and code workflows (each on its own thread).

A mixin of :class:`~stackflow.workflow.runtime.Runtime`; it uses the runtime's store, clock,
owner and loop inbox.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from stackflow.errors import STATES_TASK_FAILED, NotFoundError, StackflowError, WorkflowFailure
from stackflow.store.base import ExecutionRecord
from stackflow.types import JSON
from stackflow.workflow import integrations
from stackflow.workflow.asl.execstate import RunTask
from stackflow.workflow.code.decorators import WorkflowFunction, resolve_workflow
from stackflow.workflow.code.run import CodeRun, code_definition
from stackflow.workflow.live import Live
from stackflow.workflow.tasks.base import PYTHON_RESOURCE_PREFIX

if TYPE_CHECKING:
    import threading

    from stackflow.store.base import Store
    from stackflow.workflow.asl.context import Identity
    from stackflow.workflow.runtime import EventListener, Runtime


class ChildRuntime:
    """Child executions and code workflows, mixed into the runtime."""

    if TYPE_CHECKING:  # what the runtime provides
        store: Store
        identity: Identity
        _code: dict[str, CodeRun]
        _code_targets: dict[str, WorkflowFunction | None]
        _in_flight: int
        _done: threading.Condition

        def _post(self, item: tuple[Any, ...]) -> None: ...

        def start_execution(
            self,
            definition: str,
            input: JSON,
            *,
            workflow: str,
            name: str | None = None,
            parent_id: str | None = None,
            version: int | None = None,
            listener: EventListener | None = None,
            drive: bool = True,
            execution_id: str | None = None,
        ) -> ExecutionRecord: ...

    def _start_code(
        self, record: ExecutionRecord, listener: EventListener | None, *, redrive: bool
    ) -> None:
        run = CodeRun(cast("Runtime", self), record, redrive=redrive)
        if listener is not None:
            run.listeners.append(listener)
        self._code[record.execution_id] = run
        run.start()

    def code_finished(self, run: CodeRun) -> None:
        """Called by a code execution's thread when it ends (or stops recording)."""
        self._code.pop(run.execution_id, None)
        with self._done:
            self._done.notify_all()

    def start_code_child(
        self,
        run: CodeRun,
        target: Any,
        child_input: JSON,
        child_id: str,
        name: str | None,
        index: int,
    ) -> None:
        """Start the child execution of a code workflow's operation (unless it exists)."""
        try:
            self.store.get_execution(child_id)
            return
        except NotFoundError:
            pass
        if isinstance(target, WorkflowFunction):
            text, workflow, version = code_definition(target), target.name, None
        elif isinstance(target, str):
            deployed = self.store.get_workflow(*_name_and_version(target))
            text, workflow, version = deployed.definition, deployed.name, deployed.version
        else:
            raise StackflowError(
                f"a child workflow is a @workflow or a deployed workflow name, not {target!r}"
            )
        self.start_execution(
            text,
            child_input,
            workflow=workflow,
            name=name or f"{run.record.name}-{index}",
            parent_id=run.execution_id,
            version=version,
            execution_id=child_id,
        )

    def _start_child(
        self,
        live: Live,
        token: str,
        definition: dict[str, Any] | str,
        child_input: JSON,
        name: str,
        *,
        workflow: str | None = None,
        version: int | None = None,
        notify: bool = True,
    ) -> ExecutionRecord:
        """Start (or, after a recovery, find) the child execution of ``token``."""
        parent_id = live.record.execution_id
        child_id = integrations.child_execution_id(parent_id, token)
        if notify:
            live.child_tokens[child_id] = token
        try:
            return self.store.get_execution(child_id)
        except NotFoundError:
            pass
        text = (
            definition
            if isinstance(definition, str)
            else json.dumps(definition, separators=(",", ":"))
        )
        return self.start_execution(
            text,
            child_input,
            workflow=workflow or f"{live.record.workflow}/{live.record.name}",
            name=name,
            parent_id=parent_id,
            version=version,
            execution_id=child_id,
        )

    def _start_child_workflow(self, live: Live, command: RunTask, mode: str) -> None:
        st = live.state
        try:
            request = integrations.parse_child_request(command.input)
            deployed = self.store.get_workflow(request.workflow, request.version)
        except (WorkflowFailure, StackflowError) as exc:
            error = (
                exc
                if isinstance(exc, WorkflowFailure)
                else WorkflowFailure(STATES_TASK_FAILED, str(exc))
            )
            self._post(("task", st.execution_id, command.token, None, error))
            self._in_flight += 1
            return
        name = request.name or f"{st.name}-{command.token}"
        sync = mode != "async"
        if sync:
            live.sync_children[command.token] = mode
        record = self._start_child(
            live,
            command.token,
            deployed.definition,
            request.input,
            name,
            workflow=deployed.name,
            version=deployed.version,
            notify=sync,
        )
        if not sync:
            result = {
                "ExecutionArn": self.identity.execution_arn(record.workflow, record.name),
                "StartDate": record.start_time,
            }
            self._in_flight += 1
            self._post(("task", st.execution_id, command.token, result, None))

    def _code_workflow(self, resource: str) -> WorkflowFunction | None:
        """Return the ``@workflow`` a ``python:`` resource names, or None (cached per resource)."""
        if not resource.startswith(PYTHON_RESOURCE_PREFIX):
            return None
        if resource not in self._code_targets:
            try:
                found: WorkflowFunction | None = resolve_workflow(
                    resource[len(PYTHON_RESOURCE_PREFIX) :]
                )
            except StackflowError:
                found = None
            self._code_targets[resource] = found
        return self._code_targets[resource]


def _name_and_version(reference: str) -> tuple[str, int | None]:
    name, _, version = reference.partition(":")
    return name, int(version) if version.isdigit() else None
