"""SQLite-only behaviour: files, migrations, pragmas, group commit, readers, crashes."""

from __future__ import annotations

import functools
import gc
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackflow.errors import StoreError
from stackflow.store import (
    CommitTicket,
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    SQLiteStore,
    Transition,
)
from stackflow.store.base import Snapshot
from stackflow.store.sqlite import apply_migrations, load_migrations
from stackflow.store.sqlite import store as store_module
from stackflow.store.sqlite.store import split_statements


def record(execution_id: str, start_time: float = 1.0) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=execution_id,
        name=f"n-{execution_id}",
        workflow="wf",
        definition="{}",
        status="RUNNING",
        input={"id": execution_id},
        start_time=start_time,
    )


def event(i: int) -> HistoryEvent:
    return HistoryEvent(i, "TaskStateEntered", 10.0 + i, i - 1, {"name": "T", "i": i})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    backend = SQLiteStore(db)
    yield backend
    backend.close()


class WriterBlocker:
    """Holds the writer thread inside a snapshot callable so later appends share one batch."""

    def __init__(self, store: SQLiteStore, execution_id: str) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        store.create_execution(record(execution_id))
        self.ticket = store.append(Transition(execution_id, snapshot=self._snapshot))
        assert self.entered.wait(10)

    def _snapshot(self) -> bytes:
        self.entered.set()
        self.release.wait(10)
        return b"blocker"


def test_reopen_reads_everything_back(db: Path) -> None:
    with SQLiteStore(db) as first:
        first.create_execution(record("e1", 5.0))
        first.create_execution(record("e2", 6.0))
        for i in range(1, 101):
            first.append(Transition("e1", (event(i),), snapshot=f"snap{i}".encode()))
        first.append(
            Transition("e2", update=ExecutionUpdate("FAILED", error="E", cause="C", stop_time=7.0))
        )
        # no wait: close() must drain the queue
    with SQLiteStore(db) as second:
        assert second.get_execution("e1") == record("e1", 5.0)
        assert [e.id for e in second.get_history("e1")] == list(range(1, 101))
        assert second.get_history("e1")[41] == event(42)
        assert second.load_snapshot("e1") == Snapshot(b"snap100")
        failed = second.get_execution("e2")
        assert (failed.status, failed.error, failed.cause, failed.stop_time) == (
            "FAILED",
            "E",
            "C",
            7.0,
        )
        assert [r.execution_id for r in second.list_executions()] == ["e2", "e1"]


def test_schema_version_recorded_and_not_reapplied(db: Path) -> None:
    latest = [version for version, _, _ in load_migrations()]
    assert latest[0] == 1
    with SQLiteStore(db) as first:
        assert first.applied_migrations == latest
        assert first.schema_versions() == latest
    with SQLiteStore(db) as second:
        assert second.applied_migrations == []
        assert second.schema_versions() == latest
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT version, applied_at FROM schema_version").fetchall()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert [r[0] for r in rows] == latest and all(r[1] > 0 for r in rows)
    assert {"executions", "events", "snapshots", "schema_version"} <= tables


def test_newer_schema_is_refused(db: Path) -> None:
    SQLiteStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_version VALUES (9999, 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(db)


def test_apply_migrations_is_idempotent_on_a_connection() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    every = [v for v, _, _ in load_migrations()]
    assert every == list(range(1, len(every) + 1))  # numbered without gaps
    assert apply_migrations(conn) == every
    assert apply_migrations(conn) == []
    conn.close()


def test_split_statements_handles_comments_and_semicolons_in_strings() -> None:
    sql = "-- head\nCREATE TABLE t (a TEXT DEFAULT ';');\n\nINSERT INTO t VALUES ('x;y');\n-- end\n"
    assert list(split_statements(sql)) == [
        "-- head\nCREATE TABLE t (a TEXT DEFAULT ';');",
        "INSERT INTO t VALUES ('x;y');",
    ]
    with pytest.raises(StoreError, match="incomplete"):
        list(split_statements("CREATE TABLE t (a"))


@pytest.mark.parametrize(("durability", "level"), [("full", 2), ("normal", 1)])
def test_wal_and_synchronous_pragmas(db: Path, durability: str, level: int) -> None:
    with SQLiteStore(db, durability=durability) as backend:  # type: ignore[arg-type]
        settings = backend.pragmas()
        assert settings["journal_mode"] == "wal"
        assert settings["synchronous"] == level
        assert settings["busy_timeout"] > 0
        assert settings["reader_query_only"] == 1
        assert settings["reader_busy_timeout"] > 0
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_memory_path_and_bad_durability_are_refused(db: Path) -> None:
    with pytest.raises(StoreError):
        SQLiteStore(":memory:")
    with pytest.raises(StoreError):
        SQLiteStore(db, durability="fast")  # type: ignore[arg-type]


def test_only_the_last_snapshot_of_a_batch_is_serialized(store: SQLiteStore) -> None:
    store.create_execution(record("e1"))
    blocker = WriterBlocker(store, "block")
    calls: list[int] = []

    def snapshot(i: int) -> bytes:
        calls.append(i)
        return f"s{i}".encode()

    tickets = [
        store.append(Transition("e1", (event(i),), snapshot=functools.partial(snapshot, i)))
        for i in range(1, 6)
    ]
    blocker.release.set()
    for ticket in tickets:
        ticket.wait(10)
    assert calls == [5]
    assert store.load_snapshot("e1") == Snapshot(b"s5")
    assert [e.id for e in store.get_history("e1")] == [1, 2, 3, 4, 5]


def test_failed_snapshot_falls_back_to_the_previous_one_in_the_batch(store: SQLiteStore) -> None:
    store.create_execution(record("e1"))
    blocker = WriterBlocker(store, "block")

    def broken() -> bytes:
        raise RuntimeError("nope")

    first = store.append(Transition("e1", (event(1),), snapshot=b"one"))
    bad = store.append(Transition("e1", (event(2),), snapshot=broken))
    later = store.append(Transition("e1", (event(3),)))
    blocker.release.set()
    first.wait(10)
    with pytest.raises(StoreError, match="nope"):
        bad.wait(10)
    with pytest.raises(StoreError, match="earlier transition failed"):
        later.wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"one")
    assert [e.id for e in store.get_history("e1")] == [1]


