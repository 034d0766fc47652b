"""Wall-clock times to instants with AWS's daylight saving rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stackflow.scheduler.expressions import ExpressionError
from stackflow.scheduler.zones import load_zone, local_to_utc, utc_to_local, wall_kind

NEW_YORK = load_zone("America/New_York")
BERLIN = load_zone("Europe/Berlin")


def test_a_time_in_the_spring_gap_does_not_exist() -> None:
    # 2026-03-08 02:00 EST jumps to 03:00 EDT in New York.
    assert wall_kind(datetime(2026, 3, 8, 2, 30), NEW_YORK) == "gap"
    assert local_to_utc(datetime(2026, 3, 8, 2, 30), NEW_YORK) is None
    # 2026-03-29 02:00 CET jumps to 03:00 CEST in Berlin.
    assert local_to_utc(datetime(2026, 3, 29, 2, 0), BERLIN) is None
    assert local_to_utc(datetime(2026, 3, 29, 3, 0), BERLIN) == datetime(2026, 3, 29, 1, tzinfo=UTC)


def test_a_repeated_time_is_its_first_occurrence() -> None:
    # 2026-11-01 01:30 happens twice in New York: first EDT (05:30Z), then EST (06:30Z).
    assert wall_kind(datetime(2026, 11, 1, 1, 30), NEW_YORK) == "overlap"
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), NEW_YORK) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )
    # 2026-10-25 02:30 happens twice in Berlin: first CEST (00:30Z).
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), BERLIN) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_normal_times_round_trip() -> None:
    wall = datetime(2026, 7, 1, 12, 0)
    assert wall_kind(wall, BERLIN) == "normal"
    instant = local_to_utc(wall, BERLIN)
    assert instant == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert utc_to_local(instant, BERLIN) == wall


def test_utc_is_accepted_in_any_case_and_unknown_zones_are_refused() -> None:
    assert load_zone("utc") is UTC
    with pytest.raises(ExpressionError) as caught:
        load_zone("Mars/Olympus", pointer="/timezone")
    assert "unknown time zone 'Mars/Olympus'" in caught.value.problems[0].message
    assert caught.value.problems[0].location.pointer == "/timezone"
    with pytest.raises(ExpressionError):
        load_zone("../../etc/passwd")


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        utc_to_local(datetime(2026, 1, 1), BERLIN)
