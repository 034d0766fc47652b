"""The HTTP trigger store (``store.triggers``) on every backend."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stackflow.errors import NotFoundError, StoreError
from stackflow.store import MemoryStore, SQLiteStore, Store
from stackflow.store.triggers import TriggerRecord


def record(name: str = "orders-hook", stack: str = "app", **changes: object) -> TriggerRecord:
    base = TriggerRecord(
        name=name,
        workflow="orders",
        auth_type="Hmac",
        secret="k3y-of-the-hook",
        header="X-Stackflow-Signature",
        algorithm="sha256",
        stack_name=stack,
        logical_id="Hook",
        created_at=100.0,
        updated_at=100.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_put_get_find_list_delete(store: Store) -> None:
    triggers = store.triggers
    assert triggers.put_trigger(record()) == record()
    triggers.put_trigger(record("a-other", stack="other", auth_type="None", secret=None))
    assert triggers.get_trigger("orders-hook") == record()
    assert triggers.find_trigger("missing") is None
    assert triggers.get_trigger("a-other").secret is None
    assert [r.name for r in triggers.list_triggers()] == ["a-other", "orders-hook"]
    assert [r.name for r in triggers.list_triggers(stack_name="app")] == ["orders-hook"]
    triggers.delete_trigger("orders-hook")
    triggers.delete_trigger("orders-hook")  # missing: no error
    with pytest.raises(NotFoundError, match="orders-hook"):
        triggers.get_trigger("orders-hook")
    assert [r.name for r in triggers.list_triggers()] == ["a-other"]


def test_replacing_keeps_created_at(store: Store) -> None:
    triggers = store.triggers
    triggers.put_trigger(record())
    replaced = triggers.put_trigger(
        record(
            workflow="orders:3",
            auth_type="Token",
            secret="digest",
            header="X-Other",
            logical_id="Renamed",
            created_at=900.0,
            updated_at=900.0,
        )
    )
    assert replaced.created_at == 100.0
    assert replaced.updated_at == 900.0
    assert (replaced.workflow, replaced.auth_type, replaced.secret) == (
        "orders:3",
        "Token",
        "digest",
    )
    assert (replaced.header, replaced.logical_id) == ("X-Other", "Renamed")
    assert store.triggers.get_trigger("orders-hook") == replaced


def test_the_same_trigger_store_each_time(store: Store) -> None:
    assert store.triggers is store.triggers


def test_closed_memory_store_refuses() -> None:
    store = MemoryStore()
    triggers = store.triggers
    store.close()
    with pytest.raises(StoreError):
        triggers.list_triggers()


def test_sqlite_triggers_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    first = SQLiteStore(path)
    first.triggers.put_trigger(record())
    first.close()
    again = SQLiteStore(path)
    try:
        assert again.triggers.get_trigger("orders-hook") == record()
    finally:
        again.close()
