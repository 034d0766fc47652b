"""One execution of a code workflow: the function runs in its own thread; every operation it
performs through stackflow (steps, sleeps, events, children) is numbered, checkpointed in the
history, and replayed from it after a crash.

Replay model (as DBOS): no sandbox. The function runs again from the top; each operation looks up
its index in the history and returns the recorded result instead of acting again. Code between
operations must be deterministic given their results (do side effects in steps).
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from stackflow.clock import FakeClock
from stackflow.errors import StackflowError
from stackflow.store.base import (
    CommitTicket,
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    Request,
    Transition,
)
from stackflow.types import JSON
from stackflow.workflow.code.context import enter_run, enter_step, leave_run, leave_step
from stackflow.workflow.code.decorators import StepFunction, WorkflowFunction, resolve_workflow
from stackflow.workflow.code.records import (
    STEP_MISMATCH,
    Recorded,
    StepMismatchError,
    arguments,
    describe_error,
    read_history,
    rebuild_error,
)

if TYPE_CHECKING:
    from stackflow.workflow.runtime import Runtime

logger = logging.getLogger(__name__)

#: Default number of steps of one execution that run at once with submit/map/gather.
DEFAULT_CONCURRENCY = 8


class ExecutionStopped(BaseException):
    """Raised inside a workflow whose execution was stopped (not catchable as Exception)."""


def code_definition(workflow: WorkflowFunction) -> str:
    """Return the definition text stored for an execution of a code workflow."""
    return json.dumps({"Code": workflow.ref, "Name": workflow.name}, separators=(",", ":"))


def code_ref(definition: str) -> str | None:
    """Return ``module:function`` when a stored definition is a code workflow, else None."""
    if not definition.startswith('{"Code"'):
        return None
    ref = json.loads(definition).get("Code")
    return ref if isinstance(ref, str) else None


class CodeRun:
    """Runs one code execution in its own thread, replaying its recorded operations.

    Args:
        runtime: The runtime holding the execution's lease.
        record: The execution.
        redrive: Restart a FAILED/TIMED_OUT/ABORTED execution (recorded operations replay).
    """

    def __init__(self, runtime: Runtime, record: ExecutionRecord, *, redrive: bool = False) -> None:
        self.runtime = runtime
        self.record = record
        self.redrive = redrive
        self.listeners: list[Callable[[HistoryEvent], None]] = []
        self.execution_id = record.execution_id
        self._lock = threading.Lock()
        self._next_event = 1
        self._next_index = 0
        self._recorded: dict[int, Recorded] = {}
        self._mail = threading.Condition()
        self._requests: dict[int, Request] = {}
        self._stop: Request | None = None
        self._wake = threading.Event()  # set to interrupt a sleep (stop, lost lease)
        self._entered: dict[int, HistoryEvent] = {}  # step index -> TaskStateEntered not yet stored
        self._taken: set[int] = set()  # ids of requests already handed to the workflow
        self._batch: int | None = None  # index of the first step of the current submit run
        self._running_submits = 0  # submitted steps not finished yet
        self._pool: ThreadPoolExecutor | None = None
        self._thread = threading.Thread(
            target=self._main, name=f"stackflow-code-{record.execution_id[:8]}", daemon=True
        )
        self.finished = threading.Event()
        self.lost = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start (or resume) the execution on its thread."""
        self._thread.start()

    def deliver(self, request: Request) -> None:
        """Hand a stored request (event, child end, stop) to the execution (any thread)."""
        with self._mail:
            if request.kind == "stop":
                self._stop = request
                self._wake.set()
            elif request.id not in self._taken:
                self._requests.setdefault(request.id, request)
            self._mail.notify_all()

    def abandon(self) -> None:
        """The lease was lost: stop recording (the new owner continues the execution)."""
        self.lost = True
        self._wake.set()
        with self._mail:
            self._mail.notify_all()

    def _main(self) -> None:
        token = enter_run(self)
        try:
            self._run()
        except ExecutionStopped:
            pass
        except StackflowError as exc:
            if not self.lost:
                logger.exception("code execution %s failed to record", self.execution_id)
                logger.debug("%s", exc)
        finally:
            leave_run(token)
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            self.finished.set()
            self.runtime.code_finished(self)

    def _run(self) -> None:
        store = self.runtime.store
        history = store.get_history(self.execution_id)
        self._recorded = read_history(history)
        self._next_event = (history[-1].id + 1) if history else 1
        status_update = None
        if self.redrive:
            self._forget_last_failure()
            count = sum(1 for e in history if e.type == "ExecutionRedriven") + 1
            self.emit(
                "ExecutionRedriven", {"redriveCount": count}, update=ExecutionUpdate("RUNNING")
            )
        elif not history:
            self.emit("ExecutionStarted", {"input": self.record.input})
        ref = code_ref(self.record.definition) or ""
        try:
            workflow = resolve_workflow(ref)
            output = self._call_workflow(workflow)
            json.dumps(output)
        except ExecutionStopped:
            stop = self._stop
            payload = stop.payload if stop is not None and isinstance(stop.payload, dict) else {}
            error, cause = payload.get("error"), payload.get("cause")
            consumed = (stop.id,) if stop is not None else ()
            status_update = ExecutionUpdate("ABORTED", None, error, cause, self._now())
            self.emit(
                "ExecutionAborted",
                {"error": error, "cause": cause},
                update=status_update,
                consumed=consumed,
                wait=True,
                finish=True,
            )
            raise
        except StepMismatchError as exc:
            self._fail(STEP_MISMATCH, str(exc))
            return
        except Exception as exc:
            self._fail(*describe_error(exc))
            return
        self.emit(
            "ExecutionSucceeded",
            {"output": output},
            update=ExecutionUpdate("SUCCEEDED", output, None, None, self._now()),
            wait=True,
            finish=True,
        )

    def _forget_last_failure(self) -> None:
        """Redrive, as Step Functions does, from the operation that failed: the last operation
        recorded with an error runs again (earlier ones replay as recorded)."""
        failed = [i for i, r in self._recorded.items() if r.done and r.error is not None]
        if failed:
            del self._recorded[max(failed)]

    def _fail(self, error: str, cause: str) -> None:
        self.emit(
            "ExecutionFailed",
            {"error": error, "cause": cause},
            update=ExecutionUpdate("FAILED", None, error, cause, self._now()),
            wait=True,
            finish=True,
        )

    def _call_workflow(self, workflow: WorkflowFunction) -> JSON:
        if inspect.iscoroutinefunction(workflow.fn):
            import asyncio

            return asyncio.run(workflow.fn(self.record.input))
        return workflow.fn(self.record.input)

    def _now(self) -> float:
        return self.runtime.clock.now()

    # ------------------------------------------------------------------ recording

    def emit(
        self,
        kind: str,
        details: dict[str, Any],
        *,
        wait: bool = False,
        update: ExecutionUpdate | None = None,
        consumed: tuple[int, ...] = (),
        finish: bool = False,
        more: tuple[tuple[str, dict[str, Any]], ...] = (),
        requests: tuple[Request, ...] = (),
    ) -> None:
        """Append events (fenced by the lease) and, with ``wait``, block until durable."""
        if self.lost:
            raise ExecutionStopped()
        now = self._now()
        with self._lock:
            events = []
            entered = self._entered.pop(details.get("step", -1), None)
            pending = () if entered is None else (("TaskStateEntered", entered.details),)
            for event_kind, event_details in (*pending, (kind, details), *more):
                events.append(
                    HistoryEvent(
                        self._next_event, event_kind, now, self._next_event - 1, event_details
                    )
                )
                self._next_event += 1
            if finish and self.record.parent_id is not None:
                requests = (*requests, self._parent_request(update, now))
            ticket: CommitTicket = self.runtime.store.append(
                Transition(
                    self.execution_id,
                    tuple(events),
                    None,
                    update,
                    owner=self.runtime.owner,
                    consumed_requests=consumed,
                    requests=requests,
                    durable=finish,  # steps survive a kill; the end is flushed with everything
                )
            )
        self._notify(events[len(pending) :])
        if wait:
            ticket.wait()

    def _joining(self) -> int | None:
        """The batch a step called now runs beside (submitted steps still running), or None."""
        with self._lock:
            return self._batch if self._running_submits > 0 else None

    def begin_step(
        self, index: int, name: str, step_input: JSON, *, batch: int | None = None
    ) -> None:
        """Show the step's TaskStateEntered event to listeners now; it is stored (and numbered)
        with the step's first outcome, so a step costs one durable commit, not two, and a step
        cut short by a crash leaves no gap in the history's ids."""
        now = self._now()
        with self._lock:
            event = HistoryEvent(
                self._next_event,  # provisional: the stored event gets the id free at its commit
                "TaskStateEntered",
                now,
                self._next_event - 1,
                {"name": name, "input": step_input, "step": index}
                | ({} if batch is None else {"batch": batch}),
            )
            self._entered[index] = event
        self._notify([event])

    def _notify(self, events: list[HistoryEvent]) -> None:
        for listener in self.listeners:
            for event in events:
                try:
                    listener(event)
                except Exception:
                    logger.exception("history listener failed")

    def _parent_request(self, update: ExecutionUpdate | None, now: float) -> Request:
        payload = {
            "execution_id": self.execution_id,
            "workflow": self.record.workflow,
            "name": self.record.name,
            "status": update.status if update else "FAILED",
            "input": self.record.input,
            "output": update.output if update else None,
            "error": update.error if update else None,
            "cause": update.cause if update else None,
            "start_time": self.record.start_time,
            "stop_time": now,
        }
        return Request(0, self.record.parent_id or "", "child_finished", None, payload, now)

    def allocate(self, *, keep_batch: bool = False) -> tuple[int, Recorded | None]:
        """Return the next operation index and what the history recorded there."""
        self._check_stop()
        with self._lock:
            index = self._next_index
            self._next_index += 1
            if not keep_batch and self._running_submits == 0:
                self._batch = None  # nothing submitted is running: a new sequential operation
        return index, self._recorded.get(index)

    def _check_stop(self) -> None:
        if self.lost or self._stop is not None:
            raise ExecutionStopped()

    @staticmethod
    def _expect(index: int, recorded: Recorded | None, kind: str, name: str) -> None:
        if recorded is not None and (recorded.kind != kind or recorded.name != name):
            raise StepMismatchError(index, recorded, kind, name)

    # ------------------------------------------------------------------ steps

    def call_step(self, step: StepFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run (or replay) one step call."""
        index, recorded = self.allocate()
        self._expect(index, recorded, "step", step.name)
        if recorded is not None and recorded.done:
            return _replayed(recorded)
        if recorded is None:
            self.begin_step(index, step.name, arguments(args, kwargs), batch=self._joining())
        return self._attempts(step, index, lambda: self._invoke(step, args, kwargs))

    async def call_step_async(
        self, step: StepFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run (or replay) one call of an ``async def`` step."""
        import asyncio

        index, recorded = self.allocate()
        self._expect(index, recorded, "step", step.name)
        if recorded is not None and recorded.done:
            return _replayed(recorded)
        if recorded is None:
            self.begin_step(index, step.name, arguments(args, kwargs), batch=self._joining())
        attempt = 0
        while True:
            try:
                if step.timeout is not None:
                    result = await asyncio.wait_for(step.fn(*args, **kwargs), step.timeout)
                else:
                    result = await step.fn(*args, **kwargs)
                return self._succeeded(step, index, result)
            except Exception as exc:
                delay = self._retry_delay(step, index, attempt, exc)
                if delay is None:
                    raise
                attempt += 1
                await asyncio.sleep(delay)

    def _invoke(self, step: StepFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if step.timeout is None:
            token = enter_step()
            try:
                return step.fn(*args, **kwargs)
            finally:
                leave_step(token)

        def call() -> Any:
            token = enter_step()
            try:
                return step.fn(*args, **kwargs)
            finally:
                leave_step(token)

        future = self.runtime.executor.submit(call)
        try:
            return future.result(timeout=step.timeout)
        except FutureTimeout:
            raise TimeoutError(f"step {step.name!r} took longer than {step.timeout} s") from None

    def _attempts(self, step: StepFunction, index: int, call: Callable[[], Any]) -> Any:
        recorded = self._recorded.get(index)
        attempt = recorded.attempts if recorded is not None else 0
        if recorded is not None and recorded.retry_at is not None:
            self._sleep_until(recorded.retry_at)  # a takeover keeps the retry's due time
        while True:
            try:
                result = call()
            except Exception as exc:
                delay = self._retry_delay(step, index, attempt, exc)
                if delay is None:
                    raise
                attempt += 1
                self._sleep_until(self._now() + delay)
                continue
            return self._succeeded(step, index, result)

    def _succeeded(self, step: StepFunction, index: int, result: Any) -> Any:
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"step {step.name!r} returned {type(result).__name__}, which is not JSON: {exc}"
            ) from None
        self.emit(
            "TaskSucceeded",
            {"name": step.name, "output": result, "step": index},
            more=(("TaskStateExited", {"name": step.name, "output": result, "step": index}),),
            wait=True,
        )
        return result

    def _retry_delay(
        self, step: StepFunction, index: int, attempt: int, exc: Exception
    ) -> float | None:
        """Record a failed attempt; return the wait before the next one, or None when final."""
        error, cause = describe_error(exc)
        policy = step.retry
        final = attempt + 1 >= policy.max_attempts or isinstance(exc, policy.no_retry)
        details = {"name": step.name, "error": error, "cause": cause, "step": index}
        if final:
            self.emit(
                "TaskFailed",
                {**details, "final": True},
                more=(("TaskStateExited", {"name": step.name, "step": index}),),
                wait=True,
            )
            return None
        delay = policy.delay(attempt, f"{self.execution_id}:{index}")
        self.emit("TaskFailed", {**details, "final": False, "retry_at": self._now() + delay})
        return delay

    def submit_step(
        self, step: StepFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any]:
        """Run a step in the background; its index is taken now, in program order.

        Steps submitted one after the other (with no other operation between them, as
        ``step.map`` does) share a ``batch`` in the history: the graph draws them side by side.
        """
        index, recorded = self.allocate(keep_batch=True)
        with self._lock:
            if self._batch is None:
                self._batch = index
            batch = self._batch
        self._expect(index, recorded, "step", step.name)
        future: Future[Any] = Future()
        if recorded is not None and recorded.done:
            try:
                future.set_result(_replayed(recorded))
            except BaseException as exc:
                future.set_exception(exc)
            return future
        if recorded is None:
            self.begin_step(index, step.name, arguments(args, kwargs), batch=batch)
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(DEFAULT_CONCURRENCY, "stackflow-step")

        with self._lock:
            self._running_submits += 1

        def work() -> Any:
            token = enter_run(self)
            try:
                return self._attempts(step, index, lambda: self._invoke(step, args, kwargs))
            finally:
                leave_run(token)
                with self._lock:
                    self._running_submits -= 1

        return self._pool.submit(work)

    def map_step(self, step: StepFunction, items: list[Any], concurrency: int | None) -> list[Any]:
        """Run a step once per item, at most ``concurrency`` at once; return results in order."""
        limit = max(1, concurrency or DEFAULT_CONCURRENCY)
        with self._lock:
            self._batch = None  # a map is a parallel group of its own
        futures: list[Future[Any]] = []
        results: list[Any] = []
        for item in items:
            if len([f for f in futures if not f.done()]) >= limit:
                _wait_any([f for f in futures if not f.done()])
            futures.append(self.submit_step(step, (item,), {}))
        for future in futures:
            results.append(future.result())
        return results

    # ------------------------------------------------------------------ sleep, events, patches

    def sleep(self, seconds: float) -> None:
        """Sleep durably: the wake-up time is recorded, a restart sleeps only what is left."""
        index, recorded = self.allocate()
        self._expect(index, recorded, "sleep", "sleep")
        if recorded is not None and recorded.done:
            return
        due = recorded.due if recorded is not None and recorded.due is not None else None
        if due is None:
            due = self._now() + max(float(seconds), 0.0)
            self.emit(
                "WaitStateEntered",
                {"name": "sleep", "seconds": seconds, "due": due, "step": index},
                wait=True,
            )
        self._sleep_until(due)
        self.emit("WaitStateExited", {"name": "sleep", "step": index})

    def _sleep_until(self, due: float) -> None:
        clock = self.runtime.clock
        while True:
            self._check_stop()
            if clock.now() >= due:
                return
            clock.sleep_until(due, self._wake)

    def wait_for_event(self, name: str, timeout: float | None) -> JSON:
        """Wait (durably) for ``send_event(execution_id, name, payload)``; None on timeout."""
        index, recorded = self.allocate()
        self._expect(index, recorded, "event", name)
        if recorded is not None and recorded.done:
            return recorded.output
        due = recorded.due if recorded is not None else None
        if recorded is None:
            due = None if timeout is None else self._now() + timeout
            self.emit("EventWaitStarted", {"name": name, "due": due, "step": index}, wait=True)
        request = self._take(lambda r: r.kind == "event" and r.token == name, due)
        if request is None:
            self.emit("EventTimedOut", {"name": name, "step": index}, wait=True)
            return None
        self.emit(
            "EventReceived",
            {"name": name, "output": request.payload, "step": index},
            consumed=(request.id,),
            wait=True,
        )
        return request.payload

    def _take(self, match: Callable[[Request], bool], due: float | None) -> Request | None:
        """Block until a delivered request matches (and remove it), or until ``due``."""
        clock = self.runtime.clock
        idle = 0.0
        while True:
            self._check_stop()
            with self._mail:
                for request_id in sorted(self._requests):
                    request = self._requests[request_id]
                    if match(request):
                        del self._requests[request_id]
                        self._taken.add(request_id)  # a later poll must not hand it out again
                        return request
                if due is not None and clock.now() >= due:
                    return None
                self._mail.wait(0.1)
            if due is not None and isinstance(clock, FakeClock):
                idle += 0.1
                if idle >= 0.5:  # time skipping: nothing arrived for a while; jump to the timeout
                    clock.set(due)

    def send_event(self, execution_id: str, name: str, payload: JSON) -> None:
        """Send an event to another execution, exactly once: the request is stored in the same
        transaction as this operation's record, so a replay never sends it again."""
        index, recorded = self.allocate()
        self._expect(index, recorded, "send", name)
        if recorded is not None:
            return
        request = Request(0, execution_id, "event", name, payload, self._now())
        details = {"name": name, "target": execution_id, "output": payload, "step": index}
        self.emit("EventSent", details, wait=True, requests=(request,))
        self.runtime.poke()

    def patched(self, change_id: str) -> bool:
        """Return True on the new code path, False for an execution recorded before the change."""
        self._check_stop()
        with self._lock:
            index = self._next_index
            recorded = self._recorded.get(index)
            if recorded is not None and not (
                recorded.kind == "patch" and recorded.name == change_id
            ):
                return False  # an older execution: it went on without the patch here
            self._next_index += 1
        if recorded is None:
            self.emit("StepPatched", {"name": change_id, "step": index}, wait=True)
        return True

    # ------------------------------------------------------------------ children

    def run_child(self, target: Any, child_input: JSON, name: str | None) -> JSON:
        """Run a child execution (a ``@workflow`` or a deployed ASL workflow) and return its
        output; a failed child raises :class:`StepFailedError` with its error and cause."""
        from stackflow.workflow import integrations

        label = target.name if isinstance(target, WorkflowFunction) else str(target)
        index, recorded = self.allocate()
        self._expect(index, recorded, "child", label)
        if recorded is not None and recorded.done:
            return _replayed(recorded)
        child_id = integrations.child_execution_id(self.execution_id, f"step{index}")
        if recorded is None:
            self.emit(
                "ChildStarted", {"name": label, "child_id": child_id, "step": index}, wait=True
            )
        self.runtime.start_code_child(self, target, child_input, child_id, name, index)
        request = self._take(
            lambda r: (
                r.kind == "child_finished"
                and isinstance(r.payload, dict)
                and r.payload.get("execution_id") == child_id
            ),
            None,
        )
        assert request is not None
        payload = request.payload
        if payload.get("status") == "SUCCEEDED":
            self.emit(
                "ChildSucceeded",
                {"name": label, "output": payload.get("output"), "step": index},
                consumed=(request.id,),
                wait=True,
            )
            return payload.get("output")
        error, cause = payload.get("error") or "ChildFailed", payload.get("cause")
        self.emit(
            "ChildFailed",
            {"name": label, "error": error, "cause": cause, "step": index, "final": True},
            consumed=(request.id,),
            wait=True,
        )
        raise rebuild_error(error, cause)


def _replayed(recorded: Recorded) -> Any:
    if recorded.error is not None:
        raise rebuild_error(recorded.error, recorded.cause)
    return recorded.output


def _wait_any(futures: list[Future[Any]]) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait

    wait(futures, return_when=FIRST_COMPLETED)
