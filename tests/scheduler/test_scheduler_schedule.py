"""Fire times (with DST), catch-up policies, flexible windows and execution names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stackflow.scheduler.expressions import ExpressionError
from stackflow.scheduler.schedule import (
    MAX_RUNS_PER_PLAN,
    ScheduleSpec,
    due_runs,
    execution_name,
    flexible_offset,
    parse_instant,
    plan_runs,
    render_input,
)
from stackflow.scheduler.zones import utc_to_local


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local_times(spec: ScheduleSpec, after: datetime, until: datetime) -> list[datetime]:
    return [utc_to_local(t, spec.zone) for t in spec.fire_times(after, until)]


# --------------------------------------------------------------------------- DST


def test_new_york_spring_gap_skips_the_run() -> None:
    spec = ScheduleSpec("cron(30 2 * * ? *)", timezone="America/New_York")
    got = local_times(spec, utc(2026, 3, 7), utc(2026, 3, 10))
    # 2026-03-08 02:30 does not exist in New York: no run that day.
    assert got == [datetime(2026, 3, 7, 2, 30), datetime(2026, 3, 9, 2, 30)]


def test_new_york_fall_back_repeat_runs_once_at_the_first_occurrence() -> None:
    spec = ScheduleSpec("cron(0,30 1 * * ? *)", timezone="America/New_York")
    got = list(spec.fire_times(utc(2026, 11, 1, 4), utc(2026, 11, 1, 8)))
    # 01:00 and 01:30 happen twice on 2026-11-01; each runs once, in daylight time (-04:00).
    assert got == [utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30)]


def test_hourly_cron_across_the_new_york_fall_back() -> None:
    spec = ScheduleSpec("cron(0 * * * ? *)", timezone="America/New_York")
    got = list(spec.fire_times(utc(2026, 11, 1, 3, 30), utc(2026, 11, 1, 8)))
    # 00:00 EDT, 01:00 EDT, (01:00 EST is the repeat: skipped), 02:00 EST, 03:00 EST.
    assert got == [
        utc(2026, 11, 1, 4),
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 7),
        utc(2026, 11, 1, 8),
    ]


def test_berlin_spring_gap_and_fall_back_repeat() -> None:
    spec = ScheduleSpec("cron(15 2 * * ? *)", timezone="Europe/Berlin")
    spring = local_times(spec, utc(2026, 3, 28), utc(2026, 3, 31))
    assert spring == [datetime(2026, 3, 28, 2, 15), datetime(2026, 3, 30, 2, 15)]
    autumn = list(spec.fire_times(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)))
    # 2026-10-25 02:15 happens twice in Berlin: once, at 00:15Z (CEST).
    assert autumn == [utc(2026, 10, 25, 0, 15), utc(2026, 10, 26, 1, 15)]


def test_a_repeat_after_the_first_occurrence_is_not_fired_again() -> None:
    spec = ScheduleSpec("cron(30 1 * * ? *)", timezone="America/New_York")
    # Looking from 05:45Z (01:45 EDT, after the first 01:30): the second 01:30 (06:30Z) is skipped.
    got = list(spec.fire_times(utc(2026, 11, 1, 5, 45), utc(2026, 11, 3)))
    assert got == [utc(2026, 11, 2, 6, 30)]


def test_rate_counts_elapsed_time_and_ignores_dst() -> None:
    spec = ScheduleSpec("rate(1 day)", timezone="America/New_York", start_date=utc(2026, 3, 7, 12))
    assert spec.next_fire_times(utc(2026, 3, 7), 3) == [
        utc(2026, 3, 7, 12),
        utc(2026, 3, 8, 12),
        utc(2026, 3, 9, 12),
    ]


def test_rate_without_start_date_counts_from_creation() -> None:
    spec = ScheduleSpec("rate(5 minutes)", created_at=utc(2026, 1, 1, 0, 0, 10))
    assert spec.next_fire_times(utc(2026, 1, 1), 2) == [
        utc(2026, 1, 1, 0, 0, 10),
        utc(2026, 1, 1, 0, 5, 10),
    ]
    assert spec.next_fire_times(utc(2026, 1, 1, 0, 5, 10), 1) == [utc(2026, 1, 1, 0, 10, 10)]


def test_at_fires_once_in_its_zone_and_a_gap_time_never() -> None:
    spec = ScheduleSpec("at(2026-12-01T09:00:00)", timezone="Europe/Berlin")
    assert spec.next_fire_times(utc(2026, 1, 1), 5) == [utc(2026, 12, 1, 8)]
    assert spec.next_fire_times(utc(2026, 12, 1, 8), 5) == []
    gap = ScheduleSpec("at(2026-03-08T02:30:00)", timezone="America/New_York")
    assert gap.next_fire_times(utc(2026, 1, 1), 1) == []


def test_start_and_end_dates_bound_cron_and_rate() -> None:
    spec = ScheduleSpec(
        "cron(0 12 * * ? *)",
        start_date=utc(2026, 5, 2, 12),
        end_date=utc(2026, 5, 4, 12),
    )
    assert spec.next_fire_times(utc(2026, 5, 1), 5) == [utc(2026, 5, 2, 12), utc(2026, 5, 3, 12)]


def test_at_ignores_start_and_end_dates() -> None:
    spec = ScheduleSpec(
        "at(2026-06-01T00:00:00)", start_date=utc(2026, 7, 1), end_date=utc(2026, 8, 1)
    )
    assert spec.next_fire_times(utc(2026, 1, 1), 1) == [utc(2026, 6, 1)]


def test_spec_validation_names_the_attribute() -> None:
    with pytest.raises(ExpressionError) as caught:
        ScheduleSpec("rate(5 minutes)", catch_up="sometimes")
    assert caught.value.problems[0].location.pointer == "/catch_up"
    with pytest.raises(ExpressionError) as caught:
        ScheduleSpec("rate(5 minutes)", start_date=utc(2026, 2, 1), end_date=utc(2026, 1, 1))
    assert "end date must be after the start date" in caught.value.problems[0].message
    with pytest.raises(ExpressionError):
        ScheduleSpec("rate(5 minutes)", flexible_window_minutes=2000)
    with pytest.raises(ExpressionError):
        ScheduleSpec("rate(5 minutes)", state="PAUSED")


def test_json_round_trip() -> None:
    spec = ScheduleSpec(
        "cron(0 9 ? * MON *)",
        timezone="Europe/Berlin",
        start_date=utc(2026, 1, 1),
        flexible_window_minutes=10,
        catch_up="once",
        workflow="report",
        input={"a": [1, 2]},
        created_at=utc(2025, 12, 1, 8, 30, 15),
    )
    data = spec.to_json()
    assert data["start_date"] == "2026-01-01T00:00:00Z"
    assert ScheduleSpec.from_json(data) == spec


def test_parse_instant_zones() -> None:
    assert parse_instant("2026-01-01T10:00:00Z") == utc(2026, 1, 1, 10)
    assert parse_instant("2026-01-01T10:00:00+01:00") == utc(2026, 1, 1, 9)
    berlin = ScheduleSpec("rate(1 hour)", timezone="Europe/Berlin").zone
    assert parse_instant("2026-01-01T10:00:00", zone=berlin) == utc(2026, 1, 1, 9)
    with pytest.raises(ExpressionError, match="Invalid schedule"):
        parse_instant("yesterday")


# --------------------------------------------------------------------------- catch-up


HOURLY = "cron(0 * * * ? *)"


def test_on_time_fire_times_run_under_every_policy() -> None:
    for policy in ("skip", "once", "all"):
        spec = ScheduleSpec(HOURLY, catch_up=policy)
        now = utc(2026, 1, 1, 10, 0, 20)
        assert due_runs(spec, utc(2026, 1, 1, 9), now) == [utc(2026, 1, 1, 10)], policy


def test_missed_fire_times_follow_the_catch_up_policy() -> None:
    last = utc(2026, 1, 1, 6)  # the scheduler was down from 06:00 to 09:30
    now = utc(2026, 1, 1, 9, 30)
    assert due_runs(ScheduleSpec(HOURLY, catch_up="skip"), last, now) == []
    assert due_runs(ScheduleSpec(HOURLY, catch_up="once"), last, now) == [utc(2026, 1, 1, 9)]
    assert due_runs(ScheduleSpec(HOURLY, catch_up="all"), last, now) == [
        utc(2026, 1, 1, 7),
        utc(2026, 1, 1, 8),
        utc(2026, 1, 1, 9),
    ]
    plan = plan_runs(ScheduleSpec(HOURLY, catch_up="skip"), last, now)
    assert plan.watermark == utc(2026, 1, 1, 9)
    assert plan.skipped == 3
    assert plan.next_due == utc(2026, 1, 1, 10)


def test_once_does_not_double_an_on_time_run() -> None:
    # Down from 06:00 until just after 09:00: 09:00 is on time, 07:00 and 08:00 were missed.
    spec = ScheduleSpec(HOURLY, catch_up="once")
    assert due_runs(spec, utc(2026, 1, 1, 6), utc(2026, 1, 1, 9, 0, 30)) == [utc(2026, 1, 1, 9)]


def test_grace_decides_what_is_missed() -> None:
    spec = ScheduleSpec(HOURLY, catch_up="skip")
    now = utc(2026, 1, 1, 9, 3)
    assert due_runs(spec, utc(2026, 1, 1, 8), now) == []
    assert due_runs(spec, utc(2026, 1, 1, 8), now, grace=timedelta(minutes=5)) == [
        utc(2026, 1, 1, 9)
    ]


def test_a_new_schedule_counts_from_its_creation() -> None:
    spec = ScheduleSpec(HOURLY, catch_up="all")
    runs = due_runs(spec, None, utc(2026, 1, 1, 11, 30), since=utc(2026, 1, 1, 9, 30))
    assert runs == [utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)]
    # Without a creation time, only what is on time now.
    assert due_runs(spec, None, utc(2026, 1, 1, 11, 0, 30)) == [utc(2026, 1, 1, 11)]


def test_disabled_runs_nothing_but_moves_the_watermark() -> None:
    spec = ScheduleSpec(HOURLY, state="DISABLED", catch_up="all")
    plan = plan_runs(spec, utc(2026, 1, 1, 6), utc(2026, 1, 1, 9, 30))
    assert plan.runs == ()
    assert plan.watermark == utc(2026, 1, 1, 9)


def test_catch_up_all_is_capped_per_plan() -> None:
    spec = ScheduleSpec("rate(1 minute)", catch_up="all", start_date=utc(2026, 1, 1))
    now = utc(2026, 1, 3)
    plan = plan_runs(spec, utc(2026, 1, 1), now)
    assert len(plan.runs) == MAX_RUNS_PER_PLAN
    assert plan.watermark == plan.runs[-1]
    assert plan.next_due == now  # more is due at once


def test_nothing_due_keeps_the_watermark() -> None:
    spec = ScheduleSpec(HOURLY)
    plan = plan_runs(spec, utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 59))
    assert plan.runs == ()
    assert plan.watermark == utc(2026, 1, 1, 9)
    assert plan.next_due == utc(2026, 1, 1, 10)


# --------------------------------------------------------------------------- flexible window


def test_flexible_offset_is_deterministic_and_inside_the_window() -> None:
    offsets = {flexible_offset("nightly", utc(2026, 1, d), 15) for d in range(1, 29)}
    assert all(timedelta(0) <= o < timedelta(minutes=15) for o in offsets)
    assert len(offsets) > 5  # spread, not constant
    assert flexible_offset("nightly", utc(2026, 1, 1), 15) == flexible_offset(
        "nightly", utc(2026, 1, 1), 15
    )
    assert flexible_offset("nightly", utc(2026, 1, 1), 0) == timedelta(0)


def test_a_flexible_run_is_due_at_its_offset() -> None:
    spec = ScheduleSpec(HOURLY, flexible_window_minutes=30)
    fire = utc(2026, 1, 1, 10)
    start = fire + spec.start_offset("job", fire)
    assert due_runs(spec, utc(2026, 1, 1, 9), start - timedelta(seconds=1), name="job") == []
    assert due_runs(spec, utc(2026, 1, 1, 9), start, name="job") == [fire]
    plan = plan_runs(spec, utc(2026, 1, 1, 9), start - timedelta(seconds=1), name="job")
    assert plan.next_due == start


# --------------------------------------------------------------------------- names and input


def test_execution_names_are_deterministic_and_valid() -> None:
    assert execution_name("nightly", utc(2026, 12, 1, 9)) == "nightly-20261201T090000Z"
    long = "x" * 70
    name = execution_name(long, utc(2026, 12, 1, 9))
    assert len(name) <= 80
    assert name.endswith("-20261201T090000Z")
    assert name != execution_name("x" * 69, utc(2026, 12, 1, 9))
    with pytest.raises(ValueError):
        execution_name(".hidden", utc(2026, 1, 1))


def test_input_placeholders_are_filled_per_run() -> None:
    value = {"at": "<aws.scheduler.scheduled-time>", "ids": ["<aws.scheduler.execution-id>"]}
    rendered = render_input(value, "nightly", utc(2026, 12, 1, 9))
    assert rendered == {
        "at": "2026-12-01T09:00:00Z",
        "ids": ["nightly-20261201T090000Z"],
    }
    assert value["at"] == "<aws.scheduler.scheduled-time>"  # not changed in place
    assert render_input(None, "n", utc(2026, 1, 1)) == {}
