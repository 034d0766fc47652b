"""Parsing schedule expressions and enumerating cron wall-clock times."""

from __future__ import annotations

from datetime import datetime

import pytest

from stackflow.scheduler.expressions import (
    AtExpression,
    CronExpression,
    ExpressionError,
    RateExpression,
    parse_expression,
)


def walls(text: str, start: datetime, n: int) -> list[datetime]:
    expression = parse_expression(text)
    assert isinstance(expression, CronExpression)
    found = []
    for wall in expression.walls(start):
        found.append(wall)
        if len(found) == n:
            break
    return found


def test_aws_cron_every_weekday_morning() -> None:
    got = walls("cron(0 9 ? * MON-FRI *)", datetime(2026, 1, 2, 10, 0), 3)  # a Friday
    assert got == [datetime(2026, 1, 5, 9), datetime(2026, 1, 6, 9), datetime(2026, 1, 7, 9)]


def test_aws_day_of_week_counts_from_sunday_as_1() -> None:
    assert walls("cron(0 0 ? * 1 *)", datetime(2026, 1, 1), 1) == [datetime(2026, 1, 4)]
    assert walls("cron(0 0 ? * 7 *)", datetime(2026, 1, 1), 1) == [datetime(2026, 1, 3)]


def test_classic_day_of_week_0_and_7_are_sunday() -> None:
    assert walls("0 0 * * 0", datetime(2026, 1, 1), 1) == [datetime(2026, 1, 4)]
    assert walls("0 0 * * 7", datetime(2026, 1, 1), 1) == [datetime(2026, 1, 4)]


def test_last_day_of_month_L() -> None:
    got = walls("cron(30 23 L * ? *)", datetime(2028, 1, 1), 3)
    assert got == [
        datetime(2028, 1, 31, 23, 30),
        datetime(2028, 2, 29, 23, 30),  # leap year
        datetime(2028, 3, 31, 23, 30),
    ]


def test_L_minus_offset_and_last_weekday_LW() -> None:
    assert walls("cron(0 0 L-2 * ? *)", datetime(2026, 2, 1), 1) == [datetime(2026, 2, 26)]
    # May 2026 ends on a Sunday: its last weekday is Friday the 29th.
    assert walls("cron(0 0 LW 5 ? *)", datetime(2026, 1, 1), 1) == [datetime(2026, 5, 29)]


def test_last_friday_of_the_month_nL() -> None:
    got = walls("cron(0 17 ? * 6L *)", datetime(2026, 1, 1), 3)
    assert got == [datetime(2026, 1, 30, 17), datetime(2026, 2, 27, 17), datetime(2026, 3, 27, 17)]


def test_nth_weekday_hash() -> None:
    # The second Tuesday (3#2) of each month.
    got = walls("cron(0 12 ? * 3#2 *)", datetime(2026, 1, 1), 3)
    assert got == [datetime(2026, 1, 13, 12), datetime(2026, 2, 10, 12), datetime(2026, 3, 10, 12)]
    # A fifth Monday exists only in some months.
    fifth = walls("cron(0 0 ? * MON#5 *)", datetime(2026, 1, 1), 2)
    assert fifth == [datetime(2026, 3, 30), datetime(2026, 6, 29)]


def test_nearest_weekday_W_stays_in_the_month() -> None:
    # 2026-08-01 is a Saturday: 1W is Monday the 3rd, not Friday July 31st.
    assert walls("cron(0 0 1W 8 ? 2026)", datetime(2026, 1, 1), 1) == [datetime(2026, 8, 3)]
    # 2026-05-31 is a Sunday: 31W is Friday the 29th.
    assert walls("cron(0 0 31W 5 ? 2026)", datetime(2026, 1, 1), 1) == [datetime(2026, 5, 29)]
    # 2026-03-15 is a Sunday: 15W is Monday the 16th.
    assert walls("cron(0 0 15W 3 ? 2026)", datetime(2026, 1, 1), 1) == [datetime(2026, 3, 16)]


def test_ranges_lists_steps_and_names() -> None:
    expression = parse_expression("cron(0/15 8-10,14 ? JAN,JUL MON *)")
    assert isinstance(expression, CronExpression)
    assert expression.minutes == (0, 15, 30, 45)
    assert expression.hours == (8, 9, 10, 14)
    assert expression.months == frozenset({1, 7})
    classic = parse_expression("*/20 1-5/2 * * *")
    assert isinstance(classic, CronExpression)
    assert classic.minutes == (0, 20, 40)
    assert classic.hours == (1, 3, 5)


