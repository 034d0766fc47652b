"""The service store, against every backend (memory and SQLite)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stackflow.errors import ConflictError, NotFoundError, StoreError
from stackflow.store import SQLiteStore, Store
from stackflow.store.services import ReplicaRecord, ServiceRecord, next_revision


def service(name: str = "app-web", **fields: object) -> ServiceRecord:
    base = ServiceRecord(
        name=name,
        stack_name="app",
        logical_id="web",
        spec={"Command": ["python", "-m", "http.server"], "Environment": {"A": "1"}},
        revision=1,
        replicas=2,
        base_dir="/srv/app",
        created_at=100.0,
        updated_at=100.0,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def replica(replica_id: str, slot: int, **fields: object) -> ReplicaRecord:
    base = ReplicaRecord(
        service="app-web",
        replica_id=replica_id,
        slot=slot,
        revision=1,
        state="READY",
        updated_at=101.0,
        pid=4242,
        start_time=99.5,
        pgid=4242,
        port=8000 + slot,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_put_and_get_round_trip(store: Store) -> None:
    services = store.services
    stored = services.put_service(service(rollout={"status": "PROGRESSING", "revision": 1}))
    assert stored.version == 1
    got = services.get_service("app-web")
    assert got == stored
    assert got.spec == {"Command": ["python", "-m", "http.server"], "Environment": {"A": "1"}}
    assert got.rollout == {"status": "PROGRESSING", "revision": 1}
    assert got.previous_spec is None and got.deleted is False
    assert services.find_service("nope") is None
    with pytest.raises(NotFoundError, match="nope"):
        services.get_service("nope")


def test_put_replaces_bumps_version_and_keeps_lease(store: Store) -> None:
    services = store.services
    services.put_service(service())
    assert services.acquire_service_lease("app-web", "ctl-1", 10.0, 200.0)
    new_spec = {"Command": ["run", "v2"]}
    again = services.put_service(
        service(spec=new_spec, revision=2, previous_spec=service().spec, previous_revision=1)
    )
    assert again.version == 2
    assert again.spec == new_spec and again.revision == 2 and again.previous_revision == 1
    assert again.owner == "ctl-1" and again.lease_expires == 210.0


def test_reads_are_fresh_copies(store: Store) -> None:
    services = store.services
    services.put_service(service())
    got = services.get_service("app-web")
    got.spec["Command"].append("mutated")
    assert services.get_service("app-web").spec["Command"] == ["python", "-m", "http.server"]


def test_list_services_filters_stack_and_deleted(store: Store) -> None:
    services = store.services
    services.put_service(service("b-two", stack_name="b"))
    services.put_service(service("a-one", stack_name="a"))
    services.put_service(service("a-gone", stack_name="a", deleted=True))
    assert [s.name for s in services.list_services()] == ["a-one", "b-two"]
    assert [s.name for s in services.list_services(stack_name="a")] == ["a-one"]
    everything = services.list_services(include_deleted=True)
    assert [s.name for s in everything] == ["a-gone", "a-one", "b-two"]
    assert [s.deleted for s in everything] == [True, False, False]


def test_update_service_bumps_version_and_checks_it(store: Store) -> None:
    services = store.services
    services.put_service(service())
    updated = services.update_service("app-web", replicas=5, restart_requested_at=150.0)
    assert (updated.replicas, updated.restart_requested_at, updated.version) == (5, 150.0, 2)
    assert services.get_service("app-web") == updated
    with pytest.raises(ConflictError, match="version 2"):
        services.update_service("app-web", expected_version=1, replicas=1)
    assert services.update_service("app-web", expected_version=2, deleted=True).deleted
    with pytest.raises(TypeError, match="bogus"):
        services.update_service("app-web", bogus=1)
    with pytest.raises(TypeError, match="version"):
        services.update_service("app-web", version=9)
    with pytest.raises(NotFoundError):
        services.update_service("missing", replicas=1)


def test_replicas_put_list_delete(store: Store) -> None:
    services = store.services
    services.put_service(service())
    services.put_replica(replica("r-b", 1))
    services.put_replica(replica("r-a", 0, state="BACKOFF", next_start_at=120.5, failures=3))
    services.put_replica(replica("r-c", 1, revision=2, pid=None, start_time=None))
    listed = services.list_replicas("app-web")
    assert [(r.slot, r.replica_id) for r in listed] == [(0, "r-a"), (1, "r-b"), (1, "r-c")]
    assert listed[0] == replica("r-a", 0, state="BACKOFF", next_start_at=120.5, failures=3)
    services.put_replica(replica("r-b", 1, state="EXITED", last_exit_code=-9, pid=None))
    assert services.list_replicas("app-web")[1].last_exit_code == -9
    services.delete_replica("app-web", "r-b")
    services.delete_replica("app-web", "not-there")
    assert [r.replica_id for r in services.list_replicas("app-web")] == ["r-a", "r-c"]
    assert services.list_replicas("other") == []


def test_delete_service_removes_its_replicas(store: Store) -> None:
    services = store.services
    services.put_service(service())
    services.put_service(service("app-db"))
    services.put_replica(replica("r-a", 0))
    services.put_replica(replace(replica("r-d", 0), service="app-db"))
    services.delete_service("app-web")
    services.delete_service("app-web")  # no error when missing
    assert services.find_service("app-web") is None
    assert services.list_replicas("app-web") == []
    assert [r.replica_id for r in services.list_replicas("app-db")] == ["r-d"]


def test_lease_acquire_renew_expire_release(store: Store) -> None:
    services = store.services
    services.put_service(service())
    assert services.acquire_service_lease("app-web", "a", 10.0, 100.0)
    assert not services.acquire_service_lease("app-web", "b", 10.0, 105.0)
    assert services.acquire_service_lease("app-web", "a", 10.0, 105.0)  # renewal
    assert services.get_service("app-web").lease_expires == 115.0
    assert services.get_service("app-web").version == 1  # leases do not bump the version
    assert services.acquire_service_lease("app-web", "b", 10.0, 115.0)  # expired
    services.release_service_lease("app-web", "a")  # not the holder: no effect
    assert services.get_service("app-web").owner == "b"
    services.release_service_lease("app-web", "b")
    record = services.get_service("app-web")
    assert (record.owner, record.lease_expires) == (None, None)
    assert not services.acquire_service_lease("missing", "a", 10.0, 100.0)


def test_lease_break_if(store: Store) -> None:
    services = store.services
    services.put_service(service())
    assert services.acquire_service_lease("app-web", "dead", 10.0, 100.0)
    asked: list[str] = []

    def break_if(owner: str) -> bool:
        asked.append(owner)
        return owner == "dead"

    assert services.acquire_service_lease("app-web", "b", 10.0, 101.0, break_if=break_if)
    assert asked == ["dead"]
    assert not services.acquire_service_lease("app-web", "c", 10.0, 102.0, break_if=break_if)
    assert services.get_service("app-web").owner == "b"


def test_controllers_heartbeat(store: Store) -> None:
    services = store.services
    assert services.live_controllers(100.0) == []
    services.heartbeat("srv-b", 100.0, 15.0)
    services.heartbeat("srv-a", 100.0, 5.0)
    assert services.live_controllers(104.0) == ["srv-a", "srv-b"]
    assert services.live_controllers(106.0) == ["srv-b"]
    services.heartbeat("srv-a", 110.0, 5.0)
    assert services.live_controllers(112.0) == ["srv-a", "srv-b"]
    services.remove_controller("srv-b")
    services.remove_controller("unknown")
    assert services.live_controllers(112.0) == ["srv-a"]


def test_next_revision() -> None:
    assert next_revision(None) == 1
    assert next_revision(service(revision=3)) == 4
    rolled_back = service(revision=2, previous_revision=3)
    assert next_revision(rolled_back) == 4


def test_property_is_one_instance_and_closed_store_fails(store: Store) -> None:
    assert store.services is store.services
    services = store.services
    store.close()
    with pytest.raises(StoreError):
        services.list_services()


def test_sqlite_services_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as first:
        first.services.put_service(service())
        first.services.put_replica(replica("r-a", 0))
        first.services.heartbeat("srv", 100.0, 10.0)
    with SQLiteStore(path) as second:
        assert second.services.get_service("app-web").replicas == 2
        assert [r.replica_id for r in second.services.list_replicas("app-web")] == ["r-a"]
        assert second.services.live_controllers(105.0) == ["srv"]
