"""Durable-execution parts of the Store protocol, run against MemoryStore and SQLiteStore.

Leases and fencing, incremental snapshots, requests, activity tasks, deployed workflows.
"""

from __future__ import annotations

import threading

import pytest

from stackflow.errors import ConflictError, LeaseLostError, NotFoundError
from stackflow.store import (
    ExecutionRecord,
    ExecutionUpdate,
    HistoryEvent,
    Store,
    Transition,
)
from stackflow.store.base import ActivityTask, Request, Snapshot


def record(
    execution_id: str,
    *,
    start_time: float = 100.0,
    status: str = "RUNNING",
    owner: str | None = None,
    lease_expires: float | None = None,
    parent_id: str | None = None,
    version: int | None = None,
) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=execution_id,
        name=f"name-{execution_id}",
        workflow="wf",
        definition='{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}',
        status=status,
        input={"id": execution_id},
        start_time=start_time,
        parent_id=parent_id,
        owner=owner,
        lease_expires=lease_expires,
        version=version,
    )


def event(i: int) -> HistoryEvent:
    return HistoryEvent(i, "PassStateEntered", 10.0 + i, i - 1, {"name": f"S{i}"})


def task(
    token: str, activity: str = "act", execution_id: str = "e1", created: float = 1.0
) -> ActivityTask:
    return ActivityTask(token, activity, execution_id, {"token": token}, created)


# ------------------------------------------------------------------------------------ records


def test_owner_lease_and_version_round_trip(store: Store) -> None:
    rec = record("e1", owner="w1", lease_expires=500.0, version=3)
    store.create_execution(rec)
    assert store.get_execution("e1") == rec
    assert store.find_execution("wf", "name-e1") == rec
    assert store.list_executions() == [rec]


# ------------------------------------------------------------------------------------ fencing


def test_transition_of_the_lease_holder_commits(store: Store) -> None:
    store.create_execution(record("e1", owner="me", lease_expires=500.0))
    store.append(Transition("e1", (event(1),), snapshot=b"h1", owner="me")).wait(10)
    assert [e.id for e in store.get_history("e1")] == [1]
    assert store.load_snapshot("e1") == Snapshot(b"h1")


def test_fenced_transition_writes_nothing_and_others_commit(store: Store) -> None:
    store.create_execution(record("e1", owner="other", lease_expires=500.0))
    store.create_execution(record("e2", owner="me", lease_expires=500.0))
    store.append(Transition("e1", (event(1),), snapshot=b"h1", frames={1: b"f1"})).wait(10)
    rid = store.add_request("e1", "stop", None, None, 1.0)
    fenced = [
        store.append(Transition("e1", (event(2),), snapshot=b"bad", frames={1: b"x"}, owner="me")),
        store.append(
            Transition(
                "e1",
                (event(3),),
                snapshot=b"bad2",
                removed_frames=(1,),
                owner="me",
                consumed_requests=(rid,),
                requests=(Request(0, "e2", "child_finished", "t", {"x": 1}),),
                activity_tasks=(task("tok"),),
                update=ExecutionUpdate("SUCCEEDED", output=1, stop_time=2.0),
            )
        ),
    ]
    good = store.append(Transition("e2", (event(1),), snapshot=b"ok", owner="me"))
    unfenced = store.append(Transition("e1", (event(2),)))  # no owner: no check
    for ticket in fenced:
        with pytest.raises(LeaseLostError):
            ticket.wait(10)
    good.wait(10)
    unfenced.wait(10)
    assert [e.id for e in store.get_history("e1")] == [1, 2]
    assert store.get_history("e1")[1] == event(2)
    assert store.load_snapshot("e1") == Snapshot(b"h1", {1: b"f1"})
    assert [r.id for r in store.pending_requests(["e1", "e2"])] == [rid]
    assert store.list_activities() == {}
    after = store.get_execution("e1")
    assert (after.status, after.owner) == ("RUNNING", "other")
    assert store.load_snapshot("e2") == Snapshot(b"ok")


