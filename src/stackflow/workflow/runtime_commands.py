"""How a runtime turns an execution's step into a store transition and carries out its commands.

A mixin of :class:`~stackflow.workflow.runtime.Runtime`: building the transition (events, snapshot
header and changed frames, requests, activity tasks, child records) and, once it is durable,
carrying out the commands (tasks to the executor, timers, children, Distributed Map I/O).
"""

from __future__ import annotations

import heapq
import json
import threading
from typing import TYPE_CHECKING, Any

from stackflow.errors import STATES_RUNTIME, StackflowError, WorkflowFailure
from stackflow.store.base import (
    ActivityTask,
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    Request,
    Transition,
)
from stackflow.types import JSON
from stackflow.workflow import children as children_mod
from stackflow.workflow import integrations, outcomes, snapshots
from stackflow.workflow.asl.execstate import (
    CancelTask,
    ReadItems,
    RunTask,
    StartChild,
    StartTimer,
    WriteResults,
)
from stackflow.workflow.asl.tokens import make_task_token
from stackflow.workflow.code.run import code_definition
from stackflow.workflow.live import Live
from stackflow.workflow.tasks import TaskRequest, resolve_task
from stackflow.workflow.tasks.base import PYTHON_RESOURCE_PREFIX

if TYPE_CHECKING:
    from stackflow.clock import Clock
    from stackflow.executors.base import Executor
    from stackflow.store.base import Store
    from stackflow.workflow.asl.context import Identity
    from stackflow.workflow.code.decorators import WorkflowFunction

#: Cancel signal handed to tasks that cannot be interrupted (never set).
_NEVER_CANCELLED = threading.Event()


