"""Wall-clock times to instants in an IANA time zone, with AWS's daylight saving rules.

EventBridge Scheduler evaluates cron and at() expressions on the wall clock of the schedule's
time zone, and handles the two daylight saving transitions so:

* **Spring forward (gap):** a local time that does not exist that day (02:30 in New York on the
  second Sunday of March) is skipped: nothing runs for it.
* **Fall back (overlap):** a local time that happens twice (01:30 in New York on the first Sunday
  of November) runs once, at its first occurrence (daylight time).

Pure: zoneinfo reads the packaged time zone database, nothing else. Instants are aware
datetimes in UTC. Note that aware datetimes sharing one ``tzinfo`` compare by wall clock in
Python, so everything here compares and subtracts UTC values only.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stackflow.scheduler.expressions import schedule_error

__all__ = [
    "UTC",
    "WallKind",
    "as_utc",
    "load_zone",
    "local_to_utc",
    "utc_to_local",
    "wall_kind",
]

WallKind = Literal["normal", "gap", "overlap"]


def load_zone(name: str, *, pointer: str = "") -> tzinfo:
    """Return the time zone named ``name`` (``UTC`` or an IANA name such as ``Europe/Berlin``).

    Args:
        name: The zone name.
        pointer: JSON pointer of the value, used in error locations.

    Raises:
        ExpressionError: Unknown zone.
    """
    if not isinstance(name, str) or not name:
        raise schedule_error("expected a time zone name such as UTC or Europe/Berlin", pointer)
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise schedule_error(
            f"unknown time zone '{name}': expected an IANA name such as UTC, "
            "America/New_York or Europe/Berlin",
            pointer,
        ) from None


def as_utc(instant: datetime) -> datetime:
    """Return an aware ``instant`` in UTC.

    Raises:
        ValueError: ``instant`` is naive.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got the naive {instant.isoformat()}")
    return instant.astimezone(UTC)


def utc_to_local(instant: datetime, zone: tzinfo) -> datetime:
    """Return the naive wall-clock time of ``instant`` in ``zone``."""
    return as_utc(instant).astimezone(zone).replace(tzinfo=None)


def _candidates(wall: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return first, second


def wall_kind(wall: datetime, zone: tzinfo) -> WallKind:
    """Tell whether a wall-clock time exists once, not at all (gap) or twice (overlap).

    Args:
        wall: A naive wall-clock time.
        zone: The time zone.
    """
    first, second = _candidates(wall, zone)
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        return "gap"
    return "overlap" if first != second else "normal"


def local_to_utc(wall: datetime, zone: tzinfo) -> datetime | None:
    """Return the instant a wall-clock time names, by AWS's daylight saving rules.

    Args:
        wall: A naive wall-clock time.
        zone: The time zone.

    Returns:
        The instant in UTC; for a time in the fall-back overlap its first occurrence; None for
        a time in the spring-forward gap (it does not exist, so it is skipped).
    """
    first, second = _candidates(wall, zone)
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return min(first, second)
