"""SQLite-only durable-execution behaviour: batches, several processes, migration from 0001."""

from __future__ import annotations

import functools
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stackflow.errors import ConflictError, LeaseLostError, NotFoundError
from stackflow.store import (
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    SQLiteStore,
    Transition,
)
from stackflow.store.base import CommitTicket, Request, Snapshot
from stackflow.store.sqlite import load_migrations, ops
from stackflow.store.sqlite.writer import _CALL, _Call


def record(
    execution_id: str,
    start_time: float = 1.0,
    owner: str | None = None,
    lease_expires: float | None = None,
) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=execution_id,
        name=f"n-{execution_id}",
        workflow="wf",
        definition="{}",
        status="RUNNING",
        input={"id": execution_id},
        start_time=start_time,
        owner=owner,
        lease_expires=lease_expires,
    )


def event(i: int) -> HistoryEvent:
    return HistoryEvent(i, "TaskStateEntered", 10.0 + i, i - 1, {"i": i})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    backend = SQLiteStore(db)
    yield backend
    backend.close()


class WriterBlocker:
    """Holds the writer thread inside a snapshot callable so later work shares one batch."""

    def __init__(self, store: SQLiteStore, execution_id: str = "block") -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        store.create_execution(record(execution_id))
        self.ticket = store.append(Transition(execution_id, snapshot=self._snapshot))
        assert self.entered.wait(10)

    def _snapshot(self) -> bytes:
        self.entered.set()
        self.release.wait(10)
        return b"blocker"


def queue_call(store: SQLiteStore, fn: Callable[[sqlite3.Connection], Any]) -> _Call:
    """Queue a writer call without waiting for it (so it lands in the blocked batch)."""
    ticket = CommitTicket()
    call = _Call(fn, ticket)
    store._writer._put(_CALL, call, ticket)
    return call


def test_fencing_in_one_batch_fails_only_the_fenced_transitions(store: SQLiteStore) -> None:
    store.create_execution(record("mine", owner="me", lease_expires=1e12))
    store.create_execution(record("theirs", owner="them", lease_expires=1e12))
    blocker = WriterBlocker(store)
    ok1 = store.append(Transition("mine", (event(1),), snapshot=b"m1", owner="me"))
    lost = store.append(
        Transition("theirs", (event(1),), snapshot=b"t1", frames={1: b"x"}, owner="me")
    )
    lost_complex = store.append(
        Transition(
            "theirs",
            (event(2),),
            owner="me",
            requests=(Request(0, "mine", "stop"),),
            update=ExecutionUpdate("ABORTED", stop_time=2.0),
        )
    )
    ok2 = store.append(Transition("mine", (event(2),), frames={3: b"f"}, owner="me"))
    blocker.release.set()
    for ticket in (blocker.ticket, ok1, ok2):
        ticket.wait(10)
    for ticket in (lost, lost_complex):
        with pytest.raises(LeaseLostError, match="'theirs'"):
            ticket.wait(10)
    assert [e.id for e in store.get_history("mine")] == [1, 2]
    assert store.load_snapshot("mine") == Snapshot(b"m1", {3: b"f"})
    assert store.get_history("theirs") == []
    assert store.load_snapshot("theirs") is None
    assert store.get_execution("theirs").status == "RUNNING"
    assert store.pending_requests(["mine"]) == []


def test_frame_delete_then_readd_in_one_batch(store: SQLiteStore) -> None:
    store.create_execution(record("e1"))
    store.append(Transition("e1", snapshot=b"h0", frames={1: b"a", 2: b"b"})).wait(10)
    blocker = WriterBlocker(store)
    tickets = [
        store.append(Transition("e1", removed_frames=(1,))),
        store.append(Transition("e1", frames={1: b"a2"}, snapshot=b"h1")),
        store.append(Transition("e1", frames={2: b"b2", 5: b"e"})),
        store.append(Transition("e1", removed_frames=(2,), snapshot=b"h2")),
    ]
    blocker.release.set()
    for ticket in tickets:
        ticket.wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"h2", {1: b"a2", 5: b"e"})


def test_calls_and_transitions_apply_in_queue_order(store: SQLiteStore) -> None:
    store.create_execution(record("e1"))
    store.claim_executions("me", now=0.0, lease_until=1e12, limit=1)
    blocker = WriterBlocker(store)
    before = store.append(Transition("e1", (event(1),), owner="me"))
    release = queue_call(
        store, functools.partial(ops.release_executions, owner="me", execution_ids=["e1"])
    )
    after = store.append(Transition("e1", (event(2),), owner="me"))
    blocker.release.set()
    before.wait(10)
    release.ticket.wait(10)
    with pytest.raises(LeaseLostError):
        after.wait(10)
    assert [e.id for e in store.get_history("e1")] == [1]
    assert store.get_execution("e1").owner is None