def test_year_field_limits_the_years() -> None:
    assert walls("cron(0 0 1 1 ? 2027-2028)", datetime(2020, 1, 1), 5) == [
        datetime(2027, 1, 1),
        datetime(2028, 1, 1),
    ]


def test_classic_cron_matches_either_restricted_day_field() -> None:
    # Vixie cron: the 13th of the month OR any Friday.
    got = walls("0 0 13 * 5", datetime(2026, 2, 1), 4)
    assert got == [
        datetime(2026, 2, 6),
        datetime(2026, 2, 13),  # a Friday and the 13th: once
        datetime(2026, 2, 20),
        datetime(2026, 2, 27),
    ]
    # With a '*' day-of-month the other field alone decides.
    assert walls("0 0 * * 5", datetime(2026, 2, 1), 1) == [datetime(2026, 2, 6)]


def test_macros() -> None:
    assert walls("@daily", datetime(2026, 1, 1, 0, 1), 1) == [datetime(2026, 1, 2)]
    assert walls("@hourly", datetime(2026, 1, 1, 0, 1), 1) == [datetime(2026, 1, 1, 1)]


def test_an_impossible_date_never_fires() -> None:
    assert walls("cron(0 0 30 2 ? *)", datetime(2026, 1, 1), 1) == []


def test_rate_and_at() -> None:
    rate = parse_expression("rate(1 minute)")
    assert isinstance(rate, RateExpression)
    assert rate.interval.total_seconds() == 60
    assert parse_expression("rate(3 Days)") == RateExpression("rate(3 Days)", 3, "days")
    at = parse_expression("at(2026-12-01T09:00:00)")
    assert isinstance(at, AtExpression)
    assert at.when == datetime(2026, 12, 1, 9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cron(0 25 * * ? *)", "hours field: 25 is out of range: expected 0-23"),
        ("cron(61 * * * ? *)", "minutes field: 61 is out of range: expected 0-59"),
        ("cron(0 0 * * * *)", "exactly one of the day-of-month and day-of-week fields must be '?'"),
        ("cron(0 0 ? * ? *)", "exactly one of the day-of-month and day-of-week fields"),
        ("cron(0 0 * * ?)", "expected 6 fields (minutes hours day-of-month month"),
        ("cron(0 0 ? FOO * *)", "month field: 'FOO' is not a number or name: expected 1-12 or"),
        ("cron(0 0 ? * 8 *)", "day-of-week field: 8 is out of range: expected 1-7 or SUN-SAT"),
        ("cron(0 0 ? * 2#6 *)", "day-of-week field: '2#6': expected n#k with k from 1 to 5"),
        ("cron(0 0 32W * ? *)", "day-of-month field: '32W': expected nW with a day n from 1"),
        ("cron(0 0 1 1 ? 2300)", "year field: 2300 is out of range: expected 1970-2199"),
        ("cron(0 10-5 * * ? *)", "hours field: '10-5': the range start 10 is after its end 5"),
        ("cron(0/0 * * * ? *)", "minutes field: '0/0' has step '0': expected a positive"),
        ("cron(0,,5 * * * ? *)", "minutes field: '0,,5' has an empty list item"),
        ("rate(0 minutes)", "the value '0' must be a positive whole number"),
        ("rate(5 weeks)", "unknown unit 'weeks': expected minute, minutes, hour, hours, day"),
        ("rate(five minutes)", "the value 'five' must be a positive whole number"),
        ("at(2026-02-30T00:00:00)", "not a valid date and time"),
        ("at(2026-12-01 09:00)", "expected at(yyyy-mm-ddThh:mm:ss)"),
        ("every day", "expected cron(minutes hours day-of-month month day-of-week year)"),
        ("@reboot", "unknown macro"),
        ("0 0 * * 8", "day-of-week field: 8 is out of range: expected 0-7"),
    ],
)
def test_errors_name_the_field_and_what_was_expected(text: str, expected: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text, pointer="/Resources/S/Properties/ScheduleExpression")
    (problem,) = caught.value.problems
    assert expected in problem.message
    assert problem.location.pointer == "/Resources/S/Properties/ScheduleExpression"
