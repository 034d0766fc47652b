"""The status of every state of an ASL execution, derived from its history (for live colours).

Each ``*StateEntered`` event opens an *entry* of a state and the matching ``*StateExited`` closes
it. Events without a state name (``TaskScheduled``, ``TaskFailed``, ``ParallelStateFailed``...)
belong to the entry of the event they follow (``previous_event_id``), which is how the runtime
chains the events of one state even while Parallel branches and Map iterations interleave. An
entry is then:

* ``succeeded`` -- it exited normally;
* ``retried`` -- it exited normally after at least one failed attempt (Retry);
* ``caught`` -- it exited after a failure: a Catch took the error;
* ``running`` -- in flight; ``retrying`` -- in flight after a failed attempt;
* ``failed`` -- the execution ended while it was in flight, after its failure (or it is the
  state the execution failure came from);
* ``aborted`` -- in flight when the execution ended, or when its enclosing Parallel/Map
  finished (a cancelled branch).

A state's status summarizes its entries (a loop, a Map's iterations): the first of ``failed``,
``running``, ``retrying``, ``aborted``, ``caught``, ``retried``, ``succeeded`` that any entry
has. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stackflow.graph.asl_graph import state_scopes

__all__ = ["STATE_STATUSES", "HistoryEventLike", "execution_status", "state_statuses"]

#: Statuses a state can have, most important first (the summary of several entries).
STATE_STATUSES = ("failed", "running", "retrying", "aborted", "caught", "retried", "succeeded")

#: ``_Entry.exited`` of an entry cancelled with its Parallel/Map, or cut short by the end.
_CANCELLED = -1
_CUT = -2

_ENDINGS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}


class HistoryEventLike(Protocol):
    """What is read of a history event (``stackflow.store.base.HistoryEvent`` fits)."""

    @property
    def id(self) -> int:
        """1-based id within the execution."""

    @property
    def type(self) -> str:
        """Event type, e.g. ``TaskStateEntered``."""

    @property
    def previous_event_id(self) -> int:
        """The event this one follows (0 for none)."""

    @property
    def details(self) -> Mapping[str, Any]:
        """Event details."""


@dataclass
class _Entry:
    state: str
    entered: int
    input: Any = None
    output: Any = None
    exited: int | None = None
    attempts: int = 0
    failures: int = 0
    retries: int = 0
    superseded: bool = False
    last: int = 0
    failed_last: bool = False
    error: str | None = None
    cause: str | None = None
    status: str = "running"


@dataclass
class _Summary:
    entries: list[_Entry] = field(default_factory=list)


def _is_failure(kind: str) -> bool:
    if kind.startswith("Execution") or kind == "MapIterationFailed":
        return False
    return kind.endswith(("Failed", "TimedOut"))


def _is_success(kind: str) -> bool:
    if kind.startswith("Execution") or kind.startswith("MapIteration"):
        return False
    return kind.endswith("Succeeded")


def execution_status(events: Iterable[HistoryEventLike]) -> str:
    """Return an execution's status as its history shows it (``RUNNING`` until it ends).

    Args:
        events: The history, in order.
    """
    status = "RUNNING"
    for event in events:
        if event.type in _ENDINGS:
            status = _ENDINGS[event.type]
        elif event.type == "ExecutionRedriven":
            status = "RUNNING"
    return status


def state_statuses(
    events: Iterable[HistoryEventLike], document: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Return the status of every state an execution entered.

    Args:
        events: The execution's history, in order.
        document: The parsed definition (tells which Parallel/Map encloses a state).

    Returns:
        State name to ``{"status", "entries", "counts", "attempts", "retries", "error",
        "cause", "input", "output", "first_event", "last_event"}``: ``status`` as described in
        the module documentation, ``entries`` how often it was entered, ``counts`` the number
        of entries per status, ``attempts`` the task attempts of its latest entry (0 for states
        that run no task), ``retries`` the failed attempts that were retried over all entries,
        ``error``/``cause`` of its latest failure, ``input``/``output`` of its latest entry
        (``output`` None until it exited), and the ids of its first and latest events. States
        never entered are absent.
    """
    scopes = state_scopes(document)
    owner: dict[int, _Entry] = {}
    states: dict[str, _Summary] = {}
    open_entries: dict[str, list[_Entry]] = {}
    for event in events:
        kind = event.type
        if kind in _ENDINGS:
            _settle(states, _ENDINGS[kind], event, owner)
            continue
        if kind == "ExecutionRedriven":
            _supersede(states)
            continue
        name = event.details.get("name")
        entry: _Entry | None = None
        if isinstance(name, str) and kind.endswith("StateEntered"):
            entry = _Entry(name, event.id, input=event.details.get("input"))
            states.setdefault(name, _Summary()).entries.append(entry)
            open_entries.setdefault(name, []).append(entry)
        elif isinstance(name, str) and kind.endswith("StateExited"):
            entry = _closing_entry(owner.get(event.previous_event_id), name, open_entries)
            if entry is not None:
                entry.exited = event.id
                entry.output = event.details.get("output")
                entry.status = (
                    "caught"
                    if entry.failed_last
                    else ("retried" if entry.failures else "succeeded")
                )
                _close(entry, open_entries)
                _abort_members(entry, states, scopes)
        elif isinstance(name, str):  # MapIteration* events name their Map state
            entry = _latest(name, states)
        else:
            entry = owner.get(event.previous_event_id)
            if entry is not None:
                _apply(entry, kind, event.details)
        if entry is not None:
            owner[event.id] = entry
            entry.last = max(entry.last, event.id)
    return {name: _summary_json(summary) for name, summary in states.items()}


