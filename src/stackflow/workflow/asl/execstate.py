"""The state of one execution as the interpreter sees it, and the commands it gives the runtime.

An :class:`ExecState` is everything needed to continue an execution: its frames (one per running
state machine scope: the top level, each Parallel branch and each inline Map iteration), the
pending tasks and timers, the counters. It serializes to JSON (the snapshot the store keeps), so
recovery reads one row instead of replaying the history.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from stackflow.types import JSON, JSONObject

# Frame phases.
ENTER = "enter"  # about to enter frame.state
EXIT = "exit"  # the state computed its output (frame.data["out"]) and will exit
START = "start"  # (Task/Map/Parallel) about to (re)start the work of the state
TASK = "task"  # waiting for a task result
TIMER = "timer"  # waiting for a Wait timer
RETRY = "retry"  # waiting for a retry interval
CHILDREN = "children"  # waiting for branches / iterations / child executions
CHILDREN_DONE = "children_done"  # every child finished; the state can complete
ITERATION = "iteration"  # a Map iteration frame that has not emitted MapIterationStarted
ITEMS = "items"  # a Distributed Map waiting for its ItemReader
WRITING = "writing"  # a Distributed Map waiting for its ResultWriter


@dataclass(slots=True)
class Frame:
    """One running scope of an execution.

    Attributes:
        id: Frame id, unique within the execution.
        parent: Id of the Map/Parallel frame that spawned this one, or None for the top level.
        scope: Scope key in the machine.
        index: Branch or iteration index within the parent.
        state: Name of the current state.
        input: Raw input of the current state.
        phase: One of the phase constants of this module.
        entered_event: Id of the current state's Entered event.
        last_event: Id of the last event this frame emitted.
        retries: Retrier index (as text) to the number of retries made in the current state.
        variables: Variables assigned in this frame's scope.
        token: The pending task, timer or child token, if any.
        data: Per-state working data (effective input, Map items and results, ...).
    """

    id: int
    parent: int | None
    scope: str
    index: int
    state: str
    input: JSON
    phase: str = ENTER
    entered_event: int = 0
    last_event: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    variables: dict[str, JSON] = field(default_factory=dict)
    token: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> JSONObject:
        """Return the frame as a JSON object."""
        return {
            "id": self.id,
            "parent": self.parent,
            "scope": self.scope,
            "index": self.index,
            "state": self.state,
            "input": self.input,
            "phase": self.phase,
            "entered_event": self.entered_event,
            "last_event": self.last_event,
            "retries": self.retries,
            "variables": self.variables,
            "token": self.token,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, obj: JSONObject) -> Frame:
        """Rebuild a frame from :meth:`to_json` output."""
        return cls(**obj)


class FrameTable(dict[int, Frame]):
    """The live frames of an execution, remembering which changed since the last snapshot.

    Reading a frame through ``[]`` or ``get`` marks it changed (the interpreter reads a frame to
    change it); the runtime then writes only the changed frames and deletes the removed ones, so
    a snapshot costs time in proportion to what a step touched, not to the size of the execution.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.changed: set[int] = set(self)
        self.removed: set[int] = set()

    def __getitem__(self, key: int) -> Frame:
        frame = dict.__getitem__(self, key)
        self.changed.add(key)
        return frame

    def get(self, key: int, default: Any = None) -> Any:  # type: ignore[override]
        """Return a frame (marking it changed) or ``default``."""
        if key in self:
            self.changed.add(key)
            return dict.__getitem__(self, key)
        return default

    def __setitem__(self, key: int, frame: Frame) -> None:
        dict.__setitem__(self, key, frame)
        self.changed.add(key)
        self.removed.discard(key)

    def __delitem__(self, key: int) -> None:
        dict.__delitem__(self, key)
        self.changed.discard(key)
        self.removed.add(key)

    def pop(self, key: int, default: Any = None) -> Any:  # type: ignore[override]
        """Remove a frame (recorded as removed) and return it, or ``default``."""
        if key in self:
            frame = dict.__getitem__(self, key)
            del self[key]
            return frame
        return default

    def clear(self) -> None:
        """Remove every frame (each recorded as removed)."""
        self.removed.update(self.keys())
        self.changed.clear()
        dict.clear(self)

    def take_changes(self) -> tuple[dict[int, Frame], tuple[int, ...]]:
        """Return the changed frames and the removed ids since the last call, and reset both."""
        changed = {fid: dict.__getitem__(self, fid) for fid in self.changed if fid in self}
        removed = tuple(self.removed)
        self.changed = set()
        self.removed = set()
        return changed, removed


