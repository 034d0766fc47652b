"""Progress of a running execution, fed by the history events the runtime reports.

:class:`ProgressTracker` folds events into one row per state (status, run counts, Map
iterations). :class:`PlainProgress` prints one line per state event (for logs and pipes) and
:class:`LiveProgress` redraws a rich table on a terminal. Both are listeners for
``Engine.run(listener=...)``, called on the runtime's thread; they never raise, since an
exception there would stop the runtime loop.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from stackflow.store.base import HistoryEvent

PENDING = "pending"
ENTERED = "entered"
RETRYING = "retrying"
SUCCEEDED = "succeeded"
CAUGHT = "caught"
FAILED = "failed"
ABORTED = "aborted"

_FAILURE_EVENTS = ("TaskFailed", "TaskTimedOut", "MapStateFailed", "ParallelStateFailed")
_TERMINAL_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


@dataclass
class StateProgress:
    """What is known about one state of the running execution.

    Attributes:
        name: State name.
        type: State type (``Task``, ``Map``...), empty when unknown.
        depth: Nesting level (0 for the top-level machine).
        entered: How many times the state was entered.
        succeeded: How many times it was left normally.
        failed: How many failures it reported (each failed attempt counts).
        active: How many runs of it are in progress.
        outcome: Status of the last finished run (``pending`` before any).
        retrying: A failed Task attempt is being retried.
        iterations: Map iterations to run (sum of every entry's item count).
        iterations_succeeded: Map iterations that succeeded.
        iterations_failed: Map iterations that failed.
        iterations_aborted: Map iterations that were aborted.
    """

    name: str
    type: str = ""
    depth: int = 0
    entered: int = 0
    succeeded: int = 0
    failed: int = 0
    active: int = 0
    outcome: str = PENDING
    retrying: bool = False
    iterations: int = 0
    iterations_succeeded: int = 0
    iterations_failed: int = 0
    iterations_aborted: int = 0

    @property
    def status(self) -> str:
        """Return ``entered`` / ``retrying`` while a run is in progress, else the last outcome."""
        if self.active > 0:
            return RETRYING if self.retrying else ENTERED
        return self.outcome

    def runs_text(self) -> str:
        """Describe how often the state ran, e.g. ``3`` or ``2 (1 failed)``."""
        if not self.entered:
            return ""
        text = str(self.entered)
        if self.failed:
            text += f" ({self.failed} failed)"
        return text

    def iterations_text(self) -> str:
        """Describe Map iterations, e.g. ``7/10 done, 1 failed`` (empty for other states)."""
        if self.type != "Map" and not self.iterations:
            return ""
        if not self.iterations and not self.entered:
            return ""
        text = f"{self.iterations_succeeded}/{self.iterations} done"
        if self.iterations_failed:
            text += f", {self.iterations_failed} failed"
        if self.iterations_aborted:
            text += f", {self.iterations_aborted} aborted"
        return text


def _walk(machine: Any, depth: int) -> Iterator[tuple[str, str, int]]:
    if not isinstance(machine, Mapping):
        return
    states = machine.get("States")
    if not isinstance(states, Mapping):
        return
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        kind = state.get("Type")
        yield str(name), kind if isinstance(kind, str) else "", depth
        branches = state.get("Branches")
        if isinstance(branches, list):
            for branch in branches:
                yield from _walk(branch, depth + 1)
        for key in ("ItemProcessor", "Iterator"):
            yield from _walk(state.get(key), depth + 1)


def definition_states(definition: Mapping[str, Any] | None) -> list[tuple[str, str, int]]:
    """List the states of a definition depth first, nested machines under their parent.

    Args:
        definition: A parsed ASL definition (or None).

    Returns:
        ``(name, type, depth)`` for every state, in definition order.
    """
    return list(_walk(definition, 0)) if definition is not None else []


class ProgressTracker:
    """Folds an execution's history events into per-state progress (thread-safe).

    Args:
        definition: The parsed definition, used to list every state up front (in order, with
            nesting); states seen only in events are appended.
    """

    def __init__(self, definition: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, StateProgress] = {}
        self._event_state: dict[int, str | None] = {}
        self.status = "RUNNING"
        self.events = 0
        self.execution_id: str | None = None
        self.started = time.monotonic()
        for name, kind, depth in definition_states(definition):
            self._states.setdefault(name, StateProgress(name, kind, depth))

    def state_of(self, event: HistoryEvent) -> str | None:
        """Return the state an event belongs to (its ``name``, else its predecessor's state).

        Args:
            event: A history event already passed to :meth:`on_event` (or about to be).

        Returns:
            The state name, or None for execution-level events.
        """
        name = event.details.get("name") if isinstance(event.details, Mapping) else None
        if isinstance(name, str):
            return name
        return self._event_state.get(event.previous_event_id)

    def on_event(self, event: HistoryEvent) -> None:
        """Update the progress with one history event.

        Args:
            event: The next event of the execution.
        """
        with self._lock:
            self._apply(event)

    def _state(self, name: str, kind: str = "") -> StateProgress:
        state = self._states.get(name)
        if state is None:
            state = self._states[name] = StateProgress(name, kind)
        elif kind and not state.type:
            state.type = kind
        return state

    def _apply(self, event: HistoryEvent) -> None:
        self.events += 1
        kind = event.type
        name = self.state_of(event)
        self._event_state[event.id] = name
        if kind in _TERMINAL_EVENTS:
            self.status = _TERMINAL_EVENTS[kind]
            if self.status != "SUCCEEDED":
                for state in self._states.values():
                    if state.active > 0:
                        state.active = 0
                        state.outcome = ABORTED
            return
        if name is None:
            return
        details = event.details if isinstance(event.details, Mapping) else {}
        if kind.endswith("StateEntered"):
            state = self._state(name, kind[: -len("StateEntered")])
            state.entered += 1
            state.retrying = False
            if state.type == "Fail":
                state.outcome = FAILED
            else:
                state.active += 1
        elif kind.endswith("StateExited"):
            state = self._state(name, kind[: -len("StateExited")])
            state.succeeded += 1
            state.active = max(0, state.active - 1)
            state.outcome = CAUGHT if state.outcome == FAILED and state.active == 0 else SUCCEEDED
            state.retrying = False
        elif kind in _FAILURE_EVENTS:
            state = self._state(name)
            state.failed += 1
            state.active = max(0, state.active - 1)
            state.outcome = FAILED
            state.retrying = False
        elif kind == "TaskScheduled":
            state = self._state(name, "Task")
            if state.outcome == FAILED and state.active == 0 and state.entered:
                state.active += 1
                state.retrying = True
                state.outcome = RETRYING
        elif kind == "MapStateStarted":
            length = details.get("length")
            if isinstance(length, int):
                self._state(name, "Map").iterations += length
        elif kind == "MapIterationSucceeded":
            self._state(name, "Map").iterations_succeeded += 1
        elif kind == "MapIterationFailed":
            self._state(name, "Map").iterations_failed += 1
        elif kind == "MapIterationAborted":
            self._state(name, "Map").iterations_aborted += 1

    def snapshot(self) -> list[StateProgress]:
        """Return a copy of every state's progress, in display order."""
        with self._lock:
            return [StateProgress(**vars(s)) for s in self._states.values()]

    def get(self, name: str) -> StateProgress | None:
        """Return a copy of one state's progress, or None when the state is unknown.

        Args:
            name: State name.
        """
        with self._lock:
            state = self._states.get(name)
            return StateProgress(**vars(state)) if state is not None else None


def plain_line(event: HistoryEvent, state: str | None) -> str | None:
    """Format one state event for plain progress output, e.g. ``PassStateEntered  Start``.

    Execution-level events give None (the command prints the final result itself).

    Args:
        event: The history event.
        state: The state it belongs to (see :meth:`ProgressTracker.state_of`).

    Returns:
        ``TYPE  STATE`` (with ``[index]`` for Map iterations and the error name for
        failures), or None when the event is not printed.
    """
    if event.type.startswith("Execution"):
        return None
    details = event.details if isinstance(event.details, Mapping) else {}
    label = state or "-"
    index = details.get("index")
    if isinstance(index, int) and event.type.startswith("MapIteration"):
        label += f"[{index}]"
    line = f"{event.type}  {label}"
    error = details.get("error")
    if isinstance(error, str) and error:
        line += f"  {error}"
    return line


class PlainProgress:
    """Listener printing one plain line per state event to a stream (stderr by default).

    Args:
        stream: Where to write; None means ``sys.stderr`` at the time of each write.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self.tracker = ProgressTracker()

    def __call__(self, event: HistoryEvent) -> None:
        """Print the line for ``event`` (never raises).

        Args:
            event: The next history event.
        """
        try:
            state = self.tracker.state_of(event)
            self.tracker.on_event(event)
            line = plain_line(event, state)
            if line is not None:
                import sys

                stream = self.stream or sys.stderr
                stream.write(line + "\n")
                stream.flush()
        except Exception:  # a listener must not break the runtime loop
            pass


_STATUS_LOOK = {
    PENDING: ("·", "dim"),
    ENTERED: ("▶ entered", "cyan"),
    RETRYING: ("↻ retrying", "yellow"),
    SUCCEEDED: ("✓ succeeded", "green"),
    CAUGHT: ("✓ caught", "yellow"),
    FAILED: ("✗ failed", "red"),
    ABORTED: ("■ aborted", "yellow"),
}


def render_progress(tracker: ProgressTracker, title: str = "") -> RenderableType:
    """Build the rich table shown while an execution runs.

    Args:
        tracker: The progress to show.
        title: Text above the table (the execution id, for instance).

    Returns:
        A rich renderable.
    """
    from rich.table import Table
    from rich.text import Text

    elapsed = time.monotonic() - tracker.started
    heading = f"{title}  {tracker.status}  {elapsed:.1f}s".strip()
    table = Table(title=Text(heading), title_justify="left", header_style="bold", expand=False)
    table.add_column("State")
    table.add_column("Type", style="dim")
    table.add_column("Status")
    table.add_column("Runs", justify="right")
    table.add_column("Iterations")
    for state in tracker.snapshot():
        text, style = _STATUS_LOOK.get(state.status, (state.status, ""))
        table.add_row(
            Text("  " * state.depth + state.name),
            Text(state.type),
            Text(text, style=style),
            Text(state.runs_text()),
            Text(state.iterations_text()),
        )
    return table


class LiveProgress:
    """Listener redrawing a live table of state statuses on a terminal (a context manager).

    Args:
        definition: The parsed definition (to list every state up front).
        console: The rich console to draw on (default: stderr).
        title: Text above the table.
    """

    def __init__(
        self,
        definition: Mapping[str, Any] | None = None,
        *,
        console: Console | None = None,
        title: str = "",
    ) -> None:
        self.tracker = ProgressTracker(definition)
        self.console = console
        self.title = title
        self._live: Any = None

    def _render(self) -> RenderableType:
        return render_progress(self.tracker, self.title)

    def __enter__(self) -> LiveProgress:
        from rich.console import Console
        from rich.live import Live

        console = self.console or Console(stderr=True)
        self._live = Live(
            get_renderable=self._render,
            console=console,
            refresh_per_second=8,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        return self

    def __call__(self, event: HistoryEvent) -> None:
        """Record ``event``; the table is redrawn by rich's refresh thread (never raises).

        Args:
            event: The next history event.
        """
        with contextlib.suppress(Exception):  # a listener must not break the runtime loop
            self.tracker.on_event(event)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