class CommandRuntime:
    """Transitions and commands, mixed into the runtime."""

    if TYPE_CHECKING:  # what the runtime provides
        store: Store
        clock: Clock
        identity: Identity
        owner: str
        lease_seconds: float
        executor: Executor
        _timers: list[tuple[float, int, str, str]]
        _timer_seq: int
        _in_flight: int
        _draining: bool

        def _post(self, item: tuple[Any, ...]) -> None: ...

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
        ) -> ExecutionRecord: ...

        def _start_child_workflow(self, live: Live, command: RunTask, mode: str) -> None: ...

        def _code_workflow(self, resource: str) -> WorkflowFunction | None: ...

    def _transition(
        self, live: Live, events: list[HistoryEvent], commands: list[Any], now: float
    ) -> Transition:
        st = live.state
        execution_id = live.record.execution_id
        update = None
        requests: list[Request] = []
        if st.status != "RUNNING":
            update = ExecutionUpdate(st.status, st.output, st.error, st.cause, now)
            if live.record.parent_id is not None:  # a parent ignores what it did not wait for
                requests.append(children_mod.parent_request(live, live.record.parent_id, now))
        elif live.redriven:
            update = ExecutionUpdate("RUNNING")
            live.redriven = False
        activity_tasks: list[ActivityTask] = []
        children: list[ExecutionRecord] = []
        for command in commands:
            if isinstance(command, StartChild):
                child = children_mod.child_record(
                    live,
                    command,
                    owner=self.owner,
                    start_time=self.clock.now(),
                    lease_seconds=self.lease_seconds,
                )
                live.new_children[command.token] = child
                children.append(child)
            elif isinstance(command, RunTask):
                name = integrations.activity_name(command.resource)
                if name is not None:
                    task_token = make_task_token(execution_id, command.token)
                    live.activity_tokens[command.token] = task_token
                    activity_tasks.append(
                        ActivityTask(task_token, name, execution_id, command.input, now)
                    )
            elif isinstance(command, CancelTask):
                child_id = next(
                    (c for c, t in live.child_tokens.items() if t == command.token), None
                )
                if child_id is not None:
                    requests.append(Request(0, child_id, "stop", None, {}, now))
        removed_activities = [
            live.activity_tokens.pop(outcomes.local_token(token), token)
            for token in live.activity_done
        ]
        for command in commands:
            if isinstance(command, CancelTask) and command.token in live.activity_tokens:
                removed_activities.append(live.activity_tokens.pop(command.token))
        live.activity_done = []
        changed, removed = st.frames.take_changes()
        blobs: dict[int, bytes] = {}
        gone: tuple[int, ...] = ()
        if self.store.persistent:  # nothing recovers from an in-memory store: skip the frames
            blobs, gone = snapshots.frame_blobs(changed, removed, live.items_written)
        consumed = tuple(live.consumed)
        live.consumed = []
        return Transition(
            execution_id,
            tuple(events),
            json.dumps(st.header_json(), separators=(",", ":")).encode(),
            update,
            frames=blobs,
            removed_frames=gone,
            owner=self.owner,
            consumed_requests=consumed,
            requests=tuple(requests),
            activity_tasks=tuple(activity_tasks),
            removed_activity_tasks=tuple(removed_activities),
            new_executions=tuple(children),
        )

    def _carry_out(self, live: Live, command: Any, *, resumed: bool = False) -> None:
        execution_id = live.record.execution_id
        if isinstance(command, RunTask):
            if integrations.activity_name(command.resource) is not None:
                if resumed:
                    live.activity_tokens[command.token] = make_task_token(
                        execution_id, command.token
                    )
                return  # waits in the store for a worker (see _transition)
            mode = integrations.start_execution_mode(command.resource)
            if mode is not None:
                self._start_child_workflow(live, command, mode)
                return
            code = self._code_workflow(command.resource)
            if code is not None:  # python:MODULE:FUNCTION naming a @workflow: a child execution
                live.sync_children[command.token] = "code"
                self._start_child(
                    live,
                    command.token,
                    code_definition(code),
                    command.input,
                    f"{live.record.name}-{command.token}",
                    workflow=code.name,
                )
                return
            self._dispatch(live, command)
        elif isinstance(command, StartTimer):
            self._timer_seq += 1
            heapq.heappush(
                self._timers, (command.due, self._timer_seq, execution_id, command.token)
            )
        elif isinstance(command, CancelTask):
            cancel = live.cancels.pop(command.token, None)
            if cancel is not None:
                cancel.set()
        elif isinstance(command, StartChild):
            record = live.new_children.pop(command.token, None)
            if record is None:  # resumed: the child exists; attach to it
                self._start_child(
                    live, command.token, command.definition, command.input, command.name
                )
            else:
                live.child_tokens[record.execution_id] = command.token
                if not self._draining:
                    self._post(("start", record, None))
        elif isinstance(command, ReadItems):
            self._in_flight += 1
            token = command.token
            reader = command.reader
            self.executor.run(
                lambda: _read_items(reader),
                lambda result, error: self._post(("items", execution_id, token, result, error)),
            )
        elif isinstance(command, WriteResults):
            self._in_flight += 1
            write = command
            self.executor.run(
                lambda: children_mod.write_map_results(self.store, self.identity, live, write),
                lambda result, error: self._post(
                    ("written", execution_id, write.token, result, error)
                ),
            )

    def _dispatch(self, live: Live, command: RunTask) -> None:
        if self._draining:
            return  # recorded as scheduled; the next owner runs it when it takes over
        execution_id = live.record.execution_id
        resource = command.resource
        if integrations.waits_for_callback(resource):
            live.callback_tokens.add(command.token)
            resource = integrations.base_resource(resource)
        if resource.startswith(PYTHON_RESOURCE_PREFIX):
            cancel = _NEVER_CANCELLED  # a Python call cannot be interrupted; skip the Event
        else:
            cancel = threading.Event()
            live.cancels[command.token] = cancel
        request = TaskRequest(
            resource=resource,
            input=command.input,
            context=command.context,
            timeout=command.timeout,
            cancel=cancel,
        )

        def call() -> JSON:
            try:
                handler = resolve_task(resource)
            except StackflowError as exc:
                raise WorkflowFailure(STATES_RUNTIME, str(exc)) from None
            return handler(request)

        self._in_flight += 1
        token = command.token
        self.executor.run(
            call, lambda result, error: self._post(("task", execution_id, token, result, error))
        )


def _read_items(reader: Any) -> Any:
    from stackflow.workflow import mapio

    return mapio.read_items(reader)