def test_concurrent_creates_of_one_id_one_wins(store: SQLiteStore) -> None:
    blocker = WriterBlocker(store, "block")
    results: dict[str, BaseException | None] = {}

    def create(key: str, rec: ExecutionRecord) -> None:
        try:
            store.create_execution(rec)
            results[key] = None
        except BaseException as exc:
            results[key] = exc

    threads = [threading.Thread(target=create, args=(str(i), record("same"))) for i in range(3)]
    for thread in threads:
        thread.start()
    # The creators queue behind the blocker (usually into one batch); then the writer goes on.
    blocker.release.set()
    for thread in threads:
        thread.join(10)
    errors = [exc for exc in results.values() if exc is not None]
    assert len(results) == 3 and len(errors) == 2
    assert store.get_execution("same").input == {"id": "same"}


def test_commit_error_fails_every_ticket_of_the_batch(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
    with SQLiteStore(db) as backend:
        backend.create_execution(record("e1"))
        blocker = WriterBlocker(backend, "block")
        tickets = [backend.append(Transition("e1", (event(i),))) for i in range(1, 4)]
        other = sqlite3.connect(db, isolation_level=None, timeout=0)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        blocker.release.set()
        for ticket in [blocker.ticket, *tickets]:
            with pytest.raises(StoreError, match="commit failed"):
                ticket.wait(10)
        other.execute("ROLLBACK")
        other.close()
        backend.append(Transition("e1", (event(1),))).wait(10)  # the writer recovered
        assert [e.id for e in backend.get_history("e1")] == [1]


def test_concurrent_readers_see_consistent_data(store: SQLiteStore) -> None:
    store.create_execution(record("e1"))
    done = threading.Event()
    errors: list[BaseException] = []
    reads = [0] * 4

    def reader(slot: int) -> None:
        try:
            while not done.is_set() or reads[slot] == 0:
                snap = store.load_snapshot("e1")
                steps = 0 if snap is None else json.loads(snap.header)["steps"]
                history = store.get_history("e1")
                ids = [e.id for e in history]
                assert ids == list(range(1, len(ids) + 1))
                assert len(ids) % 2 == 0 and len(ids) >= 2 * steps
                assert store.get_execution("e1").status in ("RUNNING", "SUCCEEDED")
                reads[slot] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    ticket: CommitTicket | None = None
    for step in range(1, 301):
        ticket = store.append(
            Transition(
                "e1",
                (event(2 * step - 1), event(2 * step)),
                snapshot=json.dumps({"steps": step}).encode(),
            )
        )
        if step % 50 == 0:
            ticket.wait(10)
    assert ticket is not None
    store.append(Transition("e1", update=ExecutionUpdate("SUCCEEDED", output=1))).wait(10)
    done.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert all(count > 0 for count in reads)
    assert len(store.get_history("e1")) == 600


_CHILD = """
import sys
from stackflow.store import SQLiteStore, ExecutionRecord, HistoryEvent, Transition
store = SQLiteStore(sys.argv[1], durability=sys.argv[2])
store.create_execution(ExecutionRecord("e1", "n", "wf", "{}", "RUNNING", {"a": 1}, 1.0))
ticket = None
for i in range(1, 501):
    ticket = store.append(Transition("e1", (HistoryEvent(i, "T", 1.0, i - 1, {"i": i}),),
                                     snapshot=str(i).encode()))
ticket.wait()
print("committed", flush=True)
for i in range(501, 200001):  # keep writing until killed
    store.append(Transition("e1", (HistoryEvent(i, "T", 1.0, i - 1, {"i": i}),),
                            snapshot=str(i).encode()))
sys.stdin.read()
"""


@pytest.mark.parametrize("durability", ["full", "normal"])
def test_committed_data_survives_sigkill(db: Path, durability: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db), durability],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "committed"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    with SQLiteStore(db) as reopened:
        assert reopened.get_execution("e1").input == {"a": 1}
        ids = [e.id for e in reopened.get_history("e1")]
        assert len(ids) >= 500
        assert ids == list(range(1, len(ids) + 1))
        snapshot = reopened.load_snapshot("e1")
        assert snapshot is not None and int(snapshot.header) >= 500


def test_reader_connections_close_with_their_threads(store: SQLiteStore) -> None:
    store.create_execution(record("e1"))
    seen: list[str] = []

    def read() -> None:
        seen.append(store.get_execution("e1").execution_id)

    for _ in range(20):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join(10)
    gc.collect()
    assert seen == ["e1"] * 20
    assert len(store._readers) <= 1  # only threads still alive keep a reader
