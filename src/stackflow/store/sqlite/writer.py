"""The single writer of the SQLite store: one connection, one thread, group commit.

Callers put requests on a queue and get a :class:`CommitTicket`. The writer thread takes everything
queued, writes it in one ``BEGIN IMMEDIATE ... COMMIT`` transaction (one fsync), then sets every
ticket. When several transitions of one execution are in a batch, only the last snapshot is
serialized (a callable snapshot is called here, in the writer) and only the last status update is
written; events go in with ``executemany``.

A transition naming an unknown execution fails alone (:class:`NotFoundError`); a transition whose
event ids already exist makes the writer redo the batch with one savepoint per transition, so only
that transition fails (:class:`ConflictError`). Any other database error fails every ticket of the
batch.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stackflow.errors import ConflictError, NotFoundError, StoreError
from stackflow.store.base import CommitTicket, ExecutionRecord, Transition

#: Compact JSON, as stored in every JSON column.
encode_json: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":")).encode

_CREATE = 0
_APPEND = 1
_FLUSH = 2
_STOP = 3

_INSERT_EXECUTION = (
    "INSERT INTO executions (execution_id, name, workflow, definition, status, input, output,"
    " error, cause, start_time, stop_time, parent_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_EVENT = (
    "INSERT INTO events (execution_id, id, type, timestamp, previous_event_id, details)"
    " VALUES (?,?,?,?,?,?)"
)
_UPDATE_EXECUTION = (
    "UPDATE executions SET status=?, output=?, error=?, cause=?, stop_time=? WHERE execution_id=?"
)
_UPSERT_SNAPSHOT = (
    "INSERT INTO snapshots (execution_id, data, updated_at) VALUES (?,?,?)"
    " ON CONFLICT (execution_id) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at"
)

_Item = tuple[int, Any, CommitTicket]
_EventRow = tuple[str, int, str, float, int, str]
_UpdateRow = tuple[str, str | None, str | None, str | None, float | None, str]


@dataclass
class _Prepared:
    """A transition turned into rows, ready to write."""

    ticket: CommitTicket
    execution_id: str
    events: list[_EventRow]
    update: _UpdateRow | None
    snapshot: bytes | None = None
    error: StoreError | None = None


@dataclass
class _Batch:
    """Everything one group commit writes."""

    creates: list[tuple[ExecutionRecord, CommitTicket]] = field(default_factory=list)
    transitions: list[_Prepared] = field(default_factory=list)
    others: list[CommitTicket] = field(default_factory=list)
    created: set[str] = field(default_factory=set)


def _record_row(record: ExecutionRecord) -> tuple[Any, ...]:
    return (
        record.execution_id,
        record.name,
        record.workflow,
        record.definition,
        record.status,
        encode_json(record.input),
        None if record.output is None else encode_json(record.output),
        record.error,
        record.cause,
        record.start_time,
        record.stop_time,
        record.parent_id,
    )


class Writer:
    """Owns the write connection and the thread that group-commits queued requests.

    Args:
        connect: Opens the write connection (called in the writer thread).
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stopped = False
        self._known: set[str] = set()
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="stackflow-sqlite-writer", daemon=True
        )
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error

    # -- producer side -------------------------------------------------------------------------

    def _put(self, kind: int, payload: Any) -> CommitTicket:
        ticket = CommitTicket()
        with self._lock:
            if self._stopped:
                raise StoreError("the store is closed")
            self._queue.put((kind, payload, ticket))
        return ticket

    def append(self, transition: Transition) -> CommitTicket:
        """Queue a transition for the next group commit.

        Raises:
            StoreError: The writer is stopped.
        """
        return self._put(_APPEND, transition)

    def create(self, record: ExecutionRecord) -> CommitTicket:
        """Queue the creation of an execution.

        Raises:
            StoreError: The writer is stopped.
        """
        return self._put(_CREATE, record)

    def flush(self) -> None:
        """Block until everything queued before this call is committed.

        Raises:
            StoreError: The writer is stopped, or the commit failed.
        """
        self._put(_FLUSH, None).wait()

    def stop(self) -> None:
        """Commit what is queued, stop the thread and close the connection (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._queue.put((_STOP, None, CommitTicket()))
        self._thread.join()

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._conn = self._connect()
        except BaseException as exc:
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        get, get_nowait = self._queue.get, self._queue.get_nowait
        try:
            while True:
                items = [get()]
                while True:
                    try:
                        items.append(get_nowait())
                    except queue.Empty:
                        break
                self._commit_items(items)
                if any(item[0] == _STOP for item in items):
                    return
        finally:
            self._conn.close()

    def _commit_items(self, items: list[_Item]) -> None:
        try:
            batch = self._prepare(items)
        except BaseException as exc:  # a bug: never leave a caller waiting
            _fail(items, StoreError(f"could not prepare the commit: {exc}"))
            return
        try:
            self._write(batch, per_transition=False)
        except sqlite3.IntegrityError:
            self._rollback()
            try:
                self._write(batch, per_transition=True)
            except sqlite3.Error as exc:
                self._rollback()
                _fail(items, StoreError(f"commit failed: {exc}"))
                return
        except sqlite3.Error as exc:
            self._rollback()
            _fail(items, StoreError(f"commit failed: {exc}"))
            return
        except BaseException as exc:
            self._rollback()
            _fail(items, StoreError(f"commit failed: {exc}"))
            return
        self._known.update(batch.created)
        for _, ticket in batch.creates:
            if not ticket.done():
                ticket.set_done()
        for prepared in batch.transitions:
            prepared.ticket.set_done(prepared.error)
        for ticket in batch.others:
            ticket.set_done()

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _prepare(self, items: list[_Item]) -> _Batch:
        """Sort requests, check execution ids and serialize rows (outside the transaction)."""
        batch = _Batch()
        transitions: list[tuple[Transition, CommitTicket]] = []
        for kind, payload, ticket in items:
            if kind == _APPEND:
                transitions.append((payload, ticket))
            elif kind == _CREATE:
                batch.creates.append((payload, ticket))
            else:
                batch.others.append(ticket)
        if not transitions:
            return batch
        creating = {record.execution_id for record, _ in batch.creates}
        self._load_known(t.execution_id for t, _ in transitions if t.execution_id not in creating)
        snapshots, failed = self._call_snapshots(transitions)
        for index, (transition, ticket) in enumerate(transitions):
            execution_id = transition.execution_id
            error: StoreError | None = None
            if execution_id not in self._known and execution_id not in creating:
                error = NotFoundError(f"no execution {execution_id!r}")
            elif execution_id in failed and index >= failed[execution_id][0]:
                first, cause = failed[execution_id]
                error = cause if index == first else StoreError("an earlier transition failed")
            if error is not None:
                ticket.set_done(error)
                continue
            update = transition.update
            batch.transitions.append(
                _Prepared(
                    ticket,
                    execution_id,
                    [
                        (
                            execution_id,
                            event.id,
                            event.type,
                            event.timestamp,
                            event.previous_event_id,
                            encode_json(event.details),
                        )
                        for event in transition.events
                    ],
                    None
                    if update is None
                    else (
                        update.status,
                        None if update.output is None else encode_json(update.output),
                        update.error,
                        update.cause,
                        update.stop_time,
                        execution_id,
                    ),
                    snapshots.get(index),
                )
            )
        return batch

    def _load_known(self, execution_ids: Iterable[str]) -> None:
        unknown = list({eid for eid in execution_ids if eid not in self._known})
        assert self._conn is not None
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT execution_id FROM executions WHERE execution_id IN ({marks})", chunk
            )
            self._known.update(row[0] for row in rows)

    @staticmethod
    def _call_snapshots(
        transitions: list[tuple[Transition, CommitTicket]],
    ) -> tuple[dict[int, bytes], dict[str, tuple[int, StoreError]]]:
        """Produce the last snapshot of each execution (index -> bytes).

        A callable that raises fails its transition and every later one of the same execution in
        the batch (``failed``: execution id -> (first failed index, error)); the snapshot then
        comes from the latest earlier transition that has one.
        """
        snapshots: dict[int, bytes] = {}
        done: set[str] = set()
        failed: dict[str, tuple[int, StoreError]] = {}
        for index in range(len(transitions) - 1, -1, -1):
            transition = transitions[index][0]
            snapshot = transition.snapshot
            execution_id = transition.execution_id
            if snapshot is None or execution_id in done:
                continue
            try:
                data = snapshot() if callable(snapshot) else snapshot
            except Exception as exc:
                failed[execution_id] = (
                    index,
                    StoreError(f"snapshot of {execution_id!r} failed: {exc}"),
                )
                continue
            snapshots[index] = bytes(data)
            done.add(execution_id)
        return snapshots, failed

    def _write(self, batch: _Batch, *, per_transition: bool) -> None:
        conn = self._conn
        assert conn is not None
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        batch.created.clear()
        for record, ticket in batch.creates:
            if record.execution_id in self._known:
                ticket.set_done(ConflictError(f"execution {record.execution_id!r} already exists"))
                continue
            try:
                conn.execute(_INSERT_EXECUTION, _record_row(record))
            except sqlite3.IntegrityError as exc:
                ticket.set_done(_conflict(record, exc))
                continue
            batch.created.add(record.execution_id)
        transitions = batch.transitions
        for prepared in transitions:
            eid = prepared.execution_id
            if eid not in self._known and eid not in batch.created and prepared.error is None:
                prepared.error = NotFoundError(f"no execution {eid!r}")
        live = [p for p in transitions if p.error is None]
        if per_transition:
            for prepared in live:
                self._write_one(conn, prepared, now)
        else:
            conn.executemany(_INSERT_EVENT, [row for p in live for row in p.events])
            updates: dict[str, _UpdateRow] = {}
            for prepared in live:
                if prepared.update is not None:
                    updates[prepared.execution_id] = prepared.update
            if updates:
                conn.executemany(_UPDATE_EXECUTION, updates.values())
            snapshot_rows = [
                (p.execution_id, p.snapshot, now) for p in live if p.snapshot is not None
            ]
            if snapshot_rows:
                conn.executemany(_UPSERT_SNAPSHOT, snapshot_rows)
        conn.execute("COMMIT")

    @staticmethod
    def _write_one(conn: sqlite3.Connection, prepared: _Prepared, now: float) -> None:
        conn.execute("SAVEPOINT one")
        try:
            conn.executemany(_INSERT_EVENT, prepared.events)
            if prepared.update is not None:
                conn.execute(_UPDATE_EXECUTION, prepared.update)
            if prepared.snapshot is not None:
                conn.execute(_UPSERT_SNAPSHOT, (prepared.execution_id, prepared.snapshot, now))
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK TO one")
            prepared.error = ConflictError(
                f"execution {prepared.execution_id!r} already has one of these events: {exc}"
            )
        conn.execute("RELEASE one")


def _conflict(record: ExecutionRecord, exc: sqlite3.IntegrityError) -> ConflictError:
    if "execution_id" in str(exc):
        return ConflictError(f"execution {record.execution_id!r} already exists")
    return ConflictError(
        f"workflow {record.workflow!r} already has an execution named {record.name!r}"
    )


def _fail(items: list[_Item], error: StoreError) -> None:
    for _, _, ticket in items:
        if not ticket.done():
            ticket.set_done(error)
