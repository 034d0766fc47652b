"""The stack store (``store.stacks``) on every backend, and SQLite durability of stacks."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stackflow.errors import ConflictError, NotFoundError, StackNotFoundError, StoreError
from stackflow.store import MemoryStore, SQLiteStore, Store
from stackflow.store.stacks import (
    ChangeSetRecord,
    IntentRecord,
    StackEvent,
    StackRecord,
    StackResourceRecord,
    StackStore,
    check_update_fields,
)


def stack(stack_id: str = "id-1", name: str = "app", **changes: Any) -> StackRecord:
    record = StackRecord(
        stack_id=stack_id,
        name=name,
        status="CREATE_IN_PROGRESS",
        status_reason=None,
        template='{"Resources": {}}',
        template_file="/t/app.yaml",
        parameters={"Env": "dev", "Secret": "s3cr3t"},
        no_echo=frozenset({"Secret"}),
        outputs={},
        description="an app",
        created_at=10.0,
        updated_at=10.0,
        version=1,
        operation_id="op-1",
    )
    return replace(record, **changes)


def resource(logical_id: str, stack_id: str = "id-1", **changes: Any) -> StackResourceRecord:
    record = StackResourceRecord(
        stack_id=stack_id,
        logical_id=logical_id,
        type="Stackflow::Workflow",
        physical_id=f"pid-{logical_id}",
        status="CREATE_COMPLETE",
        status_reason=None,
        properties={"Definition": {"StartAt": "A"}, "List": [1, 2]},
        attributes={"Arn": f"arn:{logical_id}"},
        depends_on=["Other"],
        deletion_policy=None,
        update_replace_policy="Retain",
        updated_at=11.0,
    )
    return replace(record, **changes)


def event(stack_id: str, status: str, logical_id: str = "Res") -> StackEvent:
    return StackEvent(
        stack_id=stack_id,
        seq=0,
        timestamp=12.0,
        logical_id=logical_id,
        physical_id=None,
        resource_type="Stackflow::Workflow",
        status=status,
        reason=None,
        operation_id="op-1",
    )


def change_set(
    change_set_id: str, stack_name: str = "app", created_at: float = 5.0
) -> ChangeSetRecord:
    return ChangeSetRecord(
        change_set_id=change_set_id,
        stack_name=stack_name,
        stack_version=0,
        created_at=created_at,
        template="{}",
        template_file=None,
        parameters={"Env": "prod"},
        changes={"Changes": [{"Action": "Add", "LogicalResourceId": "A"}]},
        status="CREATE_COMPLETE",
    )


def intent(seq: int, state: str = "PENDING", operation_id: str = "op-1") -> IntentRecord:
    return IntentRecord(
        operation_id=operation_id,
        seq=seq,
        logical_id=f"R{seq}",
        action="CREATE",
        state=state,
        physical_id_hint=f"app-R{seq}-abc",
        request_token=f"tok-{seq}",
        data={"desired": {"X": seq}},
        updated_at=1.0,
    )


@pytest.fixture
def stacks(store: Store) -> StackStore:
    return store.stacks


# -- the property ---------------------------------------------------------------------------


def test_stacks_property_is_one_instance_per_store(store: Store) -> None:
    assert isinstance(store.stacks, StackStore)
    assert store.stacks is store.stacks


def test_stacks_property_is_the_same_instance_across_threads(store: Store) -> None:
    seen: list[StackStore] = []
    threads = [threading.Thread(target=lambda: seen.append(store.stacks)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(found) for found in seen}) == 1


def test_a_closed_store_refuses_stack_operations(tmp_path: Path) -> None:
    for backend in (MemoryStore(), SQLiteStore(tmp_path / "closed.db")):
        backend.stacks.create_stack(stack())
        backend.close()
        with pytest.raises(StoreError):
            backend.stacks.get_stack("app")
        with pytest.raises(StoreError):
            backend.stacks.create_stack(stack("id-2", "other"))


# -- stacks ---------------------------------------------------------------------------------


def test_create_and_get_by_name_and_id(stacks: StackStore) -> None:
    created = stacks.create_stack(stack())
    assert created == stack()
    assert stacks.get_stack("app") == created
    assert stacks.get_stack("id-1") == created
    assert stacks.find_stack("app") == created
    assert created.no_echo == frozenset({"Secret"})
    assert created.parameters == {"Env": "dev", "Secret": "s3cr3t"}


def test_missing_stack(stacks: StackStore) -> None:
    assert stacks.find_stack("nope") is None
    with pytest.raises(StackNotFoundError, match="nope"):
        stacks.get_stack("nope")


def test_live_name_is_unique_but_reusable_after_delete(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    with pytest.raises(ConflictError, match="app"):
        stacks.create_stack(stack("id-2"))
    with pytest.raises(ConflictError, match="id-1"):
        stacks.create_stack(stack("id-1", "other"))
    stacks.update_stack("id-1", deleted=True, status="DELETE_COMPLETE")
    assert stacks.find_stack("app") is None
    assert stacks.get_stack("id-1").deleted is True  # still found by id
    second = stacks.create_stack(stack("id-2"))
    assert stacks.get_stack("app") == second
    assert stacks.get_stack("id-1").status == "DELETE_COMPLETE"
    assert [r.stack_id for r in stacks.list_stacks()] == ["id-2"]
    assert [r.stack_id for r in stacks.list_stacks(include_deleted=True)] == ["id-1", "id-2"]


def test_undeleting_onto_a_taken_name_conflicts(stacks: StackStore) -> None:
    stacks.create_stack(stack(deleted=True))
    stacks.create_stack(stack("id-2"))
    with pytest.raises(ConflictError):
        stacks.update_stack("id-1", deleted=False)
    assert stacks.get_stack("id-1").deleted is True


def test_list_stacks_sorted_by_name(stacks: StackStore) -> None:
    stacks.create_stack(stack("id-b", "beta"))
    stacks.create_stack(stack("id-a", "alpha"))
    assert [r.name for r in stacks.list_stacks()] == ["alpha", "beta"]


def test_update_stack_bumps_version_and_checks_it(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    updated = stacks.update_stack(
        "id-1", expected_version=1, status="CREATE_COMPLETE", outputs={"Url": {"Value": "x"}}
    )
    assert (updated.version, updated.status) == (2, "CREATE_COMPLETE")
    assert updated.outputs == {"Url": {"Value": "x"}}
    assert stacks.get_stack("app") == updated
    with pytest.raises(ConflictError, match="version 2"):
        stacks.update_stack("id-1", expected_version=1, status="UPDATE_IN_PROGRESS")
    assert stacks.get_stack("app").status == "CREATE_COMPLETE"
    assert stacks.update_stack("id-1", status="UPDATE_IN_PROGRESS").version == 3


def test_update_stack_rejects_unknown_fields(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    with pytest.raises(TypeError, match="colour"):
        stacks.update_stack("id-1", colour="red")
    with pytest.raises(TypeError, match="version"):
        stacks.update_stack("id-1", version=7)
    assert stacks.get_stack("id-1").version == 1


def test_update_missing_stack(stacks: StackStore) -> None:
    with pytest.raises(StackNotFoundError):
        stacks.update_stack("nope", status="X")


def test_rename_onto_a_live_name_conflicts(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    stacks.create_stack(stack("id-2", "other"))
    with pytest.raises(ConflictError, match="app"):
        stacks.update_stack("id-2", name="app")
    assert stacks.update_stack("id-2", name="renamed").name == "renamed"
    assert stacks.get_stack("renamed").stack_id == "id-2"


def test_returned_records_are_copies(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    stacks.get_stack("app").parameters["Env"] = "changed"
    assert stacks.get_stack("app").parameters["Env"] == "dev"


# -- lock -----------------------------------------------------------------------------------


def test_lock_free_held_renewed_expired(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    assert stacks.acquire_lock("id-1", "me", 10, now=100)
    record = stacks.get_stack("id-1")
    assert (record.lock_owner, record.lock_expires, record.version) == ("me", 110, 1)
    assert not stacks.acquire_lock("id-1", "you", 10, now=105)
    assert stacks.acquire_lock("id-1", "me", 10, now=105)  # ours: renewed
    assert stacks.get_stack("id-1").lock_expires == 115
    assert not stacks.acquire_lock("id-1", "you", 10, now=114.9)
    assert stacks.acquire_lock("id-1", "you", 10, now=115)  # expired exactly now
    assert stacks.get_stack("id-1").lock_owner == "you"


def test_lock_break_if(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    assert stacks.acquire_lock("id-1", "dead", 60, now=0)
    asked: list[str] = []

    def alive(owner: str) -> bool:
        asked.append(owner)
        return False

    assert not stacks.acquire_lock("id-1", "me", 60, now=1, break_if=alive)
    assert asked == ["dead"]
    assert stacks.acquire_lock("id-1", "me", 60, now=1, break_if=lambda owner: owner == "dead")
    assert stacks.get_stack("id-1").lock_owner == "me"


def test_lock_break_if_error_reaches_the_caller(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    assert stacks.acquire_lock("id-1", "other", 60, now=0)

    def broken(owner: str) -> bool:
        raise RuntimeError(f"cannot check {owner}")

    with pytest.raises(RuntimeError, match="cannot check other"):
        stacks.acquire_lock("id-1", "me", 60, now=1, break_if=broken)
    assert stacks.get_stack("id-1").lock_owner == "other"
    assert stacks.acquire_lock("id-1", "me", 60, now=61)  # the store still works


def test_renew_and_release(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    assert not stacks.renew_lock("id-1", "me", 10, now=0)  # nobody holds it
    assert stacks.acquire_lock("id-1", "me", 10, now=0)
    assert stacks.renew_lock("id-1", "me", 30, now=5)
    assert stacks.get_stack("id-1").lock_expires == 35
    assert not stacks.renew_lock("id-1", "you", 30, now=5)
    stacks.release_lock("id-1", "you")  # not the owner: nothing happens
    assert stacks.get_stack("id-1").lock_owner == "me"
    stacks.release_lock("id-1", "me")
    record = stacks.get_stack("id-1")
    assert (record.lock_owner, record.lock_expires) == (None, None)
    assert stacks.acquire_lock("id-1", "you", 10, now=6)


def test_lock_on_missing_stack(stacks: StackStore) -> None:
    with pytest.raises(StackNotFoundError):
        stacks.acquire_lock("nope", "me", 10, now=0)
    with pytest.raises(StackNotFoundError):
        stacks.renew_lock("nope", "me", 10, now=0)
    with pytest.raises(StackNotFoundError):
        stacks.release_lock("nope", "me")


def test_lock_is_exclusive_under_contention(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    winners: list[str] = []
    lock = threading.Lock()

    def contend(owner: str) -> None:
        if stacks.acquire_lock("id-1", owner, 60, now=0):
            with lock:
                winners.append(owner)

    threads = [threading.Thread(target=contend, args=(f"o{i}",)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert stacks.get_stack("id-1").lock_owner == winners[0]


# -- resources ------------------------------------------------------------------------------


def test_resources_upsert_order_and_delete(stacks: StackStore) -> None:
    stacks.put_resource(resource("B"))
    stacks.put_resource(resource("A"))
    stacks.put_resource(resource("X", stack_id="id-2"))
    stacks.put_resource(resource("B", status="UPDATE_COMPLETE", properties={"New": True}))
    found = stacks.list_resources("id-1")
    assert [r.logical_id for r in found] == ["B", "A"]
    assert found[0] == resource("B", status="UPDATE_COMPLETE", properties={"New": True})
    assert found[1] == resource("A")
    stacks.delete_resource("id-1", "B")
    stacks.delete_resource("id-1", "missing")
    assert [r.logical_id for r in stacks.list_resources("id-1")] == ["A"]
    assert [r.logical_id for r in stacks.list_resources("id-2")] == ["X"]
    assert stacks.list_resources("none") == []


# -- events ---------------------------------------------------------------------------------


def test_events_seq_per_stack_and_after(stacks: StackStore) -> None:
    added = stacks.add_events(
        [event("id-1", "A"), event("id-2", "X"), event("id-1", "B"), event("id-1", "C")]
    )
    assert [(e.stack_id, e.seq) for e in added] == [
        ("id-1", 1),
        ("id-2", 1),
        ("id-1", 2),
        ("id-1", 3),
    ]
    more = stacks.add_events([event("id-1", "D")])
    assert [e.seq for e in more] == [4]
    assert stacks.add_events([]) == []
    assert [e.status for e in stacks.list_events("id-1")] == ["A", "B", "C", "D"]
    assert [e.seq for e in stacks.list_events("id-1", after=2)] == [3, 4]
    assert [e.seq for e in stacks.list_events("id-1", after=1, limit=2)] == [2, 3]
    assert stacks.list_events("id-1", limit=0) == []
    assert stacks.list_events("id-1")[0] == replace(event("id-1", "A"), seq=1)
    assert [e.status for e in stacks.list_events("id-2")] == ["X"]


# -- change sets ----------------------------------------------------------------------------


def test_change_sets(stacks: StackStore) -> None:
    stacks.save_change_set(change_set("cs-2", created_at=6.0))
    stacks.save_change_set(change_set("cs-1", created_at=5.0))
    stacks.save_change_set(change_set("cs-3", stack_name="other"))
    assert stacks.get_change_set("cs-1") == change_set("cs-1", created_at=5.0)
    assert [c.change_set_id for c in stacks.list_change_sets("app")] == ["cs-1", "cs-2"]
    stacks.update_change_set_status("cs-1", "EXECUTE_COMPLETE")
    assert stacks.get_change_set("cs-1").status == "EXECUTE_COMPLETE"
    stacks.save_change_set(replace(change_set("cs-2"), status="OBSOLETE"))
    assert stacks.get_change_set("cs-2").status == "OBSOLETE"
    with pytest.raises(NotFoundError, match="cs-9"):
        stacks.get_change_set("cs-9")
    with pytest.raises(NotFoundError, match="cs-9"):
        stacks.update_change_set_status("cs-9", "X")
    assert stacks.list_change_sets("none") == []


# -- intents --------------------------------------------------------------------------------


def test_intents_upsert_and_order(stacks: StackStore) -> None:
    stacks.put_intent(intent(2))
    stacks.put_intent(intent(1))
    stacks.put_intent(intent(1, operation_id="op-2"))
    stacks.put_intent(intent(2, state="DONE"))
    found = stacks.list_intents("op-1")
    assert found == [intent(1), intent(2, state="DONE")]
    assert stacks.list_intents("op-2") == [intent(1, operation_id="op-2")]
    assert stacks.list_intents("none") == []


# -- exports and imports --------------------------------------------------------------------


def test_exports_replace_and_conflict(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    stacks.create_stack(stack("id-2", "other"))
    stacks.set_exports("id-1", {"VpcId": "vpc-1", "Cfg": {"a": [1]}})
    assert stacks.get_exports() == {"Cfg": ("id-1", {"a": [1]}), "VpcId": ("id-1", "vpc-1")}
    with pytest.raises(ConflictError) as caught:
        stacks.set_exports("id-2", {"Mine": 1, "VpcId": "vpc-2"})
    assert "VpcId" in str(caught.value)
    assert "app" in str(caught.value)
    assert "Mine" not in stacks.get_exports()  # nothing changed
    stacks.set_exports("id-1", {"VpcId": "vpc-9"})  # replaces: Cfg is gone
    assert stacks.get_exports() == {"VpcId": ("id-1", "vpc-9")}
    stacks.set_exports("id-1", {})
    assert stacks.get_exports() == {}
    stacks.set_exports("id-2", {"VpcId": "vpc-2"})
    assert stacks.get_exports() == {"VpcId": ("id-2", "vpc-2")}


def test_exports_of_a_deleted_stack_are_free(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    stacks.create_stack(stack("id-2", "other"))
    stacks.set_exports("id-1", {"VpcId": "vpc-1"})
    stacks.update_stack("id-1", deleted=True)
    assert stacks.get_exports() == {}
    stacks.set_exports("id-2", {"VpcId": "vpc-2"})
    assert stacks.get_exports() == {"VpcId": ("id-2", "vpc-2")}


def test_imports_and_importers(stacks: StackStore) -> None:
    stacks.create_stack(stack())
    stacks.create_stack(stack("id-2", "other"))
    stacks.create_stack(stack("id-3", "third"))
    stacks.set_imports("id-2", ["VpcId", "Cfg", "VpcId"])
    stacks.set_imports("id-3", iter(["VpcId"]))
    assert stacks.importers("VpcId") == ["id-2", "id-3"]
    assert stacks.importers("Cfg") == ["id-2"]
    stacks.set_imports("id-2", ["Cfg"])
    assert stacks.importers("VpcId") == ["id-3"]
    stacks.update_stack("id-3", deleted=True)
    assert stacks.importers("VpcId") == []
    stacks.set_imports("id-2", [])
    assert stacks.importers("Cfg") == []


# -- SQLite durability ----------------------------------------------------------------------


def test_sqlite_reopened_sees_everything(tmp_path: Path) -> None:
    db = tmp_path / "stacks.db"
    with SQLiteStore(db) as first:
        s = first.stacks
        s.create_stack(stack())
        s.create_stack(stack("id-0", "gone", deleted=True))
        s.update_stack("id-1", status="CREATE_COMPLETE", outputs={"O": {"Value": 1}})
        assert s.acquire_lock("id-1", "me", 60, now=100)
        s.put_resource(resource("B"))
        s.put_resource(resource("A"))
        s.add_events([event("id-1", "A"), event("id-1", "B")])
        s.save_change_set(change_set("cs-1"))
        s.put_intent(intent(1))
        s.set_exports("id-1", {"VpcId": "vpc-1"})
        s.set_imports("id-1", ["Other"])
        expected = s.get_stack("id-1")
    with SQLiteStore(db) as second:
        s = second.stacks
        assert 4 in second.schema_versions()
        assert s.get_stack("app") == expected
        assert expected.version == 2 and expected.lock_owner == "me"
        assert s.get_stack("id-0").deleted is True
        assert [r.logical_id for r in s.list_resources("id-1")] == ["B", "A"]
        assert [e.seq for e in s.list_events("id-1")] == [1, 2]
        assert s.add_events([event("id-1", "C")])[0].seq == 3
        assert s.get_change_set("cs-1") == change_set("cs-1")
        assert s.list_intents("op-1") == [intent(1)]
        assert s.get_exports() == {"VpcId": ("id-1", "vpc-1")}
        assert s.importers("Other") == ["id-1"]
        assert not s.acquire_lock("id-1", "you", 60, now=120)


def test_sqlite_two_stores_on_one_file_share_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with SQLiteStore(db) as one, SQLiteStore(db) as two:
        one.stacks.create_stack(stack())
        assert two.stacks.get_stack("app").stack_id == "id-1"
        assert one.stacks.acquire_lock("id-1", "p1", 60, now=0)
        assert not two.stacks.acquire_lock("id-1", "p2", 60, now=1)
        with pytest.raises(ConflictError):
            two.stacks.create_stack(stack("id-2"))


def test_check_update_fields_refuses_identity_fields() -> None:
    with pytest.raises(TypeError, match="stack_id"):
        check_update_fields({"stack_id": "x", "status": "OK"})
    check_update_fields({"status": "OK", "no_echo": frozenset(), "deleted": True})


def test_values_come_back_as_json_trees(stacks: StackStore) -> None:
    stacks.create_stack(stack(outputs={"T": {"Value": (1, 2)}}))
    updated = stacks.update_stack("id-1", no_echo={"Env"}, parameters={"Env": "x"})
    assert updated.no_echo == frozenset({"Env"})
    assert stacks.get_stack("app").no_echo == frozenset({"Env"})
    assert stacks.get_stack("app").outputs == {"T": {"Value": [1, 2]}}
    stacks.put_resource(resource("A", depends_on=("X", "Y")))  # type: ignore[arg-type]
    assert stacks.list_resources("id-1")[0].depends_on == ["X", "Y"]
