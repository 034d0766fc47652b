"""Tests for stackflow.workflow.asl.timestamps (the format AWS accepts for Wait and Timestamp*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stackflow.workflow.asl.timestamps import parse_timestamp, parse_timestamp_ns

# Formats recorded as accepted by AWS (Wait Timestamp/TimestampPath cases and Choice cases).
ACCEPTED = [
    "2016-03-14T01:59:00Z",
    "2016-03-05T21:29:29.243167252Z",
    "2023-12-13T07:09:32.00Z",
    "2023-12-13T07:09:32.000000Z",
    "2012-10-09T19:00:55Z",
    "2012-10-09T19:00:55+01:00",
    "2012-10-09T19:00:55-05:30",
    "2024-02-29T00:00:00Z",
    "2012-10-09T19:00:55.1Z",
]

# Formats recorded as rejected by AWS, plus the documented restrictions (uppercase T and Z,
# seconds and offset required).
REJECTED = [
    "2016-12-05 21:29:29Z",  # NO_T
    "2016-12-05T21:29:29",  # NO_Z
    "2016-13-05T21:29:29Z",  # INVALID_DATE
    "2016-12-05T25:29:29Z",  # INVALID_TIME
    "05-12-2016T21:29:29Z",  # INVALID_ISO
    "2023-12-13T07:09:32.000000",  # fraction but no offset
    "2012-10-09T19:00:55",
    "2023-02-24",
    "2023-02-24 12:15:56.832957",
    "",
    " ",
    "HelloWorld",
    "2012-10-09t19:00:55Z",
    "2012-10-09T19:00:55z",
    "2012-10-09T19:00Z",
    "2023-02-29T00:00:00Z",
    "2012-10-09T19:60:55Z",
    "2012-10-09T19:00:60Z",
    "2012-10-09T19:00:55.Z",
    "2012-10-09T19:00:55.1234567890Z",
    "2012-10-09T19:00:55+0100",
    "2012-10-09T19:00:55+01",
    "2012-10-09T19:00:55+19:00",
    "2012-10-09T19:00:55+01:60",
    "2012-10-09T19:00:55Z\n",
    " 2012-10-09T19:00:55Z",
    "2012-10-09T19:00:55ZZ",
    "٢٠١٢-10-09T19:00:55Z",
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_accepted(value: str) -> None:
    stamp = parse_timestamp(value)
    assert stamp is not None
    assert stamp.tzinfo is not None
    assert parse_timestamp_ns(value) is not None


@pytest.mark.parametrize("value", REJECTED)
def test_rejected(value: str) -> None:
    assert parse_timestamp(value) is None
    assert parse_timestamp_ns(value) is None


@pytest.mark.parametrize("value", [None, 0, 1.5, True, [], {}, ["2012-10-09T19:00:55Z"]])
def test_non_strings_are_not_timestamps(value: object) -> None:
    assert parse_timestamp(value) is None
    assert parse_timestamp_ns(value) is None


def test_values() -> None:
    assert parse_timestamp("2012-10-09T19:00:55Z") == datetime(2012, 10, 9, 19, 0, 55, tzinfo=UTC)
    plus_one = parse_timestamp("2012-10-09T19:00:55+01:00")
    assert plus_one == datetime(2012, 10, 9, 18, 0, 55, tzinfo=UTC)
    assert plus_one is not None and plus_one.utcoffset() == timedelta(hours=1)
    minus = parse_timestamp("2012-10-09T19:00:55-05:30")
    assert minus == datetime(
        2012, 10, 9, 19, 0, 55, tzinfo=timezone(-timedelta(hours=5, minutes=30))
    )
    nanos = parse_timestamp("2016-03-05T21:29:29.243167252Z")
    assert nanos == datetime(2016, 3, 5, 21, 29, 29, 243167, tzinfo=UTC)


def test_nanoseconds_are_exact() -> None:
    assert parse_timestamp_ns("1970-01-01T00:00:00Z") == 0
    assert parse_timestamp_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_timestamp_ns("1969-12-31T23:59:59.999999999Z") == -1
    base = parse_timestamp_ns("2012-10-09T19:00:55Z")
    finer = parse_timestamp_ns("2012-10-09T19:00:55.0000001Z")
    assert base is not None and finer is not None
    assert finer - base == 100
    assert parse_timestamp_ns("2012-10-09T19:00:55.00Z") == base
    assert parse_timestamp_ns("2012-10-09T20:00:55+01:00") == base
    assert parse_timestamp_ns("2012-10-09T19:00:55-00:00") == base
