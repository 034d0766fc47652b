"""The pure reconcile decision: scaling, restarts and backoff, rollouts, rollback, deletion."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from stackflow.store.services import ServiceRecord
from stackflow.supervise.reconcile import (
    Action,
    Backoff,
    Decision,
    DeleteService,
    Forget,
    ReplicaView,
    Restart,
    Rollback,
    SetRollout,
    Start,
    Stop,
    decide,
    failure_threshold,
    should_restart,
)

NOW = 1000.0
COMPLETE = {"status": "COMPLETE", "revision": 1, "progress_at": 0.0, "available": 3}


def service(replicas: int = 3, revision: int = 1, **spec: Any) -> ServiceRecord:
    props: dict[str, Any] = {"Command": ["srv"]}
    props.update(spec)
    return ServiceRecord(
        name="app-web",
        stack_name="app",
        logical_id="web",
        spec=props,
        revision=revision,
        replicas=replicas,
        base_dir="/srv",
        created_at=0.0,
        updated_at=0.0,
        rollout={**COMPLETE, "revision": revision, "available": replicas, "desired": replicas},
    )


def ready(slot: int, revision: int = 1, *, since: float = 0.0, rid: str = "") -> ReplicaView:
    return ReplicaView(
        replica_id=rid or f"r{revision}-{slot}",
        slot=slot,
        revision=revision,
        state="READY",
        started_at=since,
        ready_since=since,
    )


def kinds(decision: Decision, kind: type) -> list[Any]:
    return [a for a in decision.actions if isinstance(a, kind)]


def starts(decision: Decision) -> list[tuple[int, int]]:
    return [(a.slot, a.revision) for a in kinds(decision, Start)]


def stopped(decision: Decision) -> list[str]:
    return [a.replica_id for a in kinds(decision, Stop)]


def apply_starts(
    replicas: list[ReplicaView], decision: Decision, *, at: float, state: str = "STARTING"
) -> list[ReplicaView]:
    """Simulate the controller starting what the decision asked for."""
    added = [
        ReplicaView(
            replica_id=f"r{a.revision}-{a.slot}",
            slot=a.slot,
            revision=a.revision,
            state=state,
            started_at=at,
            ready_since=at if state == "READY" else None,
        )
        for a in kinds(decision, Start)
    ]
    return replicas + added


# ---------------------------------------------------------------- scaling


def test_new_service_starts_every_slot_and_begins_a_rollout() -> None:
    record = replace(service(3), rollout={})
    decision = decide(record, [], NOW)
    assert starts(decision) == [(0, 1), (1, 1), (2, 1)]
    (rollout,) = kinds(decision, SetRollout)
    assert rollout.status == "PROGRESSING"
    assert rollout.rollout["revision"] == 1 and rollout.rollout["started_at"] == NOW
    assert decision.wake_at == NOW + 600.0  # the progress deadline


def test_steady_state_does_nothing() -> None:
    decision = decide(service(3), [ready(0), ready(1), ready(2)], NOW)
    assert decision.actions == []
    assert decision.ready_count == 3 and decision.available_count == 3
    assert decision.rollout_status == "COMPLETE"
    assert decision.wake_at is None


def test_scale_up_starts_missing_slots() -> None:
    decision = decide(service(5), [ready(0), ready(1), ready(2)], NOW)
    assert starts(decision) == [(3, 1), (4, 1)]
    assert stopped(decision) == []


def test_scale_down_stops_highest_slots_first() -> None:
    replicas = [ready(s) for s in range(5)]
    decision = decide(service(2), replicas, NOW)
    assert stopped(decision) == ["r1-4", "r1-3", "r1-2"]
    assert starts(decision) == []


def test_scale_down_forgets_dead_surplus_replicas() -> None:
    dead = ReplicaView("gone", 3, 1, "EXITED", started_at=0.0, last_exit_at=1.0)
    decision = decide(service(3), [ready(0), ready(1), ready(2), dead], NOW)
    assert kinds(decision, Forget) == [Forget("gone")]


def test_stopping_replicas_get_an_idempotent_stop_and_block_their_slot() -> None:
    stopping = ReplicaView("r1-1", 1, 1, "STOPPING", started_at=0.0)
    decision = decide(service(3), [ready(0), stopping, ready(2)], NOW)
    assert Stop("r1-1", "stopping") in decision.actions
    assert starts(decision) == []  # restarted in place once it exited


def test_duplicates_in_a_slot_keep_the_ready_one() -> None:
    starting = ReplicaView("dup", 0, 1, "STARTING", started_at=5.0)
    decision = decide(service(1), [starting, ready(0)], NOW)
    assert stopped(decision) == ["dup"]


# ---------------------------------------------------------------- restarts and backoff


@pytest.mark.parametrize(
    ("policy", "code", "expected"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 3, True),
        ("OnFailure", None, True),
        ("Never", 1, False),
        ("Never", None, False),
    ],
)
def test_should_restart(policy: str, code: int | None, expected: bool) -> None:
    assert should_restart(policy, code) is expected


def exited(code: int | None, *, ran: float, failures: int = 0, at: float = NOW) -> ReplicaView:
    return ReplicaView(
        "r1-0",
        0,
        1,
        "EXITED",
        started_at=at - ran,
        failures=failures,
        last_exit_code=code,
        last_exit_at=at,
    )


BACKOFF = {"InitialDelaySeconds": 0.5, "Factor": 2, "MaxDelaySeconds": 3, "Jitter": 0}


def test_quick_failures_back_off_geometrically_up_to_the_maximum() -> None:
    record = service(1, RestartBackoff={**BACKOFF, "ResetAfterSeconds": 10})
    delays = []
    for failures in range(6):
        decision = decide(record, [exited(1, ran=0.2, failures=failures)], NOW)
        (backoff,) = kinds(decision, Backoff)
        assert backoff.failures == failures + 1
        assert decision.wake_at == backoff.until
        delays.append(backoff.until - NOW)
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_uses_the_random_fraction() -> None:
    record = service(1, RestartBackoff={**BACKOFF, "Jitter": 0.5})
    low = kinds(decide(record, [exited(1, ran=0.1)], NOW, random_fraction=0.0), Backoff)[0]
    high = kinds(decide(record, [exited(1, ran=0.1)], NOW, random_fraction=0.99), Backoff)[0]
    assert low.until - NOW == pytest.approx(0.25)
    assert high.until - NOW == pytest.approx(0.745)


def test_a_stable_run_resets_the_count_and_restarts_at_once() -> None:
    record = service(1, RestartBackoff={**BACKOFF, "ResetAfterSeconds": 10})
    decision = decide(record, [exited(-9, ran=10.0, failures=4)], NOW)
    assert kinds(decision, Restart) == [Restart("r1-0", 0)]
    assert kinds(decision, Backoff) == []


def test_backoff_restarts_when_due() -> None:
    waiting = ReplicaView("r1-0", 0, 1, "BACKOFF", started_at=0.0, failures=2, next_start_at=NOW)
    assert kinds(decide(service(1), [waiting], NOW), Restart) == [Restart("r1-0", 2)]
    later = replace(waiting, next_start_at=NOW + 4)
    decision = decide(service(1), [later], NOW)
    assert kinds(decision, Restart) == [] and decision.wake_at == NOW + 4


def test_zero_initial_delay_restarts_at_once() -> None:
    record = service(1, RestartBackoff={"InitialDelaySeconds": 0, "Jitter": 0})
    decision = decide(record, [exited(1, ran=0.1, failures=2)], NOW)
    assert kinds(decision, Restart) == [Restart("r1-0", 3)]


@pytest.mark.parametrize(
    ("policy", "code", "restarts"),
    [("Never", 1, False), ("OnFailure", 0, False), ("OnFailure", 2, True), ("Always", 0, True)],
)
def test_restart_policy_decides(policy: str, code: int, restarts: bool) -> None:
    record = service(1, RestartPolicy=policy, RestartBackoff={"InitialDelaySeconds": 0})
    decision = decide(record, [exited(code, ran=1.0)], NOW)
    assert bool(kinds(decision, Restart)) is restarts
    assert starts(decision) == []  # the slot stays taken by the exited replica


def test_unhealthy_replica_is_stopped_then_restarted_in_place() -> None:
    sick = replace(ready(0), unhealthy="liveness probe failed: timed out")
    decision = decide(service(1), [sick], NOW)
    assert kinds(decision, Stop) == [Stop("r1-0", "liveness probe failed: timed out")]
    after = exited(-15, ran=500.0)
    assert kinds(decide(service(1), [after], NOW), Restart) == [Restart("r1-0", 0)]


# ---------------------------------------------------------------- rolling update


def rollout_service(revision: int = 2, **policy: Any) -> ServiceRecord:
    record = service(3, revision=revision, UpdatePolicy=policy) if policy else service(3, revision)
    return replace(
        record,
        previous_spec={"Command": ["old"]},
        previous_revision=revision - 1,
        rollout={"status": "PROGRESSING", "revision": revision, "progress_at": NOW, "available": 0},
    )


def test_rolling_update_with_surge_never_drops_below_desired() -> None:
    record = rollout_service(2)  # MaxSurge 1, MaxUnavailable 0
    replicas = [ready(0), ready(1), ready(2)]
    now = NOW
    for _ in range(20):
        decision = decide(record, replicas, now)
        running = [r for r in replicas if r.state in ("STARTING", "READY")]
        assert len(running) + len(kinds(decision, Start)) <= 4
        available = [r for r in replicas if r.state == "READY"]
        assert len(available) - len(kinds(decision, Stop)) >= 3
        stops = set(stopped(decision))
        replicas = [r for r in replicas if r.replica_id not in stops]
        replicas = apply_starts(replicas, decision, at=now)
        now += 1
        replicas = [
            replace(r, state="READY", ready_since=now) if r.state == "STARTING" else r
            for r in replicas
        ]
        if decision.actions == [] or decision.rollout_status == "COMPLETE":
            break
    assert sorted((r.slot, r.revision) for r in replicas) == [(0, 2), (1, 2), (2, 2)]
    assert decide(record, replicas, now).rollout_status == "COMPLETE"


def test_first_step_starts_one_surge_replica_and_stops_nothing() -> None:
    decision = decide(rollout_service(2), [ready(0), ready(1), ready(2)], NOW)
    assert starts(decision) == [(0, 2)]  # free ports: a new replica may share the slot
    assert stopped(decision) == []


def test_fixed_port_surge_uses_a_slot_above_the_desired_ones() -> None:
    record = replace(rollout_service(2), spec={"Command": ["srv"], "Port": 9000})
    decision = decide(record, [ready(0), ready(1), ready(2)], NOW)
    assert starts(decision) == [(3, 2)]
    # Once it is available an old one is stopped, then its slot gets a new replica.
    replicas = [ready(0), ready(1), ready(2), ready(3, revision=2)]
    decision = decide(record, replicas, NOW)
    assert stopped(decision) == ["r1-0"] and starts(decision) == []
    replicas = [ready(1), ready(2), ready(3, revision=2)]
    assert starts(decide(record, replicas, NOW)) == [(0, 2)]
    # At the end the surge replica is stopped.
    final = [ready(0, 2), ready(1, 2), ready(2, 2), ready(3, 2)]
    decision = decide(record, final, NOW)
    assert stopped(decision) == ["r2-3"]


def test_max_unavailable_stops_old_replicas_before_new_ones_are_ready() -> None:
    record = rollout_service(2, MaxSurge=0, MaxUnavailable=2)
    decision = decide(record, [ready(0), ready(1), ready(2)], NOW)
    assert len(stopped(decision)) == 2
    assert starts(decision) == []


def test_percent_surge() -> None:
    record = rollout_service(2, MaxSurge="50%")
    decision = decide(replace(record, replicas=4), [ready(s) for s in range(4)], NOW)
    assert len(starts(decision)) == 2


def test_min_ready_seconds_delays_availability() -> None:
    record = rollout_service(2, MinReadySeconds=5)
    replicas = [ready(0), ready(1), ready(2), ready(0, 2, since=NOW - 2)]
    decision = decide(record, replicas, NOW)
    assert stopped(decision) == []
    assert decision.wake_at == NOW - 2 + 5
    decision = decide(record, replicas, NOW + 3)
    assert stopped(decision) == ["r1-0"]


def test_outdated_unavailable_and_dead_replicas_go_first() -> None:
    dead = ReplicaView("old-dead", 1, 1, "BACKOFF", started_at=0.0, next_start_at=NOW + 9)
    starting = ReplicaView("old-starting", 2, 1, "STARTING", started_at=0.0)
    decision = decide(rollout_service(2), [ready(0), dead, starting], NOW)
    assert Forget("old-dead") in decision.actions
    assert "old-starting" in stopped(decision)
    assert "r1-0" not in stopped(decision)


def test_recreate_stops_everything_old_before_starting() -> None:
    record = rollout_service(2, Strategy="Recreate")
    decision = decide(record, [ready(0), ready(1), ready(2)], NOW)
    assert sorted(stopped(decision)) == ["r1-0", "r1-1", "r1-2"]
    assert starts(decision) == []
    going = [ReplicaView(f"r1-{s}", s, 1, "STOPPING", started_at=0.0) for s in range(3)]
    assert starts(decide(record, going, NOW)) == []
    assert starts(decide(record, [], NOW)) == [(0, 2), (1, 2), (2, 2)]


def test_progress_is_recorded_when_more_replicas_become_available() -> None:
    record = rollout_service(2)
    replicas = [ready(1), ready(2), ready(0, 2, since=NOW - 1), ready(3, 2, since=NOW - 1)]
    (update,) = kinds(decide(record, replicas, NOW + 5), SetRollout)
    assert update.rollout["available"] == 2 and update.rollout["progress_at"] == NOW + 5


def test_progress_deadline_rolls_back_to_the_previous_revision() -> None:
    record = rollout_service(2, ProgressDeadlineSeconds=30)
    crashing = ReplicaView(
        "new",
        0,
        2,
        "BACKOFF",
        started_at=NOW,
        last_exit_code=3,
        last_exit_at=NOW + 1,
        next_start_at=NOW + 100,
        probe_output="GET /health: connection refused",
    )
    replicas = [ready(0), ready(1), ready(2), crashing]
    assert decide(record, replicas, NOW + 29).rollout_status == "PROGRESSING"
    decision = decide(record, replicas, NOW + 30)
    (rollback,) = kinds(decision, Rollback)
    assert rollback.to_revision == 1
    assert "last exit code 3" in rollback.message and "connection refused" in rollback.message
    assert rollback.rollout["status"] == "ROLLED_BACK" and rollback.rollout["revision"] == 1
    assert decision.rollout_status == "ROLLED_BACK"
    # After the controller applied it, the old replicas are current and the new one goes.
    rolled = replace(
        record,
        spec={"Command": ["old"]},
        revision=1,
        previous_spec=record.spec,
        previous_revision=2,
        rollout=rollback.rollout,
    )
    after = decide(rolled, replicas, NOW + 31)
    assert Forget("new") in after.actions
    assert starts(after) == [] and after.rollout_status == "ROLLED_BACK"


def test_progress_deadline_without_previous_spec_fails() -> None:
    record = replace(
        rollout_service(1, ProgressDeadlineSeconds=10), previous_spec=None, previous_revision=None
    )
    crashing = ReplicaView("r1-0", 0, 1, "BACKOFF", started_at=NOW, next_start_at=NOW + 50)
    decision = decide(record, [crashing], NOW + 10)
    (failed,) = kinds(decision, SetRollout)
    assert failed.status == "FAILED" and "made no progress in 10s" in failed.message
    assert kinds(decision, Rollback) == []


@pytest.mark.parametrize(("desired", "threshold"), [(1, 3), (3, 3), (7, 4), (10, 5), (1000, 200)])
def test_failure_threshold_is_ecs_rule(desired: int, threshold: int) -> None:
    assert failure_threshold(desired) == threshold


def crash_looping(slot: int, failures: int) -> ReplicaView:
    return ReplicaView(
        f"new-{slot}",
        slot + 3,
        2,
        "BACKOFF",
        started_at=NOW,
        failures=failures,
        last_exit_code=3,
        last_exit_at=NOW + 1,
        next_start_at=NOW + 100,
    )


def test_circuit_breaker_rolls_back_a_crash_looping_revision_before_the_deadline() -> None:
    record = rollout_service(2)  # the default deadline is 600 s away
    old = [ready(0), ready(1), ready(2)]
    # Two quick failures in a row between the new replicas: below the threshold of 3.
    waiting = decide(record, [*old, crash_looping(0, 2)], NOW + 5)
    assert waiting.rollout_status == "PROGRESSING" and kinds(waiting, Rollback) == []
    decision = decide(record, [*old, crash_looping(0, 2), crash_looping(1, 1)], NOW + 5)
    (rollback,) = kinds(decision, Rollback)
    assert rollback.to_revision == 1
    assert "failed to start 3 times in a row (circuit breaker at 3" in rollback.message
    assert "last exit code 3" in rollback.message


def test_circuit_breaker_without_previous_spec_fails_the_rollout() -> None:
    record = replace(rollout_service(1), previous_spec=None, previous_revision=None)
    crashing = ReplicaView("r1-0", 0, 1, "BACKOFF", started_at=NOW, failures=3)
    (failed,) = kinds(decide(record, [crashing], NOW + 2), SetRollout)
    assert failed.status == "FAILED" and "circuit breaker" in failed.message


def test_auto_rollback_false_fails_instead() -> None:
    record = rollout_service(2, ProgressDeadlineSeconds=10, AutoRollback=False)
    decision = decide(record, [ready(0), ready(1), ready(2)], NOW + 11)
    assert [a.status for a in kinds(decision, SetRollout)] == ["FAILED"]


def test_rollout_completes_when_every_slot_is_new_and_available() -> None:
    record = rollout_service(2)
    decision = decide(record, [ready(0, 2), ready(1, 2), ready(2, 2)], NOW)
    (done,) = kinds(decision, SetRollout)
    assert done.status == "COMPLETE" and done.message == "3 of 3 replicas available"


# ---------------------------------------------------------------- rolling restart and delete


def test_rolling_restart_replaces_replicas_started_before_the_request() -> None:
    record = replace(service(3), restart_requested_at=NOW - 10)
    replicas = [ready(0, since=0.0), ready(1, since=0.0), ready(2, since=0.0)]
    decision = decide(record, replicas, NOW)
    (rollout,) = kinds(decision, SetRollout)
    assert rollout.message == "rolling restart of revision 1"
    record = replace(record, rollout=rollout.rollout)
    decision = decide(record, replicas, NOW)
    assert starts(decision) == [(0, 1)] and stopped(decision) == []
    fresh = ready(0, since=NOW, rid="fresh")
    decision = decide(record, [*replicas, fresh], NOW + 1)
    assert stopped(decision) == ["r1-0"]
    done = [ready(s, since=NOW, rid=f"n{s}") for s in range(3)]
    assert decide(record, done, NOW + 5).rollout_status == "COMPLETE"


def test_deleted_service_stops_then_forgets_everything_then_itself() -> None:
    record = replace(service(2), deleted=True)
    dead = ReplicaView("dead", 1, 1, "EXITED", started_at=0.0)
    decision = decide(record, [ready(0), dead], NOW)
    expected: list[Action] = [Stop("r1-0", "service deleted"), Forget("dead")]
    assert decision.actions == expected
    assert decide(record, [], NOW).actions == [DeleteService()]


def test_invalid_spec_raises_value_error() -> None:
    record = replace(service(1), spec={"Command": "not a list"})
    with pytest.raises(ValueError, match="Command"):
        decide(record, [], NOW)


def test_deleted_service_needs_no_valid_spec() -> None:
    record = replace(service(1), spec={"Command": 5}, deleted=True)
    assert decide(record, [ready(0)], NOW).actions == [Stop("r1-0", "service deleted")]