def test_transition_of_an_unowned_execution_with_an_owner_is_fenced(store: Store) -> None:
    store.create_execution(record("e1"))
    with pytest.raises(LeaseLostError):
        store.append(Transition("e1", (event(1),), owner="me")).wait(10)
    assert store.get_history("e1") == []


# ------------------------------------------------------------------------------------ frames


def test_frames_are_upserted_and_removed_incrementally(store: Store) -> None:
    store.create_execution(record("e1"))
    store.append(Transition("e1", snapshot=b"h1", frames={1: b"a", 2: b"b", 3: b"c"})).wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"h1", {1: b"a", 2: b"b", 3: b"c"})
    store.append(Transition("e1", snapshot=b"h2", frames={2: b"b2"}, removed_frames=(1,))).wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"h2", {2: b"b2", 3: b"c"})
    store.append(Transition("e1", frames={4: b"d"}, removed_frames=(3, 99))).wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"h2", {2: b"b2", 4: b"d"})


def test_frame_delete_and_readd_apply_in_order(store: Store) -> None:
    store.create_execution(record("e1"))
    store.append(Transition("e1", snapshot=b"h", frames={1: b"a", 2: b"b"}))
    tickets = [
        store.append(Transition("e1", removed_frames=(1,))),
        store.append(Transition("e1", frames={1: b"a2"})),  # re-added after the delete
        store.append(Transition("e1", frames={2: b"b2"})),
        store.append(Transition("e1", removed_frames=(2,))),  # deleted after the upsert
        store.append(Transition("e1", frames={3: b"c"}, removed_frames=(3,))),  # removal wins
    ]
    for ticket in tickets:
        ticket.wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"h", {1: b"a2"})


def test_frames_without_a_header_are_no_snapshot(store: Store) -> None:
    store.create_execution(record("e1"))
    store.append(Transition("e1", frames={1: b"a"})).wait(10)
    assert store.load_snapshot("e1") is None
    store.append(Transition("e1", snapshot=lambda: b"h")).wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"h", {1: b"a"})


def test_frames_are_kept_when_the_execution_ends(store: Store) -> None:
    store.create_execution(record("e1"))
    store.append(
        Transition(
            "e1",
            snapshot=b"h",
            frames={7: b"f"},
            update=ExecutionUpdate("FAILED", error="E", stop_time=5.0),
        )
    ).wait(10)
    assert store.load_snapshot("e1") == Snapshot(b"h", {7: b"f"})


# ------------------------------------------------------------------------------------ claims


def test_claim_takes_free_running_executions_oldest_first(store: Store) -> None:
    store.create_execution(record("new", start_time=30.0))
    store.create_execution(record("old", start_time=10.0))
    store.create_execution(record("held", start_time=5.0, owner="x", lease_expires=200.0))
    store.create_execution(record("expired", start_time=20.0, owner="x", lease_expires=99.0))
    store.create_execution(record("no-lease", start_time=25.0, owner="x"))
    store.create_execution(record("done", start_time=1.0, status="SUCCEEDED"))
    store.create_execution(record("tie", start_time=30.0))  # same start as "new", created later
    claimed = store.claim_executions("me", now=100.0, lease_until=160.0, limit=3)
    assert [r.execution_id for r in claimed] == ["old", "expired", "no-lease"]
    assert all((r.owner, r.lease_expires) == ("me", 160.0) for r in claimed)
    assert store.get_execution("expired").owner == "me"
    assert store.get_execution("held").owner == "x"
    rest = store.claim_executions("you", now=100.0, lease_until=170.0, limit=10)
    assert [r.execution_id for r in rest] == ["new", "tie"]
    assert store.claim_executions("you", now=100.0, lease_until=170.0, limit=10) == []
    assert store.claim_executions("you", now=100.0, lease_until=170.0, limit=0) == []
    assert store.get_execution("done").owner is None


def test_lease_expiring_exactly_now_is_still_held(store: Store) -> None:
    store.create_execution(record("e1", owner="x", lease_expires=100.0))
    assert store.claim_executions("me", now=100.0, lease_until=200.0, limit=1) == []
    assert len(store.claim_executions("me", now=100.5, lease_until=200.0, limit=1)) == 1


