"""Persistence of executions: the Store protocol, its records and its backends.

Use :func:`open_store` to get a store from a URL or path; ``MemoryStore`` and ``SQLiteStore`` are
the backends shipped today.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from stackflow.errors import StoreError
from stackflow.store.base import (
    ActivityTask,
    CommitTicket,
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    Request,
    Snapshot,
    Store,
    Transition,
    WorkflowVersion,
    completed_ticket,
)
from stackflow.store.memory import MemoryStore
from stackflow.store.sqlite import SQLiteStore

__all__ = [
    "ActivityTask",
    "CommitTicket",
    "ExecutionRecord",
    "ExecutionUpdate",
    "HistoryEvent",
    "MemoryStore",
    "Request",
    "Snapshot",
    "WorkflowVersion",
    "SQLiteStore",
    "Store",
    "Transition",
    "completed_ticket",
    "open_store",
]

_MEMORY = frozenset({":memory:", "memory:", "memory://"})


def open_store(
    url_or_path: str | Path | None, *, durability: Literal["full", "normal"] = "full"
) -> Store:
    """Open the store named by a URL or a path.

    Args:
        url_or_path: ``":memory:"``, ``"memory:"`` or None for a :class:`MemoryStore`; a
            ``sqlite:///path`` URL or a plain file path for a :class:`SQLiteStore` (missing parent
            folders are created).
        durability: SQLite durability, ``"full"`` or ``"normal"`` (see :class:`SQLiteStore`).

    Returns:
        The open store; close it when done (it is a context manager).

    Raises:
        StoreError: The URL names a backend that is not available, or the file cannot be opened.
    """
    if url_or_path is None or str(url_or_path) in _MEMORY:
        return MemoryStore()
    text = str(url_or_path)
    if text.startswith("sqlite://"):
        text = text[len("sqlite://") :]
    elif "://" in text:
        raise StoreError(f"unsupported store URL {text!r} (use a path, sqlite:///path or :memory:)")
    if not text:
        raise StoreError("empty store path")
    path = Path(text).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of {path}: {exc}") from exc
    return SQLiteStore(path, durability=durability)
