"""The durable runtime: drives interpreters, records every step, carries out their commands.

One loop thread owns every running execution of this process. Each turn it

1. applies what arrived from outside (new executions, task results, due timers),
2. advances every runnable execution through the pure interpreter,
3. queues each execution's new events and snapshot to the store (group commit: one flush for all),
4. waits for durability, then carries out the commands (tasks go to the executor, timers to a heap,
   child executions are started) and wakes whoever waits for a finished execution.

Task code never runs on the loop thread, so a slow task stalls nothing else.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackflow.clock import Clock, FakeClock, SystemClock
from stackflow.errors import STATES_RUNTIME, STATES_TASK_FAILED, StackflowError, WorkflowFailure
from stackflow.executors.base import Executor
from stackflow.executors.local import LocalExecutor
from stackflow.store.base import (
    CommitTicket,
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    Store,
    Transition,
)
from stackflow.types import JSON, TERMINAL_STATUSES
from stackflow.workflow.asl.context import DEFAULT_IDENTITY, Identity
from stackflow.workflow.asl.execstate import (
    CancelTask,
    ExecState,
    RunTask,
    StartChild,
    StartTimer,
)
from stackflow.workflow.asl.interpreter import Interpreter
from stackflow.workflow.asl.machine import machine_from_json
from stackflow.workflow.tasks import TaskRequest, resolve_task
from stackflow.workflow.tasks.base import PYTHON_RESOURCE_PREFIX

logger = logging.getLogger(__name__)

#: Cancel signal handed to tasks that cannot be interrupted (never set).
_NEVER_CANCELLED = threading.Event()

#: Listener of committed history events of one execution.
EventListener = Callable[[HistoryEvent], None]


@dataclass
class _Live:
    """An execution this runtime drives."""

    record: ExecutionRecord
    state: ExecState
    interpreter: Interpreter
    cancels: dict[str, threading.Event] = field(default_factory=dict)
    listeners: list[EventListener] = field(default_factory=list)
    children: dict[str, str] = field(default_factory=dict)  # token -> child execution id
    events_since_snapshot: int = 0


class Runtime:
    """Runs executions durably against a store.

    Args:
        store: Where executions are recorded.
        executor: Where task code runs (default: a bounded local thread pool).
        clock: Source of time (a :class:`FakeClock` skips waits when nothing else can happen).
        identity: ARN naming for context objects.
        step_budget: Most state steps per execution per loop turn (keeps history visible and
            other executions moving during long chains of pure states).
        snapshot_every: Fewest history events between two snapshots of a running execution.
    """

    def __init__(
        self,
        store: Store,
        *,
        executor: Executor | None = None,
        clock: Clock | None = None,
        identity: Identity = DEFAULT_IDENTITY,
        step_budget: int = 2000,
        snapshot_every: int = 64,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.identity = identity
        self._owns_executor = executor is None
        self.executor = executor or LocalExecutor()
        self.step_budget = step_budget
        self.snapshot_every = snapshot_every
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._live: dict[str, _Live] = {}
        self._timers: list[tuple[float, int, str, str]] = []
        self._timer_seq = 0
        self._in_flight = 0
        self._done = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        # child execution id -> (parent execution id, token) for Distributed Map items
        self._child_parents: dict[str, tuple[str, str]] = {}

    # ------------------------------------------------------------------ public API

    def start_execution(
        self,
        definition: str,
        input: JSON,
        *,
        workflow: str,
        name: str | None = None,
        parent_id: str | None = None,
        listener: EventListener | None = None,
    ) -> ExecutionRecord:
        """Record a new execution and start driving it.

        Args:
            definition: The (validated) definition as JSON text.
            input: Execution input.
            workflow: Workflow name.
            name: Execution name (default: a fresh UUID).
            parent_id: The execution that started this one, if any.
            listener: Called on the loop thread with each committed history event.

        Returns:
            The stored record (status RUNNING).
        """
        record = ExecutionRecord(
            execution_id=str(uuid.uuid4()),
            name=name or str(uuid.uuid4()),
            workflow=workflow,
            definition=definition,
            status="RUNNING",
            input=input,
            start_time=self.clock.now(),
            parent_id=parent_id,
        )
        self.store.create_execution(record)
        self._post(("start", record, listener))
        return record

    def subscribe(self, execution_id: str, listener: EventListener) -> None:
        """Call ``listener`` with each history event of a running execution from now on."""
        self._post(("subscribe", execution_id, listener))

    def stop_execution(self, execution_id: str, error: str | None, cause: str | None) -> None:
        """Abort a running execution (its children too)."""
        self._post(("abort", execution_id, error, cause))

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:
        """Block until the execution is terminal and return its record.

        Raises:
            TimeoutError: The execution did not finish within ``timeout`` seconds (real time).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while True:
                if self._error is not None:
                    raise StackflowError(f"runtime loop failed: {self._error!r}")
                record = self.store.get_execution(execution_id)
                if record.status in TERMINAL_STATUSES and execution_id not in self._live:
                    return record
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"execution {execution_id} did not finish in time")
                self._done.wait(0.5 if remaining is None else min(remaining, 0.5))

    def close(self) -> None:
        """Stop the loop thread and the executor this runtime created."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._owns_executor:
            self.executor.shutdown(wait=False)

    # ------------------------------------------------------------------ the loop

    def _post(self, item: tuple[Any, ...]) -> None:
        self._inbox.append(item)
        if not self._wake.is_set():
            self._wake.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="stackflow-runtime", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._turn()
        except BaseException as exc:  # surface to waiters instead of hanging them
            self._error = exc
            with self._done:
                self._done.notify_all()
            raise

    def _turn(self) -> None:
        self._wake.clear()
        now = self.clock.now()
        touched: dict[str, _Live] = {}
        while self._inbox:
            self._apply(self._inbox.popleft(), now, touched)
        while self._timers and self._timers[0][0] <= now:
            _, _, execution_id, token = heapq.heappop(self._timers)
            live = self._live.get(execution_id)
            if live is not None:
                live.interpreter.on_timer(live.state, token, now)
                touched[execution_id] = live
        more = False
        for live in list(self._live.values()):
            if live.state.runnable:
                more |= live.interpreter.advance(live.state, now, self.step_budget)
                touched[live.record.execution_id] = live
        if touched:
            self._commit_and_act(list(touched.values()), now)
        if more or self._inbox:
            return
        self._idle(now)

    def _idle(self, now: float) -> None:
        due = self._timers[0][0] if self._timers else None
        if isinstance(self.clock, FakeClock):
            if due is not None and self._in_flight == 0 and not self._inbox:
                self.clock.set(due)
                return
            started = time.monotonic()
            self._wake.wait(0.05 if due is not None else 0.5)
            if due is not None and self._in_flight:
                self.clock.advance(time.monotonic() - started)
            return
        if due is None:
            self._wake.wait(0.5)
        else:
            self._wake.wait(min(max(due - now, 0.0), 0.5))

    def _apply(self, item: tuple[Any, ...], now: float, touched: dict[str, _Live]) -> None:
        kind = item[0]
        if kind == "start":
            _, record, listener = item
            started = self._begin(record)
            if listener is not None:
                started.listeners.append(listener)
            started.interpreter.start(started.state, now)
            touched[record.execution_id] = started
            return
        live = self._live.get(item[1])
        if live is None:
            return
        touched[live.record.execution_id] = live
        if kind == "task":
            _, _, token, result, error = item
            self._in_flight -= 1
            live.cancels.pop(token, None)
            self._task_done(live, token, result, error, now)
        elif kind == "child":
            _, _, token, record = item
            live.children.pop(token, None)
            live.interpreter.on_child_finished(
                live.state, token, record.status, record.output, record.error, record.cause, now
            )
        elif kind == "subscribe":
            live.listeners.append(item[2])
        elif kind == "abort":
            live.interpreter.abort(live.state, now, item[2], item[3])

    def _begin(self, record: ExecutionRecord) -> _Live:
        machine = machine_from_json(record.definition)
        state = ExecState(
            execution_id=record.execution_id,
            name=record.name,
            workflow=record.workflow,
            input=record.input,
            start_time=record.start_time,
        )
        live = _Live(record, state, Interpreter(machine, self.identity))
        self._live[record.execution_id] = live
        return live

    def _task_done(
        self, live: _Live, token: str, result: JSON, error: BaseException | None, now: float
    ) -> None:
        interp, st = live.interpreter, live.state
        if error is None:
            interp.on_task_succeeded(st, token, result, now)
        elif isinstance(error, WorkflowFailure):
            interp.on_task_failed(st, token, error.error, error.cause, now)
        elif isinstance(error, StackflowError):
            interp.on_task_failed(st, token, STATES_TASK_FAILED, str(error), now)
        else:
            interp.on_task_failed(st, token, type(error).__name__, str(error), now)

    # ------------------------------------------------------------------ commit, then act

    def _commit_and_act(self, lives: list[_Live], now: float) -> None:
        tickets: list[CommitTicket] = []
        batches: list[tuple[_Live, list[HistoryEvent], list[Any]]] = []
        for live in lives:
            st = live.state
            events = [
                HistoryEvent(e.id, e.type, e.timestamp, e.previous_event_id, e.details)
                for e in st.events
            ]
            commands = st.commands
            st.events = []
            st.commands = []
            if not events and not commands:
                continue
            update = None
            if st.status != "RUNNING":
                update = ExecutionUpdate(st.status, st.output, st.error, st.cause, now)
            snapshot = self._snapshot(live, len(events))
            tickets.append(
                self.store.append(
                    Transition(live.record.execution_id, tuple(events), snapshot, update)
                )
            )
            batches.append((live, events, commands))
        for ticket in tickets:
            ticket.wait()
        finished = False
        for live, events, commands in batches:
            for listener in live.listeners:
                self._notify(listener, events)
            for command in commands:
                self._carry_out(live, command)
            if live.state.status != "RUNNING":
                finished = True
                self._finished(live)
        if finished:
            with self._done:
                self._done.notify_all()

    def _snapshot(self, live: _Live, new_events: int) -> bytes | None:
        """Serialize the execution's state, or None when it is not due yet.

        A snapshot costs time proportional to the number of live frames, so one is written only
        after four times that many events (and at least ``snapshot_every``) since the last one, and
        always when the execution ends. The events in between are in the history, from which the
        state after the snapshot can be rebuilt. This keeps snapshot cost linear in the number of
        events even for a Map with thousands of concurrent iterations.
        """
        st = live.state
        live.events_since_snapshot += new_events
        due = max(self.snapshot_every, 4 * len(st.frames))
        if st.status == "RUNNING" and live.events_since_snapshot < due:
            return None
        live.events_since_snapshot = 0
        return json.dumps(st.to_json(), separators=(",", ":")).encode()

    @staticmethod
    def _notify(listener: EventListener, events: list[HistoryEvent]) -> None:
        """Give events to a listener; a listener that raises is dropped, never the loop."""
        try:
            for event in events:
                listener(event)
        except Exception:
            logger.exception("history listener %r failed", listener)

    def _carry_out(self, live: _Live, command: Any) -> None:
        execution_id = live.record.execution_id
        if isinstance(command, RunTask):
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
            child_id = live.children.pop(command.token, None)
            if child_id is not None:
                self._post(("abort", child_id, None, None))
        elif isinstance(command, StartChild):
            definition = json.dumps(command.definition, separators=(",", ":"))
            child = self.start_execution(
                definition,
                command.input,
                workflow=f"{live.record.workflow}/{live.record.name}",
                name=f"{live.record.name}:{command.token}",
                parent_id=execution_id,
            )
            live.children[command.token] = child.execution_id
            self._child_parents[child.execution_id] = (execution_id, command.token)

    def _dispatch(self, live: _Live, command: RunTask) -> None:
        execution_id = live.record.execution_id
        if command.resource.startswith(PYTHON_RESOURCE_PREFIX):
            cancel = _NEVER_CANCELLED  # a Python call cannot be interrupted; skip the Event
        else:
            cancel = threading.Event()
            live.cancels[command.token] = cancel
        request = TaskRequest(
            resource=command.resource,
            input=command.input,
            context=command.context,
            timeout=command.timeout,
            cancel=cancel,
        )

        def call() -> JSON:
            try:
                handler = resolve_task(command.resource)
            except StackflowError as exc:
                raise WorkflowFailure(STATES_RUNTIME, str(exc)) from None
            return handler(request)

        self._in_flight += 1
        token = command.token
        self.executor.run(
            call, lambda result, error: self._post(("task", execution_id, token, result, error))
        )

    def _finished(self, live: _Live) -> None:
        execution_id = live.record.execution_id
        del self._live[execution_id]
        for cancel in live.cancels.values():
            cancel.set()
        for child in live.children.values():
            self._post(("abort", child, None, None))
        parent = self._child_parents.pop(execution_id, None)
        if parent is not None:
            record = self.store.get_execution(execution_id)
            self._post(("child", parent[0], parent[1], record))
