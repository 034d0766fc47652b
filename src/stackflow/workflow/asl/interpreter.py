"""The ASL interpreter: a pure decision function over an :class:`ExecState`.

The runtime feeds it one outside event at a time (start, task result, timer, child end) and calls
:meth:`Interpreter.advance`, which moves every runnable frame forward round-robin, one state step
each turn, until every frame waits for the outside world or the step budget is spent. Each step
appends history events to ``state.events`` and side effects to ``state.commands``; the runtime
drains both, stores the events with a snapshot of the state, then carries out the commands.

Nothing here reads a clock or does I/O: the current time is an argument.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from stackflow.errors import (
    STATES_HEARTBEAT_TIMEOUT,
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RUNTIME,
    STATES_TIMEOUT,
    UNCATCHABLE_ERRORS,
    WorkflowFailure,
)
from stackflow.types import JSON, JSONObject
from stackflow.workflow.asl import composite, simple_states
from stackflow.workflow.asl.context import DEFAULT_IDENTITY, Identity, context_object
from stackflow.workflow.asl.execstate import (
    CHILDREN,
    CHILDREN_DONE,
    ENTER,
    EXIT,
    ITEMS,
    ITERATION,
    RETRY,
    START,
    TASK,
    TIMER,
    WRITING,
    CancelTask,
    Command,
    Event,
    ExecState,
    Frame,
    StartTimer,
)
from stackflow.workflow.asl.machine import JSONATA, Machine
from stackflow.workflow.asl.retry import find_catcher, find_retrier, retry_delay

#: Errors raised while evaluating a state's fields get the "An error occurred while executing..."
#: prefix that Step Functions puts on them.
_PREFIXED = frozenset({STATES_RUNTIME, STATES_QUERY_EVALUATION_ERROR})


class Interpreter:
    """Runs the states of one state machine definition.

    Args:
        machine: The compiled definition.
        identity: ARN naming for the context object.
        payload_limit: Largest state output in bytes (Step Functions' 256 KiB quota); larger
            outputs fail with States.DataLimitExceeded. None disables the check.
    """

    def __init__(
        self,
        machine: Machine,
        identity: Identity = DEFAULT_IDENTITY,
        payload_limit: int | None = 256 * 1024,
    ) -> None:
        self.machine = machine
        self.identity = identity
        self.payload_limit = payload_limit

    # ----------------------------------------------------------------- outside events

    def start(self, st: ExecState, now: float) -> None:
        """Begin an execution: emit ExecutionStarted and queue the first state."""
        started = self.emit(st, None, "ExecutionStarted", now, {"input": st.input})
        top = self.new_frame(st, None, "", 0, self.machine.top.start_at, st.input)
        top.last_event = started.id
        timeout = self.machine.document.get("TimeoutSeconds")
        if isinstance(timeout, int) and timeout > 0:
            st.deadline = now + timeout
            st.commands.append(StartTimer("execution-timeout", st.deadline))

    def on_task_succeeded(self, st: ExecState, token: str, result: JSON, now: float) -> None:
        """Record a task's result and queue its state to complete."""
        frame = self._frame_for(st, token)
        if frame is None or frame.phase != TASK or frame.token != token:
            return
        self._clear_task(st, frame)
        self.emit(st, frame, "TaskSucceeded", now, {"output": result})
        self._run_guarded(st, frame, now, simple_states.task_result, result)

    def on_task_failed(
        self, st: ExecState, token: str, error: str | None, cause: str | None, now: float
    ) -> None:
        """Record a task's failure and apply Retry/Catch."""
        frame = self._frame_for(st, token)
        if frame is None or frame.phase != TASK or frame.token != token:
            return
        self._clear_task(st, frame)
        self.emit(st, frame, "TaskFailed", now, {"error": error, "cause": cause})
        self.state_failed(st, frame, error, cause, now)

    def on_timer(self, st: ExecState, token: str, now: float) -> None:
        """Handle a due timer: a Wait ends, a retry starts, or a task timed out."""
        if token == "execution-timeout":
            if st.status == "RUNNING" and st.deadline is not None and now >= st.deadline:
                self.finish(st, "TIMED_OUT", now, error=STATES_TIMEOUT, cause=None)
            return
        frame = self._frame_for(st, token)
        if frame is None:
            return
        del st.pending[token]
        if frame.phase == TIMER and frame.token == token:
            frame.token = None
            frame.phase = EXIT
            self.schedule(st, frame)
        elif frame.phase == RETRY and frame.token == token:
            frame.token = None
            frame.phase = START
            self.schedule(st, frame)
        elif frame.phase == TASK and frame.data.get("timeout_token") == token:
            self._clear_task(st, frame)
            self.emit(st, frame, "TaskTimedOut", now, {"error": STATES_TIMEOUT})
            self.state_failed(st, frame, STATES_TIMEOUT, None, now)
        elif frame.phase == TASK and frame.data.get("heartbeat_token") == token:
            self._clear_task(st, frame)
            self.emit(st, frame, "TaskTimedOut", now, {"error": STATES_HEARTBEAT_TIMEOUT})
            self.state_failed(st, frame, STATES_HEARTBEAT_TIMEOUT, None, now)

    def on_task_heartbeat(self, st: ExecState, token: str, now: float) -> bool:
        """Record a heartbeat of a waiting task; return False when the token is not waited for."""
        frame = self._frame_for(st, token)
        if frame is None or frame.phase != TASK or frame.token != token:
            return False
        simple_states.arm_heartbeat(self, st, frame, now)
        return True

    def is_waiting_for(self, st: ExecState, token: str) -> bool:
        """Return True if ``token`` names a task the execution still waits for."""
        frame = self._frame_for(st, token)
        return frame is not None and frame.phase == TASK and frame.token == token

    def on_child_finished(
        self,
        st: ExecState,
        token: str,
        status: str,
        output: JSON,
        error: str | None,
        cause: str | None,
        now: float,
    ) -> None:
        """Record the end of a child execution (a Distributed Map item)."""
        frame = self._frame_for(st, token)
        if frame is None:
            return
        del st.pending[token]
        composite.distributed_child_finished(self, st, frame, token, status, output, error, cause)

    def on_items(
        self, st: ExecState, token: str, items: JSON, error: WorkflowFailure | None, now: float
    ) -> None:
        """Continue a Distributed Map with the items its ItemReader read (or its failure)."""
        self._io_done(st, token, ITEMS, composite.items_ready, items, error, now)

    def on_results_written(
        self, st: ExecState, token: str, output: JSON, error: WorkflowFailure | None, now: float
    ) -> None:
        """Complete a Distributed Map once its ResultWriter wrote the results (or failed)."""
        self._io_done(st, token, WRITING, composite.results_written, output, error, now)

    def _io_done(
        self,
        st: ExecState,
        token: str,
        phase: str,
        then: Any,
        value: JSON,
        error: WorkflowFailure | None,
        now: float,
    ) -> None:
        frame = self._frame_for(st, token)
        if frame is None or frame.phase != phase or frame.token != token:
            return
        del st.pending[token]
        if error is not None:
            frame.token = None
            self.state_failed(st, frame, error.error, error.cause, now)
            return
        self._run_guarded(st, frame, now, then, value)

    def resume_commands(self, st: ExecState) -> list[Command]:
        """Return the commands a recovered execution must (re)issue: its pending tasks (run again:
        at-least-once), timers (at their recorded due times) and child executions."""
        if st.status != "RUNNING":
            return []
        commands: list[Command] = []
        if st.deadline is not None:
            commands.append(StartTimer("execution-timeout", st.deadline))
        for frame in dict.values(st.frames):
            data = frame.data
            if frame.phase == TASK and frame.token:
                commands.append(simple_states.task_command(self, st, frame))
                for key in ("timeout", "heartbeat"):
                    token = data.get(f"{key}_token")
                    if token is not None:
                        commands.append(StartTimer(token, data[f"{key}_due"]))
            elif frame.phase in (TIMER, RETRY) and frame.token:
                commands.append(StartTimer(frame.token, data["due"]))
            elif frame.phase == CHILDREN and data.get("child_index"):
                commands.extend(composite.resume_children(self, st, frame))
            elif frame.phase in (ITEMS, WRITING) and frame.token:
                commands.append(composite.resume_io(self, st, frame))
        return commands

    def redrive(self, st: ExecState, now: float) -> bool:
        """Restart a FAILED, TIMED_OUT or ABORTED execution from the state where it stopped.

        Returns:
            False when the execution cannot be redriven (still running, succeeded, or no record
            of where it stopped).
        """
        failed = st.failed_at
        if st.status not in ("FAILED", "TIMED_OUT", "ABORTED") or not failed:
            return False
        st.status = "RUNNING"
        st.redrive_count += 1
        st.output = st.error = st.cause = None
        st.failed_at = None
        event = self.emit(st, None, "ExecutionRedriven", now, {"redriveCount": st.redrive_count})
        frame = self.new_frame(st, None, failed["scope"], 0, failed["state"], failed["input"])
        frame.variables = dict(failed.get("variables") or {})
        frame.last_event = event.id
        timeout = self.machine.document.get("TimeoutSeconds")
        st.deadline = None
        if isinstance(timeout, int) and timeout > 0:
            st.deadline = now + timeout
            st.commands.append(StartTimer("execution-timeout", st.deadline))
        return True

    def abort(self, st: ExecState, now: float, error: str | None, cause: str | None) -> None:
        """Stop the execution: cancel everything pending and record ExecutionAborted."""
        if st.status == "RUNNING":
            self.finish(st, "ABORTED", now, error=error, cause=cause)

    # ----------------------------------------------------------------- the step loop

    def advance(self, st: ExecState, now: float, budget: int = 1000) -> bool:
        """Advance runnable frames round-robin by up to ``budget`` steps.

        Returns:
            True if frames are still runnable (call again), False if all wait or the run ended.
        """
        runnable = st.runnable
        frames = st.frames
        while runnable and budget > 0 and st.status == "RUNNING":
            fid = runnable.popleft()
            frame = frames.get(fid)
            if frame is None:
                continue
            budget -= 1
            phase = frame.phase
            if phase == ENTER:
                self._enter(st, frame, now)
            elif phase == EXIT:
                self._exit(st, frame, now)
            elif phase == START:
                self._run_guarded(st, frame, now, _start_work)
            elif phase == CHILDREN_DONE:
                self._run_guarded(st, frame, now, composite.children_done)
            elif phase == ITERATION:
                composite.iteration_started(self, st, frame, now)
        return bool(runnable) and st.status == "RUNNING"

    def _enter(self, st: ExecState, frame: Frame, now: float) -> None:
        state = self.machine.state(frame.scope, frame.state)
        event = self.emit(
            st,
            frame,
            f"{state['Type']}StateEntered",
            now,
            {"name": frame.state, "input": frame.input},
        )
        frame.entered_event = event.id
        frame.retries = {}
        frame.data = {"entered_time": now}
        self._run_guarded(st, frame, now, simple_states.enter)

    def _exit(self, st: ExecState, frame: Frame, now: float) -> None:
        state = self.machine.state(frame.scope, frame.state)
        data = frame.data
        output = data.get("out")
        self.emit(
            st, frame, f"{state['Type']}StateExited", now, {"name": frame.state, "output": output}
        )
        assigned = data.get("assign")
        if assigned:
            frame.variables.update(assigned)
        next_state = data.get("next") or state.get("Next")
        if next_state is None or (state.get("End") and "next" not in data):
            self.frame_done(st, frame, output, now)
            return
        frame.state = next_state
        frame.input = output
        frame.phase = ENTER
        self.schedule(st, frame)

    def _run_guarded(self, st: ExecState, frame: Frame, now: float, fn: Any, *args: Any) -> None:
        """Run a state step; a WorkflowFailure it raises fails the state (with AWS's prefix)."""
        try:
            fn(self, st, frame, now, *args)
        except WorkflowFailure as failure:
            cause = failure.cause
            if failure.error in _PREFIXED:
                cause = (
                    f"An error occurred while executing the state '{frame.state}' "
                    f"(entered at the event id #{frame.entered_event}). {cause or ''}"
                ).rstrip()
            if failure.error == STATES_QUERY_EVALUATION_ERROR:
                self.emit(
                    st,
                    frame,
                    "EvaluationFailed",
                    now,
                    {"error": failure.error, "cause": cause, "state": frame.state},
                )
            self.state_failed(st, frame, failure.error, cause, now)

    # ----------------------------------------------------------------- helpers for states

    def emit(
        self, st: ExecState, frame: Frame | None, kind: str, now: float, details: JSONObject
    ) -> Event:
        """Append a history event (following the frame's previous event)."""
        previous = frame.last_event if frame is not None else st.next_event_id - 1
        event = Event(st.next_event_id, kind, now, previous, details)
        st.next_event_id += 1
        st.events.append(event)
        if frame is not None:
            frame.last_event = event.id
        return event

    def new_frame(
        self, st: ExecState, parent: Frame | None, scope: str, index: int, state: str, data: JSON
    ) -> Frame:
        """Create and schedule a frame that starts at ``state`` of ``scope``."""
        frame = Frame(
            id=st.next_frame_id,
            parent=parent.id if parent is not None else None,
            scope=scope,
            index=index,
            state=state,
            input=data,
        )
        if parent is not None:
            frame.last_event = parent.last_event
        st.next_frame_id += 1
        st.frames[frame.id] = frame
        st.runnable.append(frame.id)
        return frame

    def schedule(self, st: ExecState, frame: Frame) -> None:
        """Queue a frame to take its next step."""
        st.runnable.append(frame.id)

    def new_token(self, st: ExecState, frame: Frame, prefix: str) -> str:
        """Return a fresh token registered as pending for ``frame``."""
        st.next_token += 1
        token = f"{prefix}{st.next_token}"
        st.pending[token] = frame.id
        return token

    def variables(self, st: ExecState, frame: Frame) -> Mapping[str, JSON]:
        """Return the variables visible in a frame (its own over its ancestors')."""
        if frame.parent is None:
            return frame.variables
        maps = [frame.variables]
        parent = st.frames.get(frame.parent)
        while parent is not None:
            maps.append(parent.variables)
            parent = st.frames.get(parent.parent) if parent.parent is not None else None
        return ChainMap(*maps)

    def context(self, st: ExecState, frame: Frame, extra: dict[str, Any] | None = None) -> JSON:
        """Return the context object of the frame's current state."""
        return context_object(
            identity=self.identity,
            workflow=st.workflow,
            execution_name=st.name,
            execution_input=st.input,
            start_time=st.start_time,
            redrive_count=st.redrive_count,
            state_name=frame.state,
            entered_time=frame.data.get("entered_time", st.start_time),
            retry_count=sum(frame.retries.values()),
            extra=extra,
        )

    def maybe_context(self, st: ExecState, frame: Frame) -> JSON:
        """Return the context object, or None when the current state never references it."""
        if not self.machine.uses_context(frame.scope, frame.state):
            return None
        return self.context(st, frame)

    def is_jsonata(self, frame: Frame, state: JSONObject) -> bool:
        """Return True when the state uses JSONata."""
        return self.machine.query_language(frame.scope, state) == JSONATA

    # ----------------------------------------------------------------- ends and failures

    def frame_done(self, st: ExecState, frame: Frame, output: JSON, now: float) -> None:
        """A frame reached an End: finish the execution or report to the parent frame."""
        del st.frames[frame.id]
        if frame.parent is None:
            self.finish(st, "SUCCEEDED", now, output=output, last=frame.last_event)
            return
        parent = st.frames.get(frame.parent)
        if parent is not None:
            composite.child_succeeded(self, st, parent, frame, output, now)

    def frame_failed(
        self, st: ExecState, frame: Frame, error: str | None, cause: str | None, now: float
    ) -> None:
        """A frame failed without a catcher: fail the execution or the parent state."""
        st.frames.pop(frame.id, None)
        if frame.parent is None:
            st.failed_at = _position(frame)
            self.finish(st, "FAILED", now, error=error, cause=cause, last=frame.last_event)
            return
        parent = st.frames.get(frame.parent)
        if parent is not None:
            composite.child_failed(self, st, parent, frame, error, cause, now)

    def state_failed(
        self, st: ExecState, frame: Frame, error: str | None, cause: str | None, now: float
    ) -> None:
        """Apply the current state's Retry and Catch to a failure, else fail the frame."""
        state = self.machine.state(frame.scope, frame.state)
        kind = state["Type"]
        err = error or ""
        composite.abort_children(self, st, frame, now)
        if err in UNCATCHABLE_ERRORS:
            self.frame_failed(st, frame, error, cause, now)
            return
        if kind in ("Task", "Parallel", "Map"):
            retriers = state.get("Retry") or []
            index = find_retrier(retriers, err)
            if index is not None:
                attempts = frame.retries.get(str(index), 0)
                delay = retry_delay(
                    retriers[index], attempts, f"{st.execution_id}:{frame.id}:{frame.state}"
                )
                if delay is not None:
                    frame.retries[str(index)] = attempts + 1
                    frame.phase = RETRY
                    frame.token = self.new_token(st, frame, "r")
                    frame.data["due"] = now + delay
                    st.commands.append(StartTimer(frame.token, frame.data["due"]))
                    return
            if kind != "Task":
                self.emit(st, frame, f"{kind}StateFailed", now, {"error": error, "cause": cause})
            catcher = find_catcher(state.get("Catch") or [], err)
            if catcher is not None:
                try:
                    simple_states.caught(self, st, frame, now, catcher, error, cause)
                except WorkflowFailure as failure:  # the catcher's own output failed
                    self.frame_failed(st, frame, failure.error, failure.cause, now)
                return
        self.frame_failed(st, frame, error, cause, now)

    def finish(
        self,
        st: ExecState,
        status: str,
        now: float,
        *,
        output: JSON = None,
        error: str | None = None,
        cause: str | None = None,
        last: int | None = None,
    ) -> None:
        """End the execution with a terminal status, cancelling whatever is still pending."""
        if st.failed_at is None and status != "SUCCEEDED":
            top = next((f for f in dict.values(st.frames) if f.parent is None), None)
            if top is not None:
                st.failed_at = _position(top)
        for token in list(st.pending):
            if token.startswith(("k", "c")):
                st.commands.append(CancelTask(token))
        st.pending.clear()
        st.frames.clear()
        st.runnable.clear()
        st.status = status
        st.output, st.error, st.cause = output, error, cause
        kind = {
            "SUCCEEDED": "ExecutionSucceeded",
            "FAILED": "ExecutionFailed",
            "TIMED_OUT": "ExecutionTimedOut",
            "ABORTED": "ExecutionAborted",
        }[status]
        details: JSONObject = {"output": output} if status == "SUCCEEDED" else {}
        if status != "SUCCEEDED":
            details = {"error": error, "cause": cause}
        event = self.emit(st, None, kind, now, details)
        if last is not None:
            event.previous_event_id = last

    def _frame_for(self, st: ExecState, token: str) -> Frame | None:
        fid = st.pending.get(token)
        return st.frames.get(fid) if fid is not None else None

    def _clear_task(self, st: ExecState, frame: Frame) -> None:
        if frame.token is not None:
            st.pending.pop(frame.token, None)
        for key in ("timeout_token", "heartbeat_token"):
            token = frame.data.pop(key, None)
            if token is not None:
                st.pending.pop(token, None)
        frame.token = None


def _start_work(interp: Interpreter, st: ExecState, frame: Frame, now: float) -> None:
    state = interp.machine.state(frame.scope, frame.state)
    kind = state["Type"]
    if kind == "Task":
        simple_states.schedule_task(interp, st, frame, now)
    else:
        composite.start(interp, st, frame, now)


def _position(frame: Frame) -> JSONObject:
    """Where a top-level frame stopped, for a later redrive."""
    return {
        "scope": frame.scope,
        "state": frame.state,
        "input": frame.input,
        "variables": frame.variables,
    }
