"""What a runtime keeps in memory about an execution it drives (everything else is in the store)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stackflow.store.base import ExecutionRecord, HistoryEvent
from stackflow.workflow.asl.execstate import ExecState

if TYPE_CHECKING:
    from stackflow.workflow.asl.interpreter import Interpreter


@dataclass
class Live:
    """An execution a runtime holds the lease on.

    Attributes:
        record: The stored record as of when it was taken.
        state: The interpreter's state (the source of each snapshot).
        interpreter: The interpreter of its definition.
        cancels: Task token to the cancel signal of a running task.
        listeners: Called with each committed history event.
        child_tokens: Child execution id to the token that waits for it.
        sync_children: Token of a ``startExecution.sync`` task to its mode (``sync``, ``sync:2``).
        callback_tokens: Tokens of ``.waitForTaskToken`` tasks (their own result is not theirs).
        activity_tokens: Token to the external task token of an activity task waiting in the store.
        activity_done: External tokens of activity tasks answered since the last commit.
        consumed: Ids of requests applied since the last commit (deleted with it).
        seen_requests: Ids of requests already applied (never applied twice).
        redriven: The next commit sets the execution RUNNING again.
        new_children: Token to the record of a child created with the step being committed.
        items_written: Frame id to the ``id()`` of its item list already in the snapshot.
    """

    record: ExecutionRecord
    state: ExecState
    interpreter: Interpreter
    cancels: dict[str, threading.Event] = field(default_factory=dict)
    listeners: list[Callable[[HistoryEvent], None]] = field(default_factory=list)
    child_tokens: dict[str, str] = field(default_factory=dict)
    sync_children: dict[str, str] = field(default_factory=dict)
    callback_tokens: set[str] = field(default_factory=set)
    activity_tokens: dict[str, str] = field(default_factory=dict)
    activity_done: list[str] = field(default_factory=list)
    consumed: list[int] = field(default_factory=list)
    seen_requests: set[int] = field(default_factory=set)
    redriven: bool = False
    new_children: dict[str, ExecutionRecord] = field(default_factory=dict)
    items_written: dict[int, int] = field(default_factory=dict)