def test_renew_is_lost_after_another_owner_claimed_the_expired_lease(store: Store) -> None:
    store.create_execution(record("a", start_time=1.0))
    store.create_execution(record("b", start_time=2.0))
    assert len(store.claim_executions("w1", now=0.0, lease_until=10.0, limit=2)) == 2
    assert store.renew_leases("w1", ["b", "a", "ghost"], lease_until=20.0) == ["b", "a"]
    assert store.get_execution("a").lease_expires == 20.0
    taken = store.claim_executions("w2", now=25.0, lease_until=40.0, limit=1)  # both expired
    assert [r.execution_id for r in taken] == ["a"]
    assert store.renew_leases("w1", ["a", "b"], lease_until=50.0) == ["b"]
    assert store.get_execution("a").owner == "w2"
    assert store.get_execution("a").lease_expires == 40.0
    with pytest.raises(LeaseLostError):
        store.append(Transition("a", (event(1),), owner="w1")).wait(10)
    store.append(Transition("a", (event(1),), owner="w2")).wait(10)


def test_release_clears_only_the_owners_leases(store: Store) -> None:
    store.create_execution(record("a", start_time=1.0))
    store.create_execution(record("b", start_time=2.0, owner="other", lease_expires=1e9))
    store.claim_executions("me", now=0.0, lease_until=10.0, limit=5)
    store.release_executions("me", ["a", "b", "ghost"])
    a, b = store.get_execution("a"), store.get_execution("b")
    assert (a.owner, a.lease_expires) == (None, None)
    assert (b.owner, b.lease_expires) == ("other", 1e9)
    assert [r.execution_id for r in store.claim_executions("me", 0.0, 10.0, 5)] == ["a"]


def test_ending_an_execution_clears_its_lease_and_renew_fails(store: Store) -> None:
    store.create_execution(record("e1"))
    store.claim_executions("me", now=0.0, lease_until=10.0, limit=1)
    store.append(
        Transition("e1", update=ExecutionUpdate("SUCCEEDED", output=1, stop_time=3.0), owner="me")
    ).wait(10)
    ended = store.get_execution("e1")
    assert (ended.status, ended.owner, ended.lease_expires) == ("SUCCEEDED", None, None)
    assert store.renew_leases("me", ["e1"], lease_until=20.0) == []


# ------------------------------------------------------------------------------------ requests


def test_request_lifecycle(store: Store) -> None:
    store.create_execution(record("e1"))
    store.create_execution(record("e2"))
    first = store.add_request("e1", "task_success", "tok-1", {"out": [1, "é"]}, 5.0)
    second = store.add_request("e2", "stop", None, None, 6.0)
    third = store.add_request("e1", "task_heartbeat", "tok-1", None, 7.0)
    assert first < second < third
    pending = store.pending_requests(["e1", "e2"])
    assert pending == [
        Request(first, "e1", "task_success", "tok-1", {"out": [1, "é"]}, 5.0),
        Request(second, "e2", "stop", None, None, 6.0),
        Request(third, "e1", "task_heartbeat", "tok-1", None, 7.0),
    ]
    assert [r.id for r in store.pending_requests(["e2"])] == [second]
    assert store.pending_requests([]) == []
    store.append(Transition("e1", (event(1),), consumed_requests=(first, third))).wait(10)
    assert [r.id for r in store.pending_requests(["e1", "e2"])] == [second]
    assert [e.id for e in store.get_history("e1")] == [1]


