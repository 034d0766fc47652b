"""The scheduler service on a fake clock: ticks, catch-up, exactly-once, run loop, backfill."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stackflow.clock import FakeClock
from stackflow.engine import Engine
from stackflow.errors import ExecutionAlreadyExists, NotFoundError, StackflowError, StoreError
from stackflow.scheduler.schedule import ScheduleSpec, execution_name
from stackflow.scheduler.service import (
    FireFailure,
    SchedulerService,
    describe_schedule,
    engine_starter,
)
from stackflow.store import MemoryStore
from stackflow.store.schedules import ScheduleRecord, ScheduleStore

PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def put(
    schedules: ScheduleStore,
    name: str,
    expression: str,
    *,
    created: datetime,
    **spec: Any,
) -> None:
    spec.setdefault("workflow", "wf")
    body = ScheduleSpec(expression, created_at=created, **spec).to_json()
    at = created.timestamp()
    schedules.put_schedule(ScheduleRecord(name, body, "", "", None, at, at))


class Starter:
    """An engine_start that behaves like Engine.start: one execution per name."""

    def __init__(self) -> None:
        self.executions: dict[str, tuple[str, Any]] = {}
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, workflow: str, input: Any, name: str) -> str:
        with self.lock:
            self.calls.append(name)
            if name in self.executions:
                if self.executions[name][1] != input:
                    raise ExecutionAlreadyExists(name)
                return f"id-{name}"
            self.executions[name] = (workflow, input)
            return f"id-{name}"


@pytest.fixture
def memory() -> Iterator[MemoryStore]:
    store = MemoryStore()
    yield store
    store.close()


def test_each_fire_time_starts_once_as_the_clock_moves(memory: MemoryStore) -> None:
    clock = FakeClock(utc(2026, 1, 1, 8, 59).timestamp())
    starter = Starter()
    put(memory.schedules, "hourly", "cron(0 * * * ? *)", created=utc(2026, 1, 1, 8, 30))
    service = SchedulerService(memory, starter, clock)
    assert service.tick() == []
    assert service.next_wakeup() == utc(2026, 1, 1, 9).timestamp()
    clock.set(utc(2026, 1, 1, 9, 0, 1).timestamp())
    assert service.tick() == ["id-hourly-20260101T090000Z"]
    assert service.tick() == []  # the same tick again starts nothing
    clock.set(utc(2026, 1, 1, 10, 0, 0).timestamp())
    assert service.tick() == ["id-hourly-20260101T100000Z"]
    assert memory.schedules.get_schedule("hourly").last_fire_time == utc(2026, 1, 1, 10).timestamp()
    assert starter.calls == ["hourly-20260101T090000Z", "hourly-20260101T100000Z"]


def test_a_rate_schedule_fires_at_its_creation(memory: MemoryStore) -> None:
    # Created at 09:00:00.5 (a record keeps microseconds, the spec whole seconds).
    created = datetime(2026, 1, 1, 9, 0, 0, 500_000, tzinfo=UTC)
    body = ScheduleSpec("rate(1 minute)", created_at=created, workflow="wf").to_json()
    memory.schedules.put_schedule(
        ScheduleRecord("r", body, "", "", None, created.timestamp(), created.timestamp())
    )
    clock = FakeClock(utc(2026, 1, 1, 9, 0, 2).timestamp())
    starter = Starter()
    service = SchedulerService(memory, starter, clock)
    assert service.tick() == ["id-r-20260101T090000Z"]
    clock.set(utc(2026, 1, 1, 9, 1, 0).timestamp())
    assert service.tick() == ["id-r-20260101T090100Z"]


def test_input_and_target_reach_engine_start(memory: MemoryStore) -> None:
    starter = Starter()
    put(
        memory.schedules,
        "report",
        "at(2026-06-01T09:00:00)",
        created=utc(2026, 1, 1),
        timezone="Europe/Berlin",
        workflow="reports:2",
        input={"when": "<aws.scheduler.scheduled-time>"},
    )
    service = SchedulerService(memory, starter, FakeClock())
    service.tick(utc(2026, 6, 1, 7, 0, 5))
    assert starter.executions == {
        "report-20260601T070000Z": ("reports:2", {"when": "2026-06-01T07:00:00Z"})
    }
    assert service.next_wakeup() is None  # an at() schedule is done


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", []),
        ("once", ["hourly-20260101T120000Z"]),
        (
            "all",
            [
                "hourly-20260101T100000Z",
                "hourly-20260101T110000Z",
                "hourly-20260101T120000Z",
            ],
        ),
    ],
)
def test_catch_up_after_the_server_was_down(
    memory: MemoryStore, policy: str, expected: list[str]
) -> None:
    starter = Starter()
    put(
        memory.schedules,
        "hourly",
        "cron(0 * * * ? *)",
        created=utc(2026, 1, 1, 8, 30),
        catch_up=policy,
    )
    service = SchedulerService(memory, starter, FakeClock())
    service.tick(utc(2026, 1, 1, 9, 0, 1))
    assert starter.calls == ["hourly-20260101T090000Z"]
    starter.calls.clear()
    # Down from 09:00:01 to 12:30: 10:00, 11:00 and 12:00 were missed.
    service.tick(utc(2026, 1, 1, 12, 30))
    assert starter.calls == expected
    assert memory.schedules.get_schedule("hourly").last_fire_time == utc(2026, 1, 1, 12).timestamp()
    starter.calls.clear()
    service.tick(utc(2026, 1, 1, 13, 0, 2))
    assert starter.calls == ["hourly-20260101T130000Z"]


def test_a_disabled_schedule_runs_nothing_and_owes_nothing(memory: MemoryStore) -> None:
    starter = Starter()
    put(
        memory.schedules,
        "off",
        "rate(10 minutes)",
        created=utc(2026, 1, 1),
        state="DISABLED",
        catch_up="all",
    )
    service = SchedulerService(memory, starter, FakeClock())
    service.tick(utc(2026, 1, 1, 1))
    assert starter.calls == []
    assert memory.schedules.get_schedule("off").last_fire_time == utc(2026, 1, 1, 1).timestamp()


def test_a_failing_target_is_reported_and_does_not_wedge_the_schedule(
    memory: MemoryStore,
) -> None:
    failures: list[FireFailure] = []

    def missing(workflow: str, input: Any, name: str) -> str:
        raise NotFoundError(f"workflow {workflow!r} does not exist")

    put(memory.schedules, "broken", "rate(1 minute)", created=utc(2026, 1, 1))
    service = SchedulerService(memory, missing, FakeClock(), on_failure=failures.append)
    assert service.tick(utc(2026, 1, 1, 0, 0, 1)) == []
    assert [f.fire_time for f in failures] == [utc(2026, 1, 1)]
    assert "does not exist" in failures[0].error and not failures[0].transient
    assert memory.schedules.get_schedule("broken").last_fire_time == utc(2026, 1, 1).timestamp()


def test_a_transient_store_error_is_retried(memory: MemoryStore) -> None:
    attempts: list[str] = []

    def flaky(workflow: str, input: Any, name: str) -> str:
        attempts.append(name)
        if len(attempts) == 1:
            raise StoreError("database is locked")
        return f"id-{name}"

    put(memory.schedules, "flaky", "rate(1 minute)", created=utc(2026, 1, 1))
    service = SchedulerService(memory, flaky, FakeClock())
    assert service.tick(utc(2026, 1, 1, 0, 0, 1)) == []
    assert memory.schedules.get_schedule("flaky").last_fire_time is None
    assert service.failures[-1].transient
    assert service.tick(utc(2026, 1, 1, 0, 0, 2)) == ["id-flaky-20260101T000000Z"]
    assert attempts == ["flaky-20260101T000000Z"] * 2


def test_an_invalid_stored_spec_is_reported(memory: MemoryStore) -> None:
    memory.schedules.put_schedule(
        ScheduleRecord("bad", {"expression": "cron(nope)"}, "", "", None, 0.0, 0.0)
    )
    service = SchedulerService(memory, Starter(), FakeClock())
    assert service.tick(utc(2026, 1, 1)) == []
    assert service.failures[-1].schedule == "bad"
    assert "invalid schedule" in service.failures[-1].error


# --------------------------------------------------------------------------- exactly once


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    with Engine.open(path) as engine:
        engine.deploy(PASS, "wf")
    return path


def executions(home: Path) -> list[str]:
    with Engine.open(home) as engine:
        return sorted(r.name for r in engine.store.list_executions(workflow="wf", limit=1000))


class CrashingAdvance(ScheduleStore):
    """A schedule store whose advance 'crashes' (raises) after the execution started."""

    def __init__(self, inner: ScheduleStore) -> None:
        self.inner = inner

    def put_schedule(self, record: ScheduleRecord) -> ScheduleRecord:
        return self.inner.put_schedule(record)

    def get_schedule(self, name: str) -> ScheduleRecord:
        return self.inner.get_schedule(name)

    def find_schedule(self, name: str) -> ScheduleRecord | None:
        return self.inner.find_schedule(name)

    def list_schedules(self, *, stack_name: str | None = None) -> list[ScheduleRecord]:
        return self.inner.list_schedules(stack_name=stack_name)

    def delete_schedule(self, name: str) -> None:
        self.inner.delete_schedule(name)

    def advance(self, name: str, expected_last: float | None, new_last: float) -> bool:
        raise KeyboardInterrupt("crash between start and advance")


def test_exactly_once_across_a_crash_and_restart(home: Path) -> None:
    first = Engine.open(home)
    put(first.store.schedules, "every5", "rate(5 minutes)", created=utc(2026, 1, 1))
    crashing = SchedulerService(
        CrashingAdvance(first.store.schedules), engine_starter(first, drive=False), FakeClock()
    )
    with pytest.raises(KeyboardInterrupt):
        crashing.tick(utc(2026, 1, 1, 0, 0, 5))
    first.close()
    assert executions(home) == ["every5-20260101T000000Z"]
    assert_watermark(home, "every5", None)  # the crash came before the watermark moved

    # The restarted server starts the same fire time again: the execution exists, once.
    with Engine.open(home) as second:
        service = SchedulerService(second.store, engine_starter(second, drive=False), FakeClock())
        ids = service.tick(utc(2026, 1, 1, 0, 0, 30))
        existing = second.store.find_execution("wf", "every5-20260101T000000Z")
        assert existing is not None and ids == [existing.execution_id]
        assert len(service.tick(utc(2026, 1, 1, 0, 5, 5))) == 1
    assert executions(home) == ["every5-20260101T000000Z", "every5-20260101T000500Z"]
    assert_watermark(home, "every5", utc(2026, 1, 1, 0, 5))


def assert_watermark(home: Path, name: str, expected: datetime | None) -> None:
    with Engine.open(home) as engine:
        last = engine.store.schedules.get_schedule(name).last_fire_time
    assert last == (None if expected is None else expected.timestamp())


def test_two_servers_on_one_store_start_each_fire_time_once(home: Path) -> None:
    engines = [Engine.open(home), Engine.open(home)]
    try:
        put(
            engines[0].store.schedules,
            "minutely",
            "rate(1 minute)",
            created=utc(2026, 1, 1),
            catch_up="all",
        )
        services = [
            SchedulerService(e.store, engine_starter(e, drive=False), FakeClock()) for e in engines
        ]
        for minute in range(0, 30, 3):  # both tick at the same instants, concurrently
            now = utc(2026, 1, 1, 0, minute, 1)
            barrier = threading.Barrier(2)

            def tick(
                service: SchedulerService, at: datetime = now, gate: threading.Barrier = barrier
            ) -> None:
                gate.wait()
                service.tick(at)

            threads = [threading.Thread(target=tick, args=(s,)) for s in services]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    finally:
        for engine in engines:
            engine.close()
    expected = sorted(execution_name("minutely", utc(2026, 1, 1, 0, m)) for m in range(28))
    assert executions(home) == expected


# --------------------------------------------------------------------------- run loop


def test_run_sleeps_on_the_clock_until_each_due_time(memory: MemoryStore) -> None:
    clock = FakeClock(utc(2026, 1, 1).timestamp())
    starter = Starter()
    put(
        memory.schedules,
        "tenmin",
        "rate(10 minutes)",
        created=utc(2026, 1, 1),
        end_date=utc(2026, 1, 1, 1),
    )
    service = SchedulerService(memory, starter, clock, poll_interval=3600)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 10
    while len(starter.calls) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    service.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert starter.calls == [
        execution_name("tenmin", utc(2026, 1, 1, 0, m)) for m in range(0, 60, 10)
    ]
    assert stop.is_set()


def test_wake_ends_a_sleep(memory: MemoryStore) -> None:
    class Recording(FakeClock):
        def __init__(self) -> None:
            super().__init__(utc(2026, 1, 1).timestamp())
            self.sleeps = 0
            self.slept = threading.Event()

        def sleep_until(self, deadline: float, wake: threading.Event) -> None:
            self.sleeps += 1
            self.slept.set()
            wake.wait(10)  # a real wait, ended by wake()

    clock = Recording()
    service = SchedulerService(memory, Starter(), clock)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    assert clock.slept.wait(10)
    service.stop()
    thread.join(10)
    assert not thread.is_alive() and clock.sleeps == 1


# --------------------------------------------------------------------------- backfill


def test_backfill_starts_the_past_range_once(memory: MemoryStore) -> None:
    starter = Starter()
    put(memory.schedules, "daily", "cron(0 6 * * ? *)", created=utc(2026, 2, 1))
    service = SchedulerService(memory, starter, FakeClock(utc(2026, 2, 10).timestamp()))
    runs = service.backfill("daily", utc(2026, 1, 1, 6), utc(2026, 1, 3, 6))
    assert [r.execution_name for r in runs] == [
        "daily-20260101T060000Z",
        "daily-20260102T060000Z",
        "daily-20260103T060000Z",
    ]
    assert all(r.execution_id for r in runs)
    again = service.backfill("daily", utc(2026, 1, 2), utc(2026, 1, 2, 23))
    assert [r.execution_id for r in again] == [runs[1].execution_id]
    assert len(starter.executions) == 3
    assert memory.schedules.get_schedule("daily").last_fire_time is None  # untouched


def test_backfill_refuses_the_future_and_huge_ranges(memory: MemoryStore) -> None:
    put(memory.schedules, "minutely", "rate(1 minute)", created=utc(2026, 1, 1))
    service = SchedulerService(memory, Starter(), FakeClock(utc(2026, 1, 2).timestamp()))
    with pytest.raises(StackflowError, match="must lie in the past"):
        service.backfill("minutely", utc(2026, 1, 1), utc(2026, 1, 3))
    with pytest.raises(StackflowError, match="more than 1000 fire times"):
        service.backfill("minutely", utc(2026, 1, 1), utc(2026, 1, 1, 23))
    with pytest.raises(StackflowError, match="ends"):
        service.backfill("minutely", utc(2026, 1, 1, 2), utc(2026, 1, 1, 1))
    with pytest.raises(NotFoundError):
        service.backfill("nope", utc(2026, 1, 1), utc(2026, 1, 1, 1))


def test_describe_schedule_lists_next_fire_times_in_the_zone(memory: MemoryStore) -> None:
    put(
        memory.schedules,
        "berlin",
        "cron(0 9 ? * MON *)",
        created=utc(2026, 1, 1),
        timezone="Europe/Berlin",
    )
    record = memory.schedules.get_schedule("berlin")
    data = describe_schedule(record, utc(2026, 3, 25).timestamp(), count=2)
    assert data["next_fire_times"] == [
        {"utc": "2026-03-30T07:00:00Z", "local": "2026-03-30T09:00:00+02:00"},
        {"utc": "2026-04-06T07:00:00Z", "local": "2026-04-06T09:00:00+02:00"},
    ]
    assert data["created_at"] == "2026-01-01T00:00:00Z"
    assert (data["expression"], data["timezone"], data["state"]) == (
        "cron(0 9 ? * MON *)",
        "Europe/Berlin",
        "ENABLED",
    )