def test_conflict_redo_keeps_calls_and_complex_transitions(store: SQLiteStore) -> None:
    store.create_execution(record("e1"))
    store.create_execution(record("e2"))
    store.append(Transition("e1", (event(1),))).wait(10)
    blocker = WriterBlocker(store)
    duplicate = store.append(Transition("e1", (event(1),), snapshot=b"dup"))
    added = queue_call(
        store,
        functools.partial(
            ops.add_request, execution_id="e2", kind="stop", token=None, payload_json="1", now=3.0
        ),
    )
    complex_ = store.append(
        Transition("e2", (event(1),), requests=(Request(0, "e1", "child_finished", "c"),))
    )
    simple = store.append(Transition("e2", (event(2),), snapshot=b"s2"))
    blocker.release.set()
    with pytest.raises(ConflictError):
        duplicate.wait(10)
    for ticket in (added.ticket, complex_, simple):
        ticket.wait(10)
    assert added.error is None and isinstance(added.result, int)
    assert [r.id for r in store.pending_requests(["e2"])] == [added.result]
    assert [r.kind for r in store.pending_requests(["e1"])] == ["child_finished"]
    assert [e.id for e in store.get_history("e2")] == [1, 2]
    assert store.load_snapshot("e1") is None
    assert store.load_snapshot("e2") == Snapshot(b"s2")


def test_two_stores_on_one_file_share_requests_and_tasks(db: Path) -> None:
    with SQLiteStore(db) as first, SQLiteStore(db) as second:
        first.create_execution(record("e1"))
        rid = second.add_request("e1", "stop", None, {"why": "x"}, 1.0)
        assert [r.id for r in first.pending_requests(["e1"])] == [rid]
        with pytest.raises(NotFoundError):
            second.add_request("ghost", "stop", None, None, 1.0)
        assert first.deploy_workflow("w", "{}", 1.0) == second.deploy_workflow("w", "{}", 2.0)
        assert second.claim_executions("b", now=0.0, lease_until=10.0, limit=5)[0].owner == "b"
        assert first.claim_executions("a", now=5.0, lease_until=10.0, limit=5) == []


_CLAIMER = """
import json, sys
from stackflow.store import SQLiteStore
store = SQLiteStore(sys.argv[1])
name = sys.argv[2]
sys.stdin.readline()  # start together
claimed = []
while len(claimed) < 120:  # a cap, so both processes get some even if one waits long
    batch = store.claim_executions(name, now=0.0, lease_until=1e12, limit=2)
    if not batch:
        break
    claimed.extend(r.execution_id for r in batch)
store.close()
print(json.dumps(claimed))
"""


def test_two_processes_never_claim_the_same_execution(db: Path) -> None:
    ids = [f"e{i:03d}" for i in range(200)]
    with SQLiteStore(db) as setup:
        for i, execution_id in enumerate(ids):
            setup.create_execution(record(execution_id, start_time=float(i)))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(db), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    try:
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(30)
    assert [child.returncode for child in children] == [0, 0], [err for _, err in results]
    first, second = (json.loads(out) for out, _ in results)
    assert not set(first) & set(second)
    assert len(first) >= 80 and len(second) >= 80
    assert sorted(first + second) == ids
    assert first == sorted(first) and second == sorted(second)
    with SQLiteStore(db) as check:
        owners = {check.get_execution(eid).owner for eid in ids}
        assert owners <= {"p1", "p2"}
        assert {check.get_execution(eid).owner for eid in first} == {"p1"}


def test_migration_from_a_0001_database_keeps_the_data(db: Path) -> None:
    (version, _, sql) = load_migrations()[0]
    assert version == 1
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(sql)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at REAL)")
    conn.execute("INSERT INTO schema_version VALUES (1, 0)")
    conn.execute(
        "INSERT INTO executions (execution_id, name, workflow, definition, status, input,"
        " start_time) VALUES ('old', 'n', 'wf', '{}', 'RUNNING', '{\"a\":1}', 5.0)"
    )
    conn.execute(
        "INSERT INTO events VALUES ('old', 1, 'ExecutionStarted', 5.0, 0, '{\"input\":{}}')"
    )
    conn.execute("INSERT INTO snapshots VALUES ('old', x'cafe', 5.0)")
    conn.close()
    every = [v for v, _, _ in load_migrations()]
    assert every[:3] == [1, 2, 3]
    with SQLiteStore(db) as store:
        assert store.applied_migrations == every[1:]
        assert store.schema_versions() == every
        old = store.get_execution("old")
        assert (old.input, old.owner, old.lease_expires, old.version) == (
            {"a": 1},
            None,
            None,
            None,
        )
        assert [e.type for e in store.get_history("old")] == ["ExecutionStarted"]
        assert store.load_snapshot("old") == Snapshot(b"\xca\xfe")
        assert [r.execution_id for r in store.claim_executions("me", 0.0, 9.0, 5)] == ["old"]
        store.append(Transition("old", (event(2),), frames={1: b"f"}, owner="me")).wait(10)
        assert store.load_snapshot("old") == Snapshot(b"\xca\xfe", {1: b"f"})
    latest = [v for v, _, _ in load_migrations()]
    with SQLiteStore(db) as again:
        assert again.applied_migrations == []
        assert again.schema_versions() == latest
