"""The durable runtime: drives interpreters, records every step, carries out their commands.

One loop thread owns every execution this runtime holds a lease on. Each turn it

1. applies what arrived (new executions, task results, due timers, requests from other processes:
   callbacks, stops, ends of child executions),
2. advances every runnable execution through the pure interpreter,
3. queues each execution's new events, its snapshot header and changed frames to the store (group
   commit: one flush for all), fenced by the lease, together with the requests it consumed,
4. waits for durability, then carries out the commands (tasks go to the executor, timers to a heap,
   child executions are started) and wakes whoever waits for a finished execution.

Because every commit holds the exact state, a runtime that dies loses nothing that was committed:
another runtime claims its executions when their leases expire, reloads the snapshot, runs the
pending tasks again (at-least-once) and re-arms the timers at their recorded due times.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from stackflow.clock import Clock, FakeClock, SystemClock
from stackflow.errors import (
    LeaseLostError,
    StackflowError,
)
from stackflow.executors.base import Executor
from stackflow.executors.local import LocalExecutor
from stackflow.store.base import (
    CommitTicket,
    ExecutionRecord,
    HistoryEvent,
    Store,
)
from stackflow.types import JSON, TERMINAL_STATUSES
from stackflow.workflow import outcomes, snapshots
from stackflow.workflow.asl.context import DEFAULT_IDENTITY, Identity
from stackflow.workflow.asl.execstate import (
    ExecState,
)
from stackflow.workflow.code.decorators import WorkflowFunction
from stackflow.workflow.code.run import CodeRun, code_ref
from stackflow.workflow.live import Live
from stackflow.workflow.runtime_children import ChildRuntime
from stackflow.workflow.runtime_commands import CommandRuntime

logger = logging.getLogger(__name__)

#: Listener of committed history events of one execution.
EventListener = Callable[[HistoryEvent], None]


def new_owner_id() -> str:
    """Return a unique id for a runtime: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Runtime(CommandRuntime, ChildRuntime):
    """Runs executions durably against a store.

    Args:
        store: Where executions are recorded.
        executor: Where task code runs (default: a bounded local thread pool).
        clock: Source of workflow time (a :class:`FakeClock` skips waits when nothing else can
            happen). Leases always use real time.
        identity: ARN naming for context objects.
        owner: This runtime's id in leases (default: host, pid and a random part).
        lease_seconds: How long a claim holds without renewal; renewed every third of it.
        claim: Also take over executions nobody holds (new ones started with ``submit``, and those
            whose owner died): what ``stackflow worker`` does.
        max_executions: Most executions held at once when claiming.
        poll_interval: Seconds between looks at the store for claims and requests.
        step_budget: Most state steps per execution per loop turn.
    """

    def __init__(
        self,
        store: Store,
        *,
        executor: Executor | None = None,
        clock: Clock | None = None,
        identity: Identity = DEFAULT_IDENTITY,
        owner: str | None = None,
        lease_seconds: float = 10.0,
        claim: bool = False,
        max_executions: int = 1000,
        poll_interval: float = 0.1,
        step_budget: int = 10000,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.identity = identity
        self.owner = owner or new_owner_id()
        self.lease_seconds = lease_seconds
        self.claim = claim
        self.max_executions = max_executions
        self.poll_interval = poll_interval
        self.step_budget = step_budget
        self._owns_executor = executor is None
        self.executor = executor or LocalExecutor()
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._live: dict[str, Live] = {}
        self._timers: list[tuple[float, int, str, str]] = []
        self._timer_seq = 0
        self._in_flight = 0
        self._done = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._next_poll = 0.0
        self._next_renew = 0.0
        self.on_claim: Callable[[ExecutionRecord], None] | None = None
        self._adopting: set[str] = set()  # handed to the loop, not yet live
        self._code: dict[str, CodeRun] = {}  # code workflows (each on its own thread)
        self._code_targets: dict[str, WorkflowFunction | None] = {}
        self._draining = False  # closing: run no new tasks, let running ones finish
        if claim:
            self._ensure_thread()  # a worker looks for work from the start

    # ------------------------------------------------------------------ public API

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
    ) -> ExecutionRecord:
        """Record a new execution and (with ``drive``) start running it here.

        Args:
            definition: The (validated) definition as JSON text.
            input: Execution input.
            workflow: Workflow name.
            name: Execution name (default: a fresh UUID).
            parent_id: The execution that started this one, if any.
            version: Deployed workflow version, if any.
            listener: Called on the loop thread with each committed history event.
            drive: Hold the lease and run it in this runtime; False only records it, for a worker
                to claim (``stackflow workflow start``).
            execution_id: A given id (children get deterministic ids), else a fresh UUID.

        Returns:
            The stored record (status RUNNING).
        """
        record = ExecutionRecord(
            execution_id=execution_id or str(uuid.uuid4()),
            name=name or str(uuid.uuid4()),
            workflow=workflow,
            definition=definition,
            status="RUNNING",
            input=input,
            start_time=self.clock.now(),
            parent_id=parent_id,
            owner=self.owner if drive else None,
            lease_expires=time.time() + self.lease_seconds if drive else None,
            version=version,
        )
        self.store.create_execution(record)
        if drive:
            self._post(("start", record, listener))
        return record

    def subscribe(self, execution_id: str, listener: EventListener) -> None:
        """Call ``listener`` with each history event of a running execution from now on."""
        self._post(("subscribe", execution_id, listener))

    def poke(self) -> None:
        """Look at the store for requests and claims now instead of at the next poll."""
        self._next_poll = 0.0
        self._post(("poke",))

    def adopt(self, record: ExecutionRecord, *, redrive: bool = False) -> None:
        """Drive an execution whose lease this runtime has just taken.

        Args:
            record: The execution (its lease held by this runtime's owner id).
            redrive: Restart it from where it failed (it is FAILED, TIMED_OUT or ABORTED).
        """
        self._adopting.add(record.execution_id)
        self._post(("redrive" if redrive else "resume", record))

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the loop thread, or None while it runs."""
        return self._error

    def holds(self, execution_id: str) -> bool:
        """Return True while this runtime drives the execution."""
        return execution_id in self._live or execution_id in self._code

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
                busy = (
                    execution_id in self._live
                    or execution_id in self._adopting
                    or execution_id in self._code
                )
                if record.status in TERMINAL_STATUSES and not busy:
                    return record
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"execution {execution_id} did not finish in time")
                self._done.wait(0.2 if remaining is None else min(remaining, 0.2))

    def start(self) -> None:
        """Start the loop thread (it also starts on the first execution)."""
        self._ensure_thread()

    def close(self, release: bool = True, grace: float = 10.0) -> None:
        """Stop the loop thread and the executor this runtime created.

        With ``release``, tasks already running get up to ``grace`` seconds to finish (their
        results are committed; no new task starts), then the leases of unfinished executions are
        given back so another runtime takes them at once. A crash skips all this: then the
        executions wait for their leases to expire, and tasks that were running run again.

        Args:
            release: Drain and give up the leases (False simulates a crash in tests).
            grace: Most seconds to wait for running tasks.
        """
        self.claim = False
        if release and self._thread is not None and self._thread.is_alive():
            self._draining = True
            deadline = time.monotonic() + grace
            while self._in_flight > 0 and time.monotonic() < deadline and self._error is None:
                self._wake.set()
                threading.Event().wait(0.02)
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        held = [*self._live, *self._adopting, *self._code]
        for run in list(self._code.values()):
            run.abandon()
        if release and held:
            try:
                self.store.release_executions(self.owner, held)
            except StackflowError:
                logger.exception("could not release leases")
        if self._owns_executor:
            self.executor.shutdown(wait=False)

    # ------------------------------------------------------------------ the loop

    def _post(self, item: tuple[Any, ...]) -> None:
        self._inbox.append(item)
        if not self._wake.is_set():
            self._wake.set()
        if self._thread is None:
            self._ensure_thread()

    def _ensure_thread(self) -> None:
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
            logger.exception("runtime loop failed")
            self._error = exc
            with self._done:
                self._done.notify_all()
            raise

    def _turn(self) -> None:
        self._wake.clear()
        now = self.clock.now()
        touched: dict[str, Live] = {}
        real = time.time()
        if real >= self._next_renew and (self._live or self._code):
            self._renew(real)
        if real >= self._next_poll:
            self._next_poll = real + self.poll_interval
            self._poll(now, touched)
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
        poll_wait = max(self._next_poll - time.time(), 0.0)
        if isinstance(self.clock, FakeClock):
            if due is not None and self._in_flight == 0 and not self._inbox:
                self.clock.set(due)
                return
            started = time.monotonic()
            self._wake.wait(min(0.05, poll_wait) if due is not None else poll_wait)
            if due is not None and self._in_flight:
                self.clock.advance(time.monotonic() - started)
            return
        wait = poll_wait if due is None else min(max(due - now, 0.0), poll_wait)
        self._wake.wait(wait)

    def _renew(self, real: float) -> None:
        self._next_renew = real + self.lease_seconds / 3
        ids = [*self._live, *self._code]
        held = set(self.store.renew_leases(self.owner, ids, real + self.lease_seconds))
        for execution_id in ids:
            if execution_id not in held:
                logger.warning("lease on %s lost; another runtime drives it now", execution_id)
                self._drop(execution_id)
                run = self._code.pop(execution_id, None)
                if run is not None:
                    run.abandon()

    def _poll(self, now: float, touched: dict[str, Live]) -> None:
        held = len(self._live) + len(self._code)
        if self.claim and held < self.max_executions:
            real = time.time()
            claimed = self.store.claim_executions(
                self.owner, real, real + self.lease_seconds, self.max_executions - held
            )
            for record in claimed:
                if self.on_claim is not None:
                    self.on_claim(record)
                live = self._resume(record, now)
                if live is not None:
                    touched[record.execution_id] = live
        if self._code:
            for request in self.store.pending_requests(list(self._code)):
                run = self._code.get(request.execution_id)
                if run is not None:
                    run.deliver(request)
        if self._live:
            for request in self.store.pending_requests(list(self._live)):
                live = self._live.get(request.execution_id)
                if live is not None and request.id not in live.seen_requests:
                    live.seen_requests.add(request.id)
                    live.consumed.append(request.id)
                    outcomes.apply_request(live, request, now, self.identity)
                    touched[request.execution_id] = live

    def _apply(self, item: tuple[Any, ...], now: float, touched: dict[str, Live]) -> None:
        kind = item[0]
        if kind == "poke":
            return
        if kind == "start" and code_ref(item[1].definition) is not None:
            self._start_code(item[1], item[2], redrive=False)
            return
        if kind == "start":
            _, record, listener = item
            started = self._begin(record)
            if listener is not None:
                started.listeners.append(listener)
            started.interpreter.start(started.state, now)
            touched[record.execution_id] = started
            return
        if kind in ("resume", "redrive"):
            try:
                resumed = self._resume(item[1], now, redrive=kind == "redrive")
            finally:
                self._adopting.discard(item[1].execution_id)
            if resumed is not None:
                touched[item[1].execution_id] = resumed
            return
        live = self._live.get(item[1])
        if live is None:
            if kind == "task":
                self._in_flight -= 1
            return
        touched[live.record.execution_id] = live
        if kind == "task":
            _, _, token, result, error = item
            self._in_flight -= 1
            live.cancels.pop(token, None)
            outcomes.task_done(live, token, result, error, now)
        elif kind in ("items", "written"):
            _, _, token, result, error = item
            self._in_flight -= 1
            failure = outcomes.as_failure(error)
            if kind == "items":
                live.interpreter.on_items(live.state, token, result, failure, now)
            else:
                live.interpreter.on_results_written(live.state, token, result, failure, now)
        elif kind == "subscribe":
            live.listeners.append(item[2])

    def _begin(self, record: ExecutionRecord) -> Live:
        state = ExecState(
            execution_id=record.execution_id,
            name=record.name,
            workflow=record.workflow,
            input=record.input,
            start_time=record.start_time,
        )
        live = Live(record, state, _interpreter(record.definition, self.identity))
        self._live[record.execution_id] = live
        return live

    def _resume(self, record: ExecutionRecord, now: float, *, redrive: bool = False) -> Live | None:
        """Take over an execution from its last committed snapshot (or redrive a failed one)."""
        if code_ref(record.definition) is not None:
            self._start_code(record, None, redrive=redrive)
            return None
        snapshot = self.store.load_snapshot(record.execution_id)
        if snapshot is None:  # recorded but never started (workflow start, or died at once)
            live = self._begin(record)
            live.interpreter.start(live.state, now)
            return live
        header = json.loads(snapshot.header)
        state = ExecState.from_json(header, snapshots.load_frames(snapshot.frames))
        live = Live(record, state, _interpreter(record.definition, self.identity))
        if redrive:
            if not live.interpreter.redrive(state, now):
                self.store.release_executions(self.owner, [record.execution_id])
                return None
            live.redriven = True
        self._live[record.execution_id] = live
        for request in self.store.pending_requests([record.execution_id]):
            if request.kind == "stop":  # stop before sending pending tasks out again
                live.seen_requests.add(request.id)
                live.consumed.append(request.id)
                outcomes.apply_request(live, request, now, self.identity)
        for command in live.interpreter.resume_commands(state):
            self._carry_out(live, command, resumed=True)
        logger.info("resumed %s with %d runnable frames", record.execution_id, len(state.runnable))
        return live

    def _drop(self, execution_id: str) -> None:
        live = self._live.pop(execution_id, None)
        if live is None:
            return
        for cancel in live.cancels.values():
            cancel.set()
        with self._done:
            self._done.notify_all()

    # ------------------------------------------------------------------ commit, then act

    def _commit_and_act(self, lives: list[Live], now: float) -> None:
        tickets: list[tuple[Live, CommitTicket]] = []
        batches: list[tuple[Live, list[HistoryEvent], list[Any]]] = []
        for live in lives:
            st = live.state
            commands = st.commands
            if not st.events and not commands and not live.consumed:
                continue
            events = [
                HistoryEvent(e.id, e.type, e.timestamp, e.previous_event_id, e.details)
                for e in st.events
            ]
            st.events = []
            st.commands = []
            transition = self._transition(live, events, commands, now)
            if any(
                r.execution_id in self._live or r.execution_id in self._code
                for r in transition.requests
            ):
                self._next_poll = 0.0  # a parent or child held here: look at requests at once
            tickets.append((live, self.store.append(transition)))
            batches.append((live, events, commands))
        lost: set[str] = set()
        for live, ticket in tickets:
            try:
                ticket.wait()
            except LeaseLostError:
                lost.add(live.record.execution_id)
            except StackflowError:  # the store refused this step: keep the loop for the others
                logger.exception("could not record a step of %s", live.record.execution_id)
                lost.add(live.record.execution_id)
                self.store.release_executions(self.owner, [live.record.execution_id])
        finished = False
        for live, events, commands in batches:
            execution_id = live.record.execution_id
            if execution_id in lost:
                logger.warning("%s was not recorded; dropping it from this runtime", execution_id)
                self._drop(execution_id)
                continue
            for listener in live.listeners:
                _notify(listener, events)
            for command in commands:
                self._carry_out(live, command)
            if live.state.status != "RUNNING":
                finished = True
                self._finished(live)
        if finished:
            with self._done:
                self._done.notify_all()

    def _finished(self, live: Live) -> None:
        execution_id = live.record.execution_id
        del self._live[execution_id]
        for cancel in live.cancels.values():
            cancel.set()


def _notify(listener: EventListener, events: list[HistoryEvent]) -> None:
    """Give events to a listener; a listener that raises is logged, never the loop's problem."""
    try:
        for event in events:
            listener(event)
    except Exception:
        logger.exception("history listener %r failed", listener)


def _interpreter(definition: str, identity: Identity) -> Any:
    """The interpreter of an ASL definition (imported on first use: code workflows and the CLI's
    start-up do not pay for the ASL engine)."""
    from stackflow.workflow.asl.interpreter import Interpreter
    from stackflow.workflow.asl.machine import machine_from_json

    return Interpreter(machine_from_json(definition), identity)
