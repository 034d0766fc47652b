"""The single writer of the SQLite store: one connection, one thread, group commit.

Callers put requests on a queue and get a :class:`CommitTicket`. The writer thread takes everything
queued, writes it in one ``BEGIN IMMEDIATE ... COMMIT`` transaction (one fsync), then sets every
ticket. Queued work is applied in queue order: creations, transitions and calls (claims, requests,
deployments...) interleave as they were queued.

Consecutive *simple* transitions (events, snapshot header and frames, a non-terminal update) are
written together with ``executemany``: when several of one execution are in a batch, only the last
header is serialized (a callable header is called here, in the writer) and only the last update is
written; frame upserts and deletes are folded in order. A transition that consumes or adds requests
or activity tasks, or ends its execution, is written alone under a savepoint.

Fencing: a transition with an owner commits only if that owner holds the execution's lease;
otherwise its ticket fails with :class:`LeaseLostError` and nothing of it is written.

A transition naming an unknown execution fails alone (:class:`NotFoundError`); a transition that
breaks a uniqueness constraint (an event id or an activity token already recorded) makes the
writer redo the batch with one savepoint per transition, so only that transition fails
(:class:`ConflictError`). A busy database (another process writing) is retried; any other database
error fails every ticket of the batch.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stackflow.errors import ConflictError, LeaseLostError, NotFoundError, StoreError
from stackflow.store.base import CommitTicket, ExecutionRecord, Transition
from stackflow.store.sqlite import rows as R

_CREATE = 0
_APPEND = 1
_FLUSH = 2
_STOP = 3
_CALL = 4

#: Attempts of a whole batch when the database stays busy (each waits up to the busy timeout).
BUSY_ATTEMPTS = 3

_Item = tuple[int, Any, CommitTicket]


@dataclass
class _Prepared:
    """A transition turned into rows, ready to write."""

    ticket: CommitTicket
    execution_id: str
    owner: str | None
    events: list[tuple[Any, ...]]
    update: tuple[Any, ...] | None
    terminal: bool
    header: bytes | None
    frames: list[tuple[int, bytes | None]]
    consumed: list[int]
    requests: list[tuple[Any, ...]]
    tasks: list[tuple[Any, ...]]
    removed_tasks: list[str]
    created: list[tuple[Any, ...]] = field(default_factory=list)
    created_ids: list[str] = field(default_factory=list)
    durable: bool = True
    error: StoreError | None = None

    @property
    def simple(self) -> bool:
        """True when the transition can be written in bulk with its neighbours."""
        return not (
            self.terminal
            or self.consumed
            or self.requests
            or self.tasks
            or self.removed_tasks
            or self.created
        )


@dataclass
class _Call:
    """A function run inside the writer's transaction; its result is read after the commit."""

    fn: Callable[[sqlite3.Connection], Any]
    ticket: CommitTicket
    result: Any = None
    error: StoreError | None = None


@dataclass
class _Batch:
    """Everything one group commit writes, in queue order."""

    entries: list[tuple[int, Any]] = field(default_factory=list)
    others: list[CommitTicket] = field(default_factory=list)
    created: set[str] = field(default_factory=set)