def _apply(entry: _Entry, kind: str, details: Mapping[str, Any]) -> None:
    """Update an entry with an event of its own (scheduled, failed, succeeded...)."""
    if kind.endswith("Scheduled"):
        entry.attempts += 1
        if entry.failed_last:
            entry.failed_last = False  # a retry started
            entry.retries += 1
            if entry.exited is None:
                entry.status = "running"
    elif _is_failure(kind):
        entry.failures += 1
        entry.failed_last = True
        error, cause = details.get("error"), details.get("cause")
        entry.error = error if isinstance(error, str) else entry.error
        entry.cause = cause if isinstance(cause, str) else entry.cause
        if entry.exited is None:
            entry.status = "retrying"
    elif _is_success(kind):
        entry.failed_last = False


def _closing_entry(
    previous: _Entry | None, name: str, open_entries: dict[str, list[_Entry]]
) -> _Entry | None:
    if previous is not None and previous.state == name and previous.exited is None:
        return previous
    waiting = open_entries.get(name)
    return waiting[0] if waiting else None


def _close(entry: _Entry, open_entries: dict[str, list[_Entry]]) -> None:
    waiting = open_entries.get(entry.state, [])
    if entry in waiting:
        waiting.remove(entry)


def _latest(name: str, states: dict[str, _Summary]) -> _Entry | None:
    summary = states.get(name)
    return summary.entries[-1] if summary and summary.entries else None


def _abort_members(entry: _Entry, states: dict[str, _Summary], scopes: Mapping[str, Any]) -> None:
    """Mark the still-running entries inside a Parallel/Map that just finished as aborted."""
    inside = {name for name, scope in scopes.items() if scope.parent == entry.state}
    pending = list(inside)
    while pending:  # nested Parallel/Map states inside it too
        name = pending.pop()
        for other, scope in scopes.items():
            if scope.parent == name and other not in inside:
                inside.add(other)
                pending.append(other)
    for name in inside:
        for member in states.get(name, _Summary()).entries:
            if member.exited is None and member.entered > entry.entered:
                member.status = "failed" if member.failed_last else "aborted"
                member.exited = _CANCELLED


def _supersede(states: dict[str, _Summary]) -> None:
    """A redrive enters the states again: the entries the end cut short no longer count."""
    for summary in states.values():
        for entry in summary.entries:
            if entry.exited == _CUT:
                entry.superseded = True


def _settle(
    states: dict[str, _Summary], status: str, ending: HistoryEventLike, owner: dict[int, _Entry]
) -> None:
    """Settle the entries still in flight when the execution ended."""
    culprit = owner.get(ending.previous_event_id) if status == "FAILED" else None
    for summary in states.values():
        for entry in summary.entries:
            if entry.exited is not None:
                continue
            entry.exited = _CUT
            if entry.failed_last or entry is culprit:
                entry.status = "failed"
                if entry.error is None:
                    error, cause = ending.details.get("error"), ending.details.get("cause")
                    entry.error = error if isinstance(error, str) else None
                    entry.cause = cause if isinstance(cause, str) else None
            else:
                entry.status = "aborted"


def _summary_json(summary: _Summary) -> dict[str, Any]:
    entries = summary.entries
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.status] = counts.get(entry.status, 0) + 1
    current = [e for e in entries if not e.superseded] or entries
    statuses = {e.status for e in current}
    overall = next((s for s in STATE_STATUSES if s in statuses), "running")
    latest = entries[-1]
    failed = [e for e in entries if e.error is not None]
    last_failure = failed[-1] if failed else None
    return {
        "status": overall,
        "entries": len(entries),
        "counts": counts,
        "attempts": latest.attempts,
        "retries": sum(e.retries for e in entries),
        "error": last_failure.error if last_failure else None,
        "cause": last_failure.cause if last_failure else None,
        "input": latest.input,
        "output": latest.output,
        "first_event": entries[0].entered,
        "last_event": max(e.last for e in entries),
    }
