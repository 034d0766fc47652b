"""Tests of the ``Local::Service`` provider against the in-memory services store.

A heartbeat in the store stands in for a running ``stackflow server``, so the provider only writes
the desired state and watches replica records; the tests write those records as a controller
would. The in-process controller (no server) is covered by the last tests and the end-to-end ones.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stackflow.errors import ProviderError
from stackflow.providers import HandlerStatus, ProviderContext, ResourceRequest, default_registry
from stackflow.providers.service import (
    ATTRIBUTES,
    NO_SERVER_MESSAGE,
    SCHEMA,
    ServiceProvider,
    check_properties,
    desired_spec,
    service_attributes,
)
from stackflow.store.memory_services import MemoryServiceStore
from stackflow.store.services import ReplicaRecord

NAME = "demo-Web"
BASE = {"Command": ["python", "-m", "http.server"], "Replicas": 2}


@pytest.fixture
def store() -> MemoryServiceStore:
    services = MemoryServiceStore()
    services.heartbeat("server-1", time.time(), 3600)
    return services


@pytest.fixture
def ctx(tmp_path: Path, store: MemoryServiceStore) -> ProviderContext:
    messages: list[str] = []
    context = ProviderContext(report=messages.append, home=tmp_path / "home", services=store)
    context.messages = messages  # type: ignore[attr-defined]
    return context


@pytest.fixture
def req(make_request: Callable[..., ResourceRequest]) -> Callable[..., ResourceRequest]:
    def build(properties: dict[str, Any], **kwargs: Any) -> ResourceRequest:
        kwargs.setdefault("resource_type", "Local::Service")
        kwargs.setdefault("logical_id", "Web")
        return make_request(properties, **kwargs)

    return build


def again(request: ResourceRequest, event: Any) -> ResourceRequest:
    assert event.status == HandlerStatus.IN_PROGRESS, event.message
    return dataclasses.replace(request, callback_context=event.callback_context)


def replica(slot: int, revision: int, state: str = "READY", **fields: Any) -> ReplicaRecord:
    return ReplicaRecord(
        service=NAME,
        replica_id=f"r{slot}-{revision}",
        slot=slot,
        revision=revision,
        state=state,
        updated_at=time.time(),
        pid=fields.pop("pid", 1000 + slot),
        port=fields.pop("port", 9000 + slot),
        **fields,
    )


def complete(store: MemoryServiceStore, revision: int) -> None:
    store.update_service(NAME, rollout={"status": "COMPLETE", "revision": revision})


# ---------------------------------------------------------------------- schema and checks


def test_registered_under_its_type_with_attributes() -> None:
    provider = default_registry().get("Local::Service")
    assert isinstance(provider, ServiceProvider)
    assert provider.attribute_names() == ATTRIBUTES
    assert {"Name", "Ports", "Port", "Replicas", "LoadBalancerAddress"} <= ATTRIBUTES
    assert not provider.requires_replacement("Command", ["a"], ["b"])


def test_schema_reports_bad_properties_by_pointer() -> None:
    problems = SCHEMA.validate(
        {"Command": [], "Replicas": -1, "RestartPolicy": "Sometimes", "Bogus": 1},
        pointer="/Resources/Web/Properties",
    )
    pointers = {p.location.pointer for p in problems}
    assert "/Resources/Web/Properties/Command" in pointers
    assert "/Resources/Web/Properties/Replicas" in pointers
    assert "/Resources/Web/Properties/RestartPolicy" in pointers
    assert any("Bogus" in p.message for p in problems)
    assert not SCHEMA.validate(
        {**BASE, "UpdatePolicy": {"MaxSurge": "25%"}, "LoadBalancer": {"Port": 8000}},
        pointer="/P",
    )


@pytest.mark.parametrize(
    ("props", "fragment"),
    [
        ({"Probes": {"Readiness": {"httpGet": {"path": "x"}}}}, "Probes.Readiness"),
        ({"RestartBackoff": {"Factor": 0.5}}, "Factor"),
        ({"StopSignal": "NOPE"}, "StopSignal"),
        ({"Port": 65535, "Replicas": 3}, "Port"),
    ],
)
def test_check_properties_names_the_bad_key(props: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ProviderError) as caught:
        check_properties({**BASE, **props})
    assert fragment in caught.value.message
    assert caught.value.code == "InvalidRequest"


def test_desired_spec_drops_replicas_and_stringifies_command() -> None:
    assert desired_spec({"Command": ["sleep", 5], "Replicas": 3}) == {"Command": ["sleep", "5"]}


# ---------------------------------------------------------------------- create / update


def test_create_records_revision_one_and_waits_until_ready(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    provider = ServiceProvider()
    request = req({**BASE, "Port": 9000, "LoadBalancer": {"Port": 8999}})
    event = provider.create(request, ctx)
    record = store.get_service(NAME)
    assert (record.revision, record.replicas, record.stack_name) == (1, 2, "demo")
    assert "Replicas" not in record.spec
    assert record.rollout["status"] == "PROGRESSING"
    request = again(request, event)
    store.put_replica(replica(0, 1))
    event = provider.create(request, ctx)
    assert event.status == HandlerStatus.IN_PROGRESS
    assert "1/2 replicas ready" in event.message
    store.put_replica(replica(1, 1))
    complete(store, 1)
    store.update_service(NAME, load_balancer="127.0.0.1:8999")
    event = provider.create(again(request, event), ctx)
    assert event.status == HandlerStatus.SUCCESS, event.message
    assert event.physical_id == NAME
    assert event.attributes == {
        "Name": NAME,
        "Ports": [9000, 9001],
        "Port": 9000,
        "Replicas": 2,
        "LoadBalancerAddress": "127.0.0.1:8999",
        "LoadBalancerPort": 8999,
    }
    assert NO_SERVER_MESSAGE not in ctx.messages  # type: ignore[attr-defined]


def test_update_of_replicas_only_scales_without_new_revision(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    provider = ServiceProvider()
    provider.create(req(BASE), ctx)
    complete(store, 1)
    request = req({**BASE, "Replicas": 1}, physical_id=NAME, previous_properties=BASE)
    event = provider.update(request, ctx)
    record = store.get_service(NAME)
    assert (record.revision, record.replicas, record.previous_spec) == (1, 1, None)
    store.put_replica(replica(0, 1))
    store.put_replica(replica(1, 1, state="STOPPING"))
    event = provider.update(again(request, event), ctx)
    assert event.status == HandlerStatus.IN_PROGRESS  # the extra replica still runs
    store.delete_replica(NAME, "r1-1")
    event = provider.update(again(request, event), ctx)
    assert event.status == HandlerStatus.SUCCESS
    assert event.attributes["Ports"] == [9000]


def test_update_of_the_spec_is_a_new_revision_rolled_out(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    provider = ServiceProvider()
    provider.create(req(BASE), ctx)
    complete(store, 1)
    changed = {**BASE, "Environment": {"VERSION": "2"}}
    request = req(changed, physical_id=NAME, previous_properties=BASE)
    event = provider.update(request, ctx)
    record = store.get_service(NAME)
    assert record.revision == 2
    assert record.previous_revision == 1
    assert record.previous_spec == desired_spec(BASE)
    assert record.rollout == {**record.rollout, "status": "PROGRESSING", "revision": 2}
    # Old replicas ready, new not yet: waiting.
    for slot in (0, 1):
        store.put_replica(replica(slot, 1))
    event = provider.update(again(request, event), ctx)
    assert event.status == HandlerStatus.IN_PROGRESS
    for slot in (0, 1):
        store.delete_replica(NAME, f"r{slot}-1")
        store.put_replica(replica(slot, 2))
    event = provider.update(again(request, event), ctx)
    assert event.status == HandlerStatus.IN_PROGRESS  # rollout not COMPLETE yet
    complete(store, 2)
    event = provider.update(again(request, event), ctx)
    assert event.status == HandlerStatus.SUCCESS


def test_rolled_back_revision_fails_with_the_probe_output(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    provider = ServiceProvider()
    provider.create(req(BASE), ctx)
    complete(store, 1)
    request = req({**BASE, "Command": ["false"]}, physical_id=NAME, previous_properties=BASE)
    event = provider.update(request, ctx)
    store.put_replica(
        replica(2, 2, state="RUNNING", probe_output="HTTP 503: warming up", last_exit_code=None)
    )
    event = provider.update(again(request, event), ctx)
    old = store.get_service(NAME)
    store.update_service(
        NAME,
        spec=old.previous_spec,
        previous_spec=old.spec,
        revision=1,
        previous_revision=2,
        rollout={"status": "ROLLED_BACK", "revision": 2, "message": "progress deadline"},
    )
    store.delete_replica(NAME, "r2-2")
    event = provider.update(again(request, event), ctx)
    assert event.status == HandlerStatus.FAILED
    assert "rolled back to revision 1" in event.message
    assert "HTTP 503: warming up" in event.message
    assert "progress deadline" in event.message
    # The stack's rollback then applies the old properties: nothing new to roll out.
    back = req(BASE, physical_id=NAME, previous_properties={**BASE, "Command": ["false"]})
    for slot in (0, 1):
        store.put_replica(replica(slot, 1))
    event = provider.update(back, ctx)
    assert store.get_service(NAME).revision == 1
    event = provider.update(again(back, event), ctx)
    assert event.status == HandlerStatus.SUCCESS, event.message


def test_ready_timeout_fails_with_last_exit_code(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    provider = ServiceProvider()
    request = req({**BASE, "ReadyTimeoutSeconds": 5})
    event = provider.create(request, ctx)
    store.put_replica(replica(0, 1, state="BACKOFF", last_exit_code=3, pid=None))
    event = provider.create(again(request, event), ctx)
    assert event.status == HandlerStatus.IN_PROGRESS
    started = dict(event.callback_context, since=time.time() - 6)
    event = provider.create(dataclasses.replace(request, callback_context=started), ctx)
    assert event.status == HandlerStatus.FAILED
    assert "0/2 replicas" in event.message
    assert "exited with code 3" in event.message
    assert event.error_code == "NotStabilized"


def test_create_refuses_a_name_of_another_stack(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    ServiceProvider().create(req(BASE), ctx)
    store.update_service(NAME, stack_name="other")
    event = ServiceProvider().create(req(BASE), ctx)
    assert event.status == HandlerStatus.FAILED
    assert event.error_code == "AlreadyExists"


def test_bad_properties_raise_invalid_request(
    ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    with pytest.raises(ProviderError, match="RestartBackoff"):
        ServiceProvider().create(req({**BASE, "RestartBackoff": {"Jitter": 2}}), ctx)


def test_missing_store_is_an_internal_failure(req: Callable[..., ResourceRequest]) -> None:
    with pytest.raises(ProviderError) as caught:
        ServiceProvider().create(req(BASE), ProviderContext())
    assert caught.value.code == "InternalFailure"


# ---------------------------------------------------------------------- delete and read


def test_delete_marks_deleted_and_waits_until_the_record_is_gone(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    provider = ServiceProvider()
    provider.create(req(BASE), ctx)
    request = req(BASE, physical_id=NAME)
    event = provider.delete(request, ctx)
    assert store.get_service(NAME).deleted
    event = provider.delete(again(request, event), ctx)
    assert event.status == HandlerStatus.IN_PROGRESS
    store.delete_service(NAME)
    event = provider.delete(again(request, event), ctx)
    assert event.status == HandlerStatus.SUCCESS
    # Deleting what is gone succeeds.
    assert provider.delete(request, ctx).status == HandlerStatus.SUCCESS


def test_read_reports_fewer_ready_replicas_as_drift(
    store: MemoryServiceStore, ctx: ProviderContext, req: Callable[..., ResourceRequest]
) -> None:
    provider = ServiceProvider()
    provider.create(req(BASE), ctx)
    request = req(BASE, physical_id=NAME)
    store.put_replica(replica(0, 1))
    result = provider.read(request, ctx)
    assert result is not None
    assert result.properties == {**desired_spec(BASE), "Replicas": 1}
    store.put_replica(replica(1, 1))
    result = provider.read(request, ctx)
    assert result is not None and result.properties["Replicas"] == 2
    assert result.attributes["Ports"] == [9000, 9001]
    store.update_service(NAME, deleted=True)
    assert provider.read(request, ctx) is None


def test_attributes_without_fixed_port_follow_the_replicas() -> None:
    store = MemoryServiceStore()
    from stackflow.store.services import ServiceRecord

    record = ServiceRecord(NAME, "demo", "Web", {"Command": ["x"]}, 1, 2, "/", 0.0, 0.0)
    replicas = [replica(1, 1, port=4100), replica(0, 1, port=4200), replica(2, 0, port=1)]
    attributes = service_attributes(record, replicas)
    assert attributes["Ports"] == [4200, 4100]
    assert (attributes["LoadBalancerAddress"], attributes["LoadBalancerPort"]) == ("", 0)
    assert store.find_service(NAME) is None


# ---------------------------------------------------------------------- in-process controller


def test_without_a_server_the_provider_supervises_in_process(
    tmp_path: Path, req: Callable[..., ResourceRequest]
) -> None:
    store = MemoryServiceStore()
    messages: list[str] = []
    context = ProviderContext(report=messages.append, home=tmp_path / "home", services=store)
    provider = ServiceProvider()
    props = {
        "Command": [sys.executable, "-c", "import time; time.sleep(60)"],
        "Replicas": 2,
        "StopGracePeriodSeconds": 2,
    }
    request = req(props)
    event = provider.create(request, context)
    deadline = time.time() + 20
    while event.status == HandlerStatus.IN_PROGRESS and time.time() < deadline:
        event = provider.create(again(request, event), context)
        if event.status == HandlerStatus.IN_PROGRESS:
            time.sleep(0.05)
    assert event.status == HandlerStatus.SUCCESS, event.message
    assert NO_SERVER_MESSAGE in messages
    store_replicas = store.list_replicas(NAME)
    pids = [r.pid for r in store_replicas]
    assert len(pids) == 2 and all(pids)
    # Delete stops them (again in process) and forgets the service.
    request = req(props, physical_id=NAME)
    event = provider.delete(request, context)
    deadline = time.time() + 20
    while event.status == HandlerStatus.IN_PROGRESS and time.time() < deadline:
        time.sleep(0.05)
        event = provider.delete(again(request, event), context)
    assert event.status == HandlerStatus.SUCCESS, event.message
    assert store.find_service(NAME) is None
    import psutil

    assert not [pid for pid in pids if pid and psutil.pid_exists(pid) and _alive(pid)]


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_check_reports_spec_mistakes_at_their_pointer_before_apply() -> None:
    provider = ServiceProvider()
    pointer = "/Resources/Web/Properties"
    probe_typo = {**BASE, "Probes": {"Readiness": {"HttpGet": {"Pth": "/health"}}}}
    (problem,) = provider.check(probe_typo, pointer=pointer)
    assert problem.location.pointer == f"{pointer}/Probes/Readiness/HttpGet/Pth"
    assert "unknown property" in problem.message
    bad_surge = {**BASE, "UpdatePolicy": {"MaxSurge": "lots"}}
    (problem,) = provider.check(bad_surge, pointer=pointer)
    assert problem.location.pointer == f"{pointer}/UpdatePolicy/MaxSurge"
    assert provider.check(dict(BASE), pointer=pointer) == []


def test_check_leaves_values_known_only_after_apply_to_the_handler() -> None:
    from stackflow.template import KNOWN_AFTER_APPLY

    provider = ServiceProvider()
    typo = {"Readiness": {"HttpGet": {"Pth": "/health"}}}
    props = {**BASE, "Environment": {"DB": KNOWN_AFTER_APPLY}, "Probes": typo}
    assert provider.check(props, pointer="/p") == []  # the create handler reports it
    assert provider.check({**props, "Environment": {"DB": "x"}}, pointer="/p") != []