def _prepare_transition(
    transition: Transition, ticket: CommitTicket, header: bytes | None
) -> _Prepared:
    eid = transition.execution_id
    update = transition.update
    frames: list[tuple[int, bytes | None]] = [
        (frame_id, bytes(data)) for frame_id, data in transition.frames.items()
    ]
    frames.extend((frame_id, None) for frame_id in transition.removed_frames)
    return _Prepared(
        ticket=ticket,
        execution_id=eid,
        owner=transition.owner,
        events=[
            (eid, e.id, e.type, e.timestamp, e.previous_event_id, R.encode_json(e.details))
            for e in transition.events
        ],
        update=None
        if update is None
        else (
            update.status,
            None if update.output is None else R.encode_json(update.output),
            update.error,
            update.cause,
            update.stop_time,
            eid,
        ),
        terminal=update is not None and update.status in R.TERMINAL_STATUSES,
        header=header,
        frames=frames,
        consumed=list(transition.consumed_requests),
        requests=[R.request_row(request) for request in transition.requests],
        tasks=[R.task_row(task) for task in transition.activity_tasks],
        removed_tasks=list(transition.removed_activity_tasks),
        created=[R.record_row(record) for record in transition.new_executions],
        created_ids=[record.execution_id for record in transition.new_executions],
        durable=transition.durable,
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
        self._full = False  # synchronous=FULL (read from the connection when it opens)
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

    def _put(self, kind: int, payload: Any, ticket: CommitTicket | None = None) -> CommitTicket:
        ticket = ticket or CommitTicket()
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

    def call(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` inside the next group commit (under a savepoint) and return its result.

        Blocks until the transaction committed. A :class:`StoreError` raised by ``fn`` undoes
        what ``fn`` wrote and is raised here; the rest of the batch commits.

        Raises:
            StoreError: The writer is stopped, ``fn`` failed, or the commit failed.
        """
        ticket = CommitTicket()
        call = _Call(fn, ticket)
        self._put(_CALL, call, ticket).wait()
        if call.error is not None:
            raise call.error
        return call.result

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
        self._full = self._conn.execute("PRAGMA synchronous").fetchone()[0] >= 2
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
            self._write_retrying(batch)
        except BaseException as exc:
            self._rollback()
            _fail(items, StoreError(f"commit failed: {exc}"))
            return
        self._known.update(batch.created)
        for kind, entry in batch.entries:
            if kind == _CREATE:
                if not entry[1].done():
                    entry[1].set_done()
            else:
                entry.ticket.set_done(entry.error)
        for ticket in batch.others:
            ticket.set_done()

    def _write_retrying(self, batch: _Batch) -> None:
        per_transition = False
        attempt = 0
        while True:
            try:
                self._write(batch, per_transition=per_transition)
                return
            except sqlite3.IntegrityError:
                self._rollback()
                if per_transition:
                    raise
                per_transition = True
            except sqlite3.OperationalError as exc:
                self._rollback()
                attempt += 1
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or attempt >= BUSY_ATTEMPTS:
                    raise

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _prepare(self, items: list[_Item]) -> _Batch:
        """Order the work, check execution ids and serialize rows (outside the transaction)."""
        batch = _Batch()
        transitions: list[tuple[Transition, CommitTicket]] = []
        creating: set[str] = set()
        for kind, payload, ticket in items:
            if kind == _APPEND:
                transitions.append((payload, ticket))
            elif kind == _CREATE:
                creating.add(payload.execution_id)
            elif kind != _CALL:
                batch.others.append(ticket)
        self._load_known(t.execution_id for t, _ in transitions if t.execution_id not in creating)
        headers, failed = self._call_headers(transitions)
        index = 0
        for kind, payload, ticket in items:
            if kind == _CREATE:
                batch.entries.append((_CREATE, (payload, ticket)))
            elif kind == _CALL:
                batch.entries.append((_CALL, payload))
            elif kind == _APPEND:
                error: StoreError | None = None
                eid = payload.execution_id
                if eid not in self._known and eid not in creating:
                    error = NotFoundError(f"no execution {eid!r}")
                elif eid in failed and index >= failed[eid][0]:
                    first, cause = failed[eid]
                    error = cause if index == first else StoreError("an earlier transition failed")
                if error is not None:
                    ticket.set_done(error)
                else:
                    batch.entries.append(
                        (_APPEND, _prepare_transition(payload, ticket, headers.get(index)))
                    )
                index += 1
        return batch

    def _load_known(self, execution_ids: Iterable[str]) -> None:
        unknown = list({eid for eid in execution_ids if eid not in self._known})
        assert self._conn is not None
        for chunk in R.chunks(unknown):
            rows = self._conn.execute(
                "SELECT execution_id FROM executions"
                f" WHERE execution_id IN ({R.marks(len(chunk))})",
                chunk,
            )
            self._known.update(row[0] for row in rows)

    @staticmethod
    def _call_headers(
        transitions: list[tuple[Transition, CommitTicket]],
    ) -> tuple[dict[int, bytes], dict[str, tuple[int, StoreError]]]:
        """Produce the last snapshot header of each execution (index -> bytes).

        A callable that raises fails its transition and every later one of the same execution in
        the batch (``failed``: execution id -> (first failed index, error)); the header then
        comes from the latest earlier transition that has one.
        """
        headers: dict[int, bytes] = {}
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
            headers[index] = bytes(data)
            done.add(execution_id)
        return headers, failed

    # -- writing -------------------------------------------------------------------------------

    def _write(self, batch: _Batch, *, per_transition: bool) -> None:
        conn = self._conn
        assert conn is not None
        now = time.time()
        relaxed = self._full and all(
            kind == _APPEND and not entry.durable for kind, entry in batch.entries
        )
        if relaxed:  # no transition of this commit asked for a flush: write, don't fsync
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            self._write_transaction(conn, batch, now, per_transition)
        finally:
            if relaxed:
                conn.execute("PRAGMA synchronous=FULL")

    def _write_transaction(
        self, conn: sqlite3.Connection, batch: _Batch, now: float, per_transition: bool
    ) -> None:
        conn.execute("BEGIN IMMEDIATE")
        batch.created.clear()
        segment: list[_Prepared] = []
        for kind, entry in batch.entries:
            if kind == _APPEND:
                entry.error = None
                if not self._exists(entry.execution_id, batch):
                    entry.error = NotFoundError(f"no execution {entry.execution_id!r}")
                elif entry.simple and not per_transition:
                    segment.append(entry)
                else:
                    self._write_segment(conn, segment, now)
                    segment = []
                    _write_one(conn, entry, now)
                continue
            self._write_segment(conn, segment, now)
            segment = []
            if kind == _CREATE:
                self._create(conn, entry[0], entry[1], batch)
            else:
                _run_call(conn, entry)
        self._write_segment(conn, segment, now)
        conn.execute("COMMIT")

    def _exists(self, execution_id: str, batch: _Batch) -> bool:
        return execution_id in self._known or execution_id in batch.created

    def _create(
        self, conn: sqlite3.Connection, record: ExecutionRecord, ticket: CommitTicket, batch: _Batch
    ) -> None:
        if self._exists(record.execution_id, batch):
            ticket.set_done(ConflictError(f"execution {record.execution_id!r} already exists"))
            return
        try:
            conn.execute(R.INSERT_EXECUTION, R.record_row(record))
        except sqlite3.IntegrityError as exc:
            ticket.set_done(_conflict(record, exc))
            return
        batch.created.add(record.execution_id)

    @staticmethod
    def _write_segment(conn: sqlite3.Connection, segment: list[_Prepared], now: float) -> None:
        """Write consecutive simple transitions with one statement per table."""
        if not segment:
            return
        fenced = list({p.execution_id for p in segment if p.owner is not None})
        owners: dict[str, str | None] = {}
        for chunk in R.chunks(fenced):
            owners.update(
                conn.execute(
                    f"SELECT execution_id, owner FROM executions"
                    f" WHERE execution_id IN ({R.marks(len(chunk))})",
                    chunk,
                ).fetchall()
            )
        live: list[_Prepared] = []
        for prepared in segment:
            if prepared.owner is not None and owners.get(prepared.execution_id) != prepared.owner:
                prepared.error = _lease_lost(prepared)
            else:
                live.append(prepared)
        conn.executemany(R.INSERT_EVENT, [row for p in live for row in p.events])
        updates = {p.execution_id: p.update for p in live if p.update is not None}
        if updates:
            conn.executemany(R.UPDATE_EXECUTION, updates.values())
        headers = [(p.execution_id, p.header, now) for p in live if p.header is not None]
        if headers:
            conn.executemany(R.UPSERT_HEADER, headers)
        frames: dict[tuple[str, int], bytes | None] = {}
        for prepared in live:
            for frame_id, data in prepared.frames:
                frames[(prepared.execution_id, frame_id)] = data
        if frames:
            conn.executemany(
                R.UPSERT_FRAME, [(e, f, d) for (e, f), d in frames.items() if d is not None]
            )
            conn.executemany(R.DELETE_FRAME, [(e, f) for (e, f), d in frames.items() if d is None])


def _write_one(conn: sqlite3.Connection, prepared: _Prepared, now: float) -> None:
    """Write one transition under a savepoint; a constraint violation fails it alone."""
    eid = prepared.execution_id
    if prepared.owner is not None:
        row = conn.execute("SELECT owner FROM executions WHERE execution_id = ?", (eid,)).fetchone()
        if row is None or row[0] != prepared.owner:
            prepared.error = _lease_lost(prepared)
            return
    conn.execute("SAVEPOINT one")
    try:
        if prepared.created:
            conn.executemany(R.INSERT_EXECUTION_IF_NEW, prepared.created)
        conn.executemany(R.INSERT_EVENT, prepared.events)
        if prepared.header is not None:
            conn.execute(R.UPSERT_HEADER, (eid, prepared.header, now))
        for frame_id, data in prepared.frames:
            if data is None:
                conn.execute(R.DELETE_FRAME, (eid, frame_id))
            else:
                conn.execute(R.UPSERT_FRAME, (eid, frame_id, data))
        conn.executemany(R.DELETE_REQUEST, [(rid,) for rid in prepared.consumed])
        conn.executemany(R.INSERT_REQUEST_IF_RUNNING, [(*row, row[0]) for row in prepared.requests])
        conn.executemany(R.INSERT_TASK, prepared.tasks)
        conn.executemany(R.DELETE_TASK, [(token,) for token in prepared.removed_tasks])
        if prepared.update is not None:
            conn.execute(R.UPDATE_EXECUTION, prepared.update)
        if prepared.terminal:
            for statement in R.END_EXECUTION:
                conn.execute(statement, (eid,))
    except sqlite3.IntegrityError as exc:
        conn.execute("ROLLBACK TO one")
        prepared.error = ConflictError(f"transition of execution {eid!r} conflicts: {exc}")
    conn.execute("RELEASE one")


def _run_call(conn: sqlite3.Connection, call: _Call) -> None:
    conn.execute("SAVEPOINT call")
    call.error = None
    try:
        call.result = call.fn(conn)
    except (StoreError, sqlite3.IntegrityError) as exc:
        conn.execute("ROLLBACK TO call")
        call.error = exc if isinstance(exc, StoreError) else ConflictError(str(exc))
    conn.execute("RELEASE call")


def _lease_lost(prepared: _Prepared) -> LeaseLostError:
    return LeaseLostError(
        f"owner {prepared.owner!r} no longer holds the lease of execution"
        f" {prepared.execution_id!r}; the transition was not written"
    )


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