def test_add_request_for_an_unknown_execution_fails(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.add_request("ghost", "stop", None, None, 1.0)
    assert store.pending_requests(["ghost"]) == []


def test_transition_adds_requests_for_other_executions(store: Store) -> None:
    store.create_execution(record("parent"))
    store.create_execution(record("child", parent_id="parent"))
    store.append(
        Transition(
            "child",
            update=ExecutionUpdate("SUCCEEDED", output={"r": 1}, stop_time=9.0),
            requests=(Request(0, "parent", "child_finished", "child", {"status": "SUCCEEDED"}, 9),),
        )
    ).wait(10)
    (request,) = store.pending_requests(["parent"])
    assert request.id > 0
    assert (request.execution_id, request.kind, request.token) == (
        "parent",
        "child_finished",
        "child",
    )
    assert (request.payload, request.created) == ({"status": "SUCCEEDED"}, 9)


def test_requests_for_an_execution_that_ended_are_dropped(store: Store) -> None:
    store.create_execution(record("parent", status="SUCCEEDED"))
    store.create_execution(record("child", parent_id="parent"))
    store.append(
        Transition(
            "child",
            update=ExecutionUpdate("SUCCEEDED", output={"r": 1}, stop_time=9.0),
            requests=(Request(0, "parent", "child_finished", None, {"status": "SUCCEEDED"}, 9),),
        )
    ).wait(10)
    assert store.get_execution("child").status == "SUCCEEDED"
    assert store.pending_requests(["parent"]) == []


def test_ending_an_execution_drops_its_requests_and_activity_tasks(store: Store) -> None:
    store.create_execution(record("e1"))
    store.create_execution(record("e2"))
    store.add_request("e1", "stop", None, None, 1.0)
    keep = store.add_request("e2", "stop", None, None, 1.0)
    store.append(Transition("e1", activity_tasks=(task("t1"), task("t2", execution_id="e2")))).wait(
        10
    )
    store.append(Transition("e1", update=ExecutionUpdate("ABORTED", stop_time=2.0))).wait(10)
    assert [r.id for r in store.pending_requests(["e1", "e2"])] == [keep]
    assert store.list_activities() == {"act": 1}
    claimed = store.claim_activity_task("act", "w", 3.0)
    assert claimed is not None and claimed.token == "t2"


# ------------------------------------------------------------------------------------ activities


def test_activity_tasks_are_claimed_oldest_first_once(store: Store) -> None:
    store.create_execution(record("e1"))
    store.append(
        Transition(
            "e1",
            activity_tasks=(
                task("late", created=3.0),
                task("early", created=1.0),
                task("other", activity="b", created=0.5),
            ),
        )
    ).wait(10)
    assert store.list_activities() == {"act": 2, "b": 1}
    first = store.claim_activity_task("act", "w1", 10.0)
    assert first == ActivityTask("early", "act", "e1", {"token": "early"}, 1.0, "w1", 10.0)
    assert store.list_activities() == {"act": 1, "b": 1}
    second = store.claim_activity_task("act", "w2", 11.0)
    assert second is not None and (second.token, second.worker) == ("late", "w2")
    assert store.claim_activity_task("act", "w1", 12.0) is None
    assert store.claim_activity_task("nothing", "w1", 12.0) is None
    assert store.list_activities() == {"act": 0, "b": 1}
    store.append(Transition("e1", removed_activity_tasks=("early", "late", "ghost"))).wait(10)
    assert store.list_activities() == {"b": 1}


def test_duplicate_activity_token_conflicts_and_writes_nothing(store: Store) -> None:
    store.create_execution(record("e1"))
    store.append(Transition("e1", activity_tasks=(task("t1"),))).wait(10)
    with pytest.raises(ConflictError):
        store.append(Transition("e1", (event(1),), activity_tasks=(task("t1"),))).wait(10)
    assert store.get_history("e1") == []
    assert store.list_activities() == {"act": 1}


def test_concurrent_activity_claimers_get_distinct_tasks(store: Store) -> None:
    store.create_execution(record("e1"))
    tokens = [f"t{i:03d}" for i in range(60)]
    store.append(
        Transition(
            "e1", activity_tasks=tuple(task(t, created=float(i)) for i, t in enumerate(tokens))
        )
    ).wait(10)
    got: dict[str, list[str]] = {"w1": [], "w2": []}
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        start.wait(10)
        while (claimed := store.claim_activity_task("act", name, 1.0)) is not None:
            got[name].append(claimed.token)

    threads = [threading.Thread(target=worker, args=(name,)) for name in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(got["w1"] + got["w2"]) == tokens
    assert not set(got["w1"]) & set(got["w2"])
    assert got["w1"] == sorted(got["w1"]) and got["w2"] == sorted(got["w2"])
    assert store.list_activities() == {"act": 0}


# ------------------------------------------------------------------------------------ workflows


def test_workflow_versions(store: Store) -> None:
    v1 = store.deploy_workflow("order", '{"v":1}', 10.0)
    assert (v1.name, v1.version, v1.definition, v1.created) == ("order", 1, '{"v":1}', 10.0)
    assert store.deploy_workflow("order", '{"v":1}', 20.0) == v1  # unchanged: same version
    v2 = store.deploy_workflow("order", '{"v":2}', 30.0)
    assert v2.version == 2
    assert store.deploy_workflow("order", '{"v":1}', 40.0).version == 3  # differs from latest
    store.deploy_workflow("billing", "{}", 50.0)
    assert store.get_workflow("order").version == 3
    assert store.get_workflow("order", 2) == v2
    assert store.get_workflow("order", 1) == v1
    assert [(w.name, w.version) for w in store.list_workflows()] == [("billing", 1), ("order", 3)]


def test_delete_workflow_forgets_every_version(store: Store) -> None:
    store.deploy_workflow("order", '{"v":1}', 1.0)
    store.deploy_workflow("order", '{"v":2}', 2.0)
    store.deploy_workflow("billing", "{}", 3.0)
    assert store.delete_workflow("order") == 2
    assert store.delete_workflow("order") == 0
    with pytest.raises(NotFoundError):
        store.get_workflow("order")
    assert [w.name for w in store.list_workflows()] == ["billing"]
    assert store.deploy_workflow("order", '{"v":3}', 4.0).version == 1


def test_missing_workflow_errors_name_the_workflow_and_version(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.get_workflow("ghost")
    store.deploy_workflow("order", "{}", 1.0)
    with pytest.raises(NotFoundError, match=r"'order' has no version 7 \(the latest is 1\)"):
        store.get_workflow("order", 7)
    assert store.list_workflows()[0].name == "order"


def test_count_children_by_status(store: Store) -> None:
    store.create_execution(record("p"))
    for i in range(3):
        store.create_execution(record(f"c{i}", parent_id="p"))
    store.create_execution(record("other", parent_id="q"))
    store.append(Transition("c1", update=ExecutionUpdate("FAILED", error="E", stop_time=1.0)))
    store.flush()
    assert store.count_children("p") == {"RUNNING": 2, "FAILED": 1}
    assert store.count_children("q") == {"RUNNING": 1}
    assert store.count_children("none") == {}


def test_claim_one_execution(store: Store) -> None:
    store.create_execution(record("free"))
    store.create_execution(record("held", owner="x", lease_expires=200.0))
    store.create_execution(record("done", status="FAILED"))
    claimed = store.claim_execution("free", "me", now=100.0, lease_until=150.0)
    assert claimed is not None and (claimed.owner, claimed.lease_expires) == ("me", 150.0)
    assert store.claim_execution("free", "you", now=100.0, lease_until=150.0) is None
    again = store.claim_execution("free", "me", now=120.0, lease_until=180.0)  # own: extended
    assert again is not None and again.lease_expires == 180.0
    assert store.claim_execution("held", "me", now=100.0, lease_until=150.0) is None
    taken = store.claim_execution("held", "me", now=201.0, lease_until=250.0)
    assert taken is not None and taken.owner == "me"
    assert store.claim_execution("done", "me", now=100.0, lease_until=150.0) is None
    redrive = store.claim_execution("done", "me", now=100.0, lease_until=150.0, any_status=True)
    assert redrive is not None and (redrive.status, redrive.owner) == ("FAILED", "me")
    assert store.get_execution("done").owner == "me"
    with pytest.raises(NotFoundError):
        store.claim_execution("ghost", "me", now=100.0, lease_until=150.0)