@dataclass(frozen=True, slots=True)
class RunTask:
    """Command: run a task resource and report its result with the token.

    ``context`` is the state's context object when its definition refers to it (``$$`` or
    ``$states``), else None: building it for every task would cost more than the task.
    """

    token: str
    resource: str
    input: JSON
    context: JSON
    timeout: float | None
    heartbeat: float | None


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Command: report ``token`` when the clock reaches ``due``."""

    token: str
    due: float


@dataclass(frozen=True, slots=True)
class CancelTask:
    """Command: stop waiting for a task (timeout, abort); its late result is ignored."""

    token: str


@dataclass(frozen=True, slots=True)
class StartChild:
    """Command: start a child execution (a Distributed Map item) and report its end."""

    token: str
    definition: JSONObject
    input: JSON
    name: str


@dataclass(frozen=True, slots=True)
class ReadItems:
    """Command: read a Distributed Map's items with its (evaluated) ItemReader."""

    token: str
    reader: JSONObject


@dataclass(frozen=True, slots=True)
class WriteResults:
    """Command: write a Distributed Map's results with its (evaluated) ResultWriter.

    Attributes:
        token: Reported back with the writer's output.
        writer: The evaluated ResultWriter block.
        children_prefix: Name prefix of this Map run's child executions.
        label: The Map's Label (or state name) for the Map Run ARN.
        map_run_id: Id of the Map run (the folder the results go to).
    """

    token: str
    writer: JSONObject
    children_prefix: str
    label: str
    map_run_id: str


Command = RunTask | StartTimer | CancelTask | StartChild | ReadItems | WriteResults


@dataclass(slots=True)
class Event:
    """A history event produced by the interpreter (the runtime stores it)."""

    id: int
    type: str
    timestamp: float
    previous_event_id: int
    details: JSONObject


@dataclass(slots=True)
class ExecState:
    """Everything needed to continue an execution.

    Attributes:
        execution_id: The execution's id.
        name: The execution's name.
        workflow: The workflow (state machine) name.
        input: The execution input.
        start_time: When the execution started (epoch seconds).
        status: RUNNING until the execution ends.
        frames: Live frames by id.
        runnable: Ids of frames that can advance without outside input, in round-robin order.
        pending: Token to frame id for outstanding tasks, timers and children.
        next_event_id: Id of the next history event.
        next_frame_id: Id of the next frame.
        next_token: Counter for tokens.
        output, error, cause: The result once terminal.
        events: Events produced since the runtime last drained them (not part of the snapshot).
        commands: Commands produced since the runtime last drained them (not part of the snapshot).
    """

    execution_id: str
    name: str
    workflow: str
    input: JSON
    start_time: float
    status: str = "RUNNING"
    frames: FrameTable = field(default_factory=FrameTable)
    runnable: deque[int] = field(default_factory=deque)
    pending: dict[str, int] = field(default_factory=dict)
    next_event_id: int = 1
    next_frame_id: int = 0
    next_token: int = 0
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0
    deadline: float | None = None
    failed_at: JSONObject | None = None
    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def to_json(self) -> JSONObject:
        """Return the whole state (header and frames) as one JSON object."""
        header = self.header_json()
        header["frames"] = [f.to_json() for f in self.frames.values()]
        return header

    def header_json(self) -> JSONObject:
        """Return everything but the frames (the snapshot header) as a JSON object."""
        return {
            "execution_id": self.execution_id,
            "name": self.name,
            "workflow": self.workflow,
            "input": self.input,
            "start_time": self.start_time,
            "status": self.status,
            "runnable": list(self.runnable),
            "pending": self.pending,
            "next_event_id": self.next_event_id,
            "next_frame_id": self.next_frame_id,
            "next_token": self.next_token,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "redrive_count": self.redrive_count,
            "deadline": self.deadline,
            "failed_at": self.failed_at,
        }

    @classmethod
    def from_json(cls, obj: JSONObject, frames: list[JSONObject] | None = None) -> ExecState:
        """Rebuild a state from :meth:`to_json` output, or from a header and its frames."""
        frame_list = obj["frames"] if frames is None else frames
        table = FrameTable({f["id"]: Frame.from_json(f) for f in frame_list})
        table.changed = set()
        known = _HEADER_FIELDS - {"frames", "runnable"}
        values = {k: v for k, v in obj.items() if k in known}  # older/newer keys are skipped
        return cls(frames=table, runnable=deque(obj["runnable"]), **values)


_HEADER_FIELDS = frozenset(ExecState.__dataclass_fields__)
