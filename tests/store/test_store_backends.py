"""Behaviour every Store backend shares: run against MemoryStore and SQLiteStore."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackflow.errors import ConflictError, NotFoundError, StoreError
from stackflow.store import (
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    MemoryStore,
    SQLiteStore,
    Store,
    Transition,
    open_store,
)
from stackflow.store.base import Snapshot


def record(
    execution_id: str,
    *,
    name: str | None = None,
    workflow: str = "wf",
    status: str = "RUNNING",
    start_time: float = 100.0,
    parent_id: str | None = None,
) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=execution_id,
        name=name or f"name-{execution_id}",
        workflow=workflow,
        definition='{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}',
        status=status,
        input={"n": 1, "s": "é✓", "list": [1, None, True]},
        start_time=start_time,
        parent_id=parent_id,
    )


def events(first: int, count: int) -> tuple[HistoryEvent, ...]:
    return tuple(
        HistoryEvent(
            id=i,
            type="PassStateEntered" if i % 2 else "PassStateExited",
            timestamp=1000.0 + i,
            previous_event_id=i - 1,
            details={"name": f"S{i}", "input": {"i": i}},
        )
        for i in range(first, first + count)
    )


def test_create_and_get_round_trip(store: Store) -> None:
    rec = record("e1", parent_id="p0")
    store.create_execution(rec)
    assert store.get_execution("e1") == rec


def test_get_unknown_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_execution("nope")


def test_find_execution_by_workflow_and_name(store: Store) -> None:
    store.create_execution(record("e1", name="run", workflow="a"))
    store.create_execution(record("e2", name="run", workflow="b"))
    found = store.find_execution("b", "run")
    assert found is not None and found.execution_id == "e2"
    assert store.find_execution("c", "run") is None


def test_duplicate_id_conflicts(store: Store) -> None:
    store.create_execution(record("e1"))
    with pytest.raises(ConflictError):
        store.create_execution(record("e1", name="other"))
    assert store.get_execution("e1").name == "name-e1"


def test_duplicate_workflow_and_name_conflicts(store: Store) -> None:
    store.create_execution(record("e1", name="same"))
    with pytest.raises(ConflictError):
        store.create_execution(record("e2", name="same"))
    with pytest.raises(NotFoundError):
        store.get_execution("e2")


def test_list_newest_first_with_filters_and_limit(store: Store) -> None:
    store.create_execution(record("a", start_time=1.0, workflow="w1"))
    store.create_execution(record("b", start_time=3.0, workflow="w2", parent_id="a"))
    store.create_execution(record("c", start_time=2.0, workflow="w1", parent_id="a"))
    store.create_execution(record("d", start_time=3.0, workflow="w1"))  # tie: created later
    store.append(
        Transition("c", update=ExecutionUpdate("SUCCEEDED", output=1, stop_time=5.0))
    ).wait()

    def ids(**filters: object) -> list[str]:
        return [r.execution_id for r in store.list_executions(**filters)]  # type: ignore[arg-type]

    assert ids() == ["d", "b", "c", "a"]
    assert ids(workflow="w1") == ["d", "c", "a"]
    assert ids(status="RUNNING") == ["d", "b", "a"]
    assert ids(status="SUCCEEDED", workflow="w1") == ["c"]
    assert ids(parent_id="a") == ["b", "c"]
    assert ids(limit=2) == ["d", "b"]
    assert ids(workflow="none") == []


def test_history_in_order_and_after_event_id(store: Store) -> None:
    store.create_execution(record("e1"))
    store.create_execution(record("e2"))
    store.append(Transition("e1", events(1, 3)))
    store.append(Transition("e2", events(1, 1)))
    store.append(Transition("e1", events(4, 2))).wait()
    history = store.get_history("e1")
    assert [e.id for e in history] == [1, 2, 3, 4, 5]
    assert history == list(events(1, 5))
    assert [e.id for e in store.get_history("e1", after_event_id=3)] == [4, 5]
    assert store.get_history("e1", after_event_id=5) == []
    assert [e.id for e in store.get_history("e2")] == [1]
    assert store.get_history("unknown") == []


def test_snapshot_latest_wins(store: Store) -> None:
    store.create_execution(record("e1"))
    assert store.load_snapshot("e1") is None
    tickets = [
        store.append(Transition("e1", events(i, 1), snapshot=f"s{i}".encode())) for i in range(1, 4)
    ]
    tickets.append(store.append(Transition("e1", events(4, 1), snapshot=lambda: b"s4")))
    tickets.append(store.append(Transition("e1", events(5, 1))))  # no snapshot: keeps s4
    for ticket in tickets:
        ticket.wait(5)
    assert store.load_snapshot("e1") == Snapshot(b"s4")
    assert len(store.get_history("e1")) == 5


def test_update_to_terminal_status(store: Store) -> None:
    store.create_execution(record("ok"))
    store.create_execution(record("bad"))
    store.append(
        Transition(
            "ok",
            events(1, 1),
            update=ExecutionUpdate("SUCCEEDED", output={"r": [1, 2]}, stop_time=200.0),
        )
    )
    store.append(
        Transition(
            "bad",
            update=ExecutionUpdate(
                "FAILED", error="States.TaskFailed", cause="boom", stop_time=9.0
            ),
        )
    ).wait()
    ok = store.get_execution("ok")
    assert (ok.status, ok.output, ok.stop_time, ok.error) == (
        "SUCCEEDED",
        {"r": [1, 2]},
        200.0,
        None,
    )
    bad = store.get_execution("bad")
    assert (bad.status, bad.error, bad.cause, bad.output) == (
        "FAILED",
        "States.TaskFailed",
        "boom",
        None,
    )
    assert bad.input == record("bad").input


def test_append_to_unknown_execution_fails_its_ticket_only(store: Store) -> None:
    store.create_execution(record("e1"))
    bad = store.append(Transition("ghost", events(1, 1)))
    good = store.append(Transition("e1", events(1, 1)))
    with pytest.raises(NotFoundError):
        bad.wait(5)
    good.wait(5)
    assert store.get_history("ghost") == []
    assert [e.id for e in store.get_history("e1")] == [1]


def test_duplicate_event_id_conflicts_and_others_commit(store: Store) -> None:
    store.create_execution(record("e1"))
    store.create_execution(record("e2"))
    store.append(Transition("e1", events(1, 2))).wait()
    dup = store.append(Transition("e1", events(2, 2), snapshot=b"dup"))
    other = store.append(Transition("e2", events(1, 1), snapshot=b"fine"))
    with pytest.raises(ConflictError):
        dup.wait(5)
    other.wait(5)
    assert [e.id for e in store.get_history("e1")] == [1, 2]
    assert store.load_snapshot("e1") is None
    assert store.load_snapshot("e2") == Snapshot(b"fine")


def test_failing_snapshot_callable_fails_the_ticket(store: Store) -> None:
    store.create_execution(record("e1"))

    def broken() -> bytes:
        raise ValueError("cannot serialize")

    ticket = store.append(Transition("e1", events(1, 1), snapshot=broken))
    with pytest.raises(StoreError, match="cannot serialize"):
        ticket.wait(5)
    assert store.get_history("e1") == []


def test_flush_makes_everything_visible(store: Store) -> None:
    store.create_execution(record("e1"))
    for i in range(1, 51):
        store.append(Transition("e1", events(i, 1), snapshot=str(i).encode()))
    store.flush()
    assert len(store.get_history("e1")) == 50
    assert store.load_snapshot("e1") == Snapshot(b"50")


def test_closed_store_refuses_use(store: Store) -> None:
    store.create_execution(record("e1"))
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError):
        store.get_execution("e1")
    with pytest.raises(StoreError):
        store.append(Transition("e1", events(1, 1)))


def test_memory_store_calls_snapshot_at_append_time() -> None:
    store = MemoryStore()
    store.create_execution(record("e1"))
    calls: list[int] = []

    def snapshot() -> bytes:
        calls.append(1)
        return b"x"

    ticket = store.append(Transition("e1", events(1, 1), snapshot=snapshot))
    assert ticket.done() and calls == [1]
    assert store.load_snapshot("e1") == Snapshot(b"x")


@pytest.mark.parametrize("url", [":memory:", "memory:", None])
def test_open_store_memory(url: str | None) -> None:
    with open_store(url) as store:
        assert isinstance(store, MemoryStore)


def test_open_store_sqlite_creates_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "db.sqlite"
    with open_store(str(path)) as store:
        assert isinstance(store, SQLiteStore)
        store.create_execution(record("e1"))
    assert path.exists()
    with open_store(f"sqlite://{path}") as again:
        assert again.get_execution("e1").execution_id == "e1"


def test_open_store_rejects_unknown_scheme() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        open_store("redis://localhost/0")
