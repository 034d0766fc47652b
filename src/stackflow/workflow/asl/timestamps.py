"""Timestamps in the format Step Functions accepts (Wait ``Timestamp``, Choice ``Timestamp*``).

AWS documents the format as the RFC 3339 profile of ISO 8601 ("ISO-8601 extended offset
date-time") with further restrictions: an uppercase ``T`` separates date and time, and an uppercase
``Z`` or a numeric offset is required. Recorded AWS behaviour confirms it:

* accepted: ``2016-03-14T01:59:00Z``, ``…:00.00Z``, ``…:00.000000Z``, nanoseconds
  ``2016-03-05T21:29:29.243167252Z``, offsets such as ``2012-10-09T19:00:55+01:00``;
* rejected: no ``T`` (``2016-12-05 21:29:29Z``), no offset (``2016-12-05T21:29:29``), month 13,
  hour 25, day-first dates (``05-12-2016T21:29:29Z``).

Seconds are required; the fraction has 1 to 9 digits; offsets are ``±HH:MM`` up to ``±18:00``
(the range of an ISO offset); calendar dates are checked exactly (no February 30).

Python's :class:`datetime` keeps microseconds only, so comparisons of instants use
:func:`parse_timestamp_ns`, which is exact to the nanosecond.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

__all__ = ["parse_timestamp", "parse_timestamp_ns"]

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_OFFSET_MINUTES = 18 * 60


@lru_cache(maxsize=4096)
def _parse(value: str) -> tuple[datetime, int] | None:
    """Parse ``value`` into (datetime truncated to microseconds, nanoseconds of the second)."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset == "Z":
        tz = UTC
    else:
        off_hours, off_minutes = int(offset[1:3]), int(offset[4:6])
        total = off_hours * 60 + off_minutes
        if off_minutes > 59 or total > _MAX_OFFSET_MINUTES:
            return None
        tz = timezone(timedelta(minutes=-total if offset[0] == "-" else total))
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    try:
        stamp = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            nanos // 1000,
            tzinfo=tz,
        )
    except ValueError:
        return None
    return stamp, nanos


def parse_timestamp(value: object) -> datetime | None:
    """Parse a timestamp in the format Step Functions accepts.

    Args:
        value: The candidate, normally a string taken from a definition or from state data.

    Returns:
        An aware :class:`datetime` (in the offset written in ``value``, fractional seconds
        truncated to microseconds), or None when ``value`` is not a string in the accepted format.
    """
    if not isinstance(value, str):
        return None
    parsed = _parse(value)
    return None if parsed is None else parsed[0]


def parse_timestamp_ns(value: object) -> int | None:
    """Parse a timestamp into the exact instant it names, in nanoseconds since the Unix epoch.

    Use this to compare timestamps: unlike :func:`parse_timestamp` it keeps all nine fractional
    digits AWS accepts, so ``…:55.0000001Z`` is later than ``…:55Z``.

    Args:
        value: The candidate, normally a string taken from a definition or from state data.

    Returns:
        Nanoseconds since 1970-01-01T00:00:00Z, or None when ``value`` is not a string in the
        accepted format.
    """
    if not isinstance(value, str):
        return None
    parsed = _parse(value)
    if parsed is None:
        return None
    stamp, nanos = parsed
    delta = stamp.replace(microsecond=0) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + nanos
