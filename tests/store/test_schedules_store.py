"""The schedule store (``store.schedules``) on every backend."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from stackflow.errors import NotFoundError, StoreError
from stackflow.store import MemoryStore, SQLiteStore, Store
from stackflow.store.schedules import ScheduleRecord


def record(name: str = "nightly", stack: str = "app", **changes: object) -> ScheduleRecord:
    base = ScheduleRecord(
        name=name,
        spec={"expression": "rate(5 minutes)", "workflow": "wf", "input": {"a": [1]}},
        stack_name=stack,
        logical_id="Nightly",
        last_fire_time=None,
        created_at=100.0,
        updated_at=100.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_put_get_find_list_delete(store: Store) -> None:
    schedules = store.schedules
    stored = schedules.put_schedule(record())
    assert stored == record()
    schedules.put_schedule(record("b-other", stack="other"))
    assert schedules.get_schedule("nightly").spec["input"] == {"a": [1]}
    assert schedules.find_schedule("missing") is None
    assert [r.name for r in schedules.list_schedules()] == ["b-other", "nightly"]
    assert [r.name for r in schedules.list_schedules(stack_name="app")] == ["nightly"]
    schedules.delete_schedule("nightly")
    schedules.delete_schedule("nightly")  # missing: no error
    with pytest.raises(NotFoundError, match="nightly"):
        schedules.get_schedule("nightly")


def test_replacing_keeps_created_at_and_the_watermark(store: Store) -> None:
    schedules = store.schedules
    schedules.put_schedule(record())
    assert schedules.advance("nightly", None, 500.0)
    replaced = schedules.put_schedule(
        record(spec={"expression": "rate(1 hour)"}, created_at=900.0, updated_at=900.0)
    )
    assert replaced.spec == {"expression": "rate(1 hour)"}
    assert replaced.created_at == 100.0
    assert replaced.updated_at == 900.0
    assert replaced.last_fire_time == 500.0


def test_advance_is_compare_and_set(store: Store) -> None:
    schedules = store.schedules
    schedules.put_schedule(record())
    assert schedules.advance("nightly", None, 1000.0)
    assert not schedules.advance("nightly", None, 2000.0)  # someone moved it already
    assert not schedules.advance("nightly", 999.0, 2000.0)
    assert schedules.advance("nightly", 1000.0, 1300.0)
    assert schedules.get_schedule("nightly").last_fire_time == 1300.0
    assert not schedules.advance("missing", None, 1.0)


def test_concurrent_advances_let_exactly_one_win(store: Store) -> None:
    schedules = store.schedules
    schedules.put_schedule(record())
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def race(value: float) -> None:
        barrier.wait()
        results.append(schedules.advance("nightly", None, value))

    threads = [threading.Thread(target=race, args=(float(i + 1),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [False] * 7 + [True]


def test_the_returned_spec_is_a_fresh_copy(store: Store) -> None:
    schedules = store.schedules
    schedules.put_schedule(record())
    first = schedules.get_schedule("nightly")
    first.spec["input"]["a"].append(2)
    assert schedules.get_schedule("nightly").spec["input"] == {"a": [1]}


def test_sqlite_schedules_survive_a_reopen(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as first:
        first.schedules.put_schedule(record())
        assert first.schedules.advance("nightly", None, 1234.5)
    with SQLiteStore(tmp_path / "s.db") as second:
        again = second.schedules.get_schedule("nightly")
        assert again.last_fire_time == 1234.5
        assert again.spec == record().spec


def test_a_closed_memory_store_refuses(tmp_path: Path) -> None:
    store = MemoryStore()
    schedules = store.schedules
    store.close()
    with pytest.raises(StoreError):
        schedules.list_schedules()
