"""Schedule expressions: AWS ``cron(...)``, ``rate(...)``, ``at(...)`` and classic five-field cron.

Pure: no I/O and no clock. :func:`parse_expression` turns the text into a
:class:`CronExpression`, :class:`RateExpression` or :class:`AtExpression`. A cron expression
enumerates *wall-clock* times (naive datetimes); turning them into instants in a time zone, with
AWS's daylight saving rules, is :mod:`stackflow.scheduler.zones`' job.

AWS cron (EventBridge Scheduler) has six fields ``minutes hours day-of-month month day-of-week
year``; exactly one of day-of-month and day-of-week is ``?``. Day-of-week counts 1-7 from Sunday.
Besides ``*``, lists, ranges and steps it has ``L`` (last day of the month; ``nL`` in
day-of-week: the last weekday *n* of the month), ``W`` (``nW``: the weekday nearest day *n*,
without leaving the month; ``LW``: the last weekday of the month) and ``#`` (``n#k``: the *k*-th
weekday *n* of the month). Classic cron has five fields ``minute hour day-of-month month
day-of-week`` with day-of-week 0-7 (0 and 7 are Sunday) and Vixie cron's rule: when both day
fields are restricted (neither starts with ``*``), a day matching either one matches.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from stackflow.errors import InputError, Problem, SourceLocation

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "AtExpression",
    "CronExpression",
    "DayOfMonth",
    "DayOfWeek",
    "Expression",
    "ExpressionError",
    "RateExpression",
    "parse_expression",
    "schedule_error",
]

#: The year range of AWS's year field; cron enumeration stops after MAX_YEAR.
MIN_YEAR = 1970
MAX_YEAR = 2199

#: Problem code of an invalid schedule setting.
INVALID_SCHEDULE = "INVALID_SCHEDULE"

_EXPECTED = (
    "expected cron(minutes hours day-of-month month day-of-week year), rate(value unit), "
    "at(yyyy-mm-ddThh:mm:ss) or a five-field cron expression "
    "(minute hour day-of-month month day-of-week)"
)


class ExpressionError(InputError):
    """A schedule expression, time zone or other schedule setting is invalid."""


def schedule_error(message: str, pointer: str = "") -> ExpressionError:
    """Build an :class:`ExpressionError` with one problem.

    Args:
        message: What is wrong and what was expected.
        pointer: JSON pointer of the offending value (e.g. ``/Properties/ScheduleExpression``).

    Returns:
        The error (to raise).
    """
    problem = Problem(SourceLocation(None, None, None, pointer), message, INVALID_SCHEDULE)
    return ExpressionError([problem], summary="Invalid schedule")


# --------------------------------------------------------------------------- day rules


def _weekday(day: date) -> int:
    """Return the weekday of ``day`` counted from Sunday = 0."""
    return (day.weekday() + 1) % 7


@dataclass(frozen=True)
class DayOfMonth:
    """A restricted day-of-month field.

    Attributes:
        days: Plain day numbers (1-31).
        last_offsets: ``L`` (0) and ``L-n`` (n): the last day of the month minus n.
        nearest_weekday: ``nW``: the Monday-Friday day nearest day n, in the same month.
        last_weekday: ``LW``: the last Monday-Friday day of the month.
    """

    days: frozenset[int] = frozenset()
    last_offsets: frozenset[int] = frozenset()
    nearest_weekday: frozenset[int] = frozenset()
    last_weekday: bool = False

    def days_in(self, year: int, month: int) -> set[int]:
        """Return the days of ``month`` of ``year`` this field matches."""
        last = calendar.monthrange(year, month)[1]
        found = {d for d in self.days if d <= last}
        found.update(last - n for n in self.last_offsets if last - n >= 1)
        for n in self.nearest_weekday:
            if n <= last:
                found.add(_nearest_weekday(year, month, n, last))
        if self.last_weekday:
            found.add(_nearest_weekday(year, month, last, last))
        return found


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    """Return the Monday-Friday day nearest ``day`` without leaving the month."""
    weekday = _weekday(date(year, month, day))
    if weekday == 6:  # Saturday: Friday before, or Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 0:  # Sunday: Monday after, or Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True)
class DayOfWeek:
    """A restricted day-of-week field (weekdays counted from Sunday = 0).

    Attributes:
        weekdays: Plain weekdays.
        last: ``nL``: the last weekday n of the month.
        nth: ``n#k``: pairs (weekday n, k), the k-th weekday n of the month.
    """

    weekdays: frozenset[int] = frozenset()
    last: frozenset[int] = frozenset()
    nth: frozenset[tuple[int, int]] = frozenset()

    def days_in(self, year: int, month: int) -> set[int]:
        """Return the days of ``month`` of ``year`` this field matches."""
        last_day = calendar.monthrange(year, month)[1]
        first = _weekday(date(year, month, 1))
        found: set[int] = set()
        for day in range(1, last_day + 1):
            weekday = (first + day - 1) % 7
            if weekday in self.weekdays:
                found.add(day)
            if weekday in self.last and day + 7 > last_day:
                found.add(day)
            if (weekday, (day - 1) // 7 + 1) in self.nth:
                found.add(day)
        return found


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression (AWS six fields or classic five fields).

    Attributes:
        text: The expression as written.
        minutes: Matching minutes, ascending.
        hours: Matching hours, ascending.
        months: Matching months (1-12).
        years: Matching years, or None for any.
        day_of_month: The day-of-month rule, or None when unrestricted.
        day_of_week: The day-of-week rule, or None when unrestricted.
        either_day: True when a day matching either day rule matches (classic cron with both
            restricted); False when it must match both.
        classic: True for a five-field expression.
    """

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int] | None
    day_of_month: DayOfMonth | None
    day_of_week: DayOfWeek | None
    either_day: bool = False
    classic: bool = False

    @property
    def kind(self) -> str:
        """``cron``."""
        return "cron"

    def days(self, year: int, month: int) -> list[int]:
        """Return the matching days of a month, ascending.

        Args:
            year: The year.
            month: The month (1-12).
        """
        by_month = self.day_of_month.days_in(year, month) if self.day_of_month else None
        by_week = self.day_of_week.days_in(year, month) if self.day_of_week else None
        if by_month is None and by_week is None:
            return list(range(1, calendar.monthrange(year, month)[1] + 1))
        if by_month is None or by_week is None:
            return sorted(by_month if by_month is not None else by_week or set())
        return sorted(by_month | by_week if self.either_day else by_month & by_week)

    def walls(self, start: datetime) -> Iterator[datetime]:
        """Yield the matching wall-clock times at or after ``start``, ascending.

        Args:
            start: A naive wall-clock time.

        Yields:
            Naive datetimes (whole minutes), up to the end of :data:`MAX_YEAR`.
        """
        year, month = start.year, start.month
        first_day = start.date()
        while year <= MAX_YEAR:
            if self.years is not None and year not in self.years:
                later = [y for y in self.years if y > year]
                if not later:
                    return
                year, month = min(later), 1
                continue
            if month in self.months:
                for day in self.days(year, month):
                    if date(year, month, day) < first_day:
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            wall = datetime(year, month, day, hour, minute)
                            if wall >= start:
                                yield wall
            month += 1
            if month > 12:
                year, month = year + 1, 1


@dataclass(frozen=True)
class RateExpression:
    """A parsed ``rate(value unit)``: a fixed interval of elapsed time.

    Attributes:
        text: The expression as written.
        value: The positive count.
        unit: ``minutes``, ``hours`` or ``days`` (normalised to the plural).
    """

    text: str
    value: int
    unit: str

    @property
    def kind(self) -> str:
        """``rate``."""
        return "rate"

    @property
    def interval(self) -> timedelta:
        """The elapsed time between two fire times (a day is 24 hours, DST or not)."""
        return timedelta(**{self.unit: self.value})


@dataclass(frozen=True)
class AtExpression:
    """A parsed ``at(yyyy-mm-ddThh:mm:ss)``: one wall-clock time.

    Attributes:
        text: The expression as written.
        when: The naive wall-clock time (in the schedule's time zone).
    """

    text: str
    when: datetime

    @property
    def kind(self) -> str:
        """``at``."""
        return "at"


Expression = CronExpression | RateExpression | AtExpression

# --------------------------------------------------------------------------- parsing

_MONTH_NAMES = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_RATE = re.compile(r"^rate\(\s*(\S+)\s+(\S+)\s*\)$")
_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")
_RATE_UNITS = {
    "minute": "minutes",
    "minutes": "minutes",
    "hour": "hours",
    "hours": "hours",
    "day": "days",
    "days": "days",
}


@dataclass(frozen=True)
class _Field:
    """How one cron field is written."""

    name: str
    low: int
    high: int
    names: dict[str, int] | None = None
    #: Added to a number as written to get the internal value (AWS weekday 1 -> 0).
    shift: int = 0
    #: Internal values wrap modulo this (classic weekday 7 -> 0), or 0 for none.
    wrap: int = 0

    def expected(self) -> str:
        words = f"{self.low}-{self.high}"
        if self.names:
            ordered = sorted(self.names, key=lambda n: self.names[n] if self.names else 0)
            words += f" or {ordered[0]}-{ordered[-1]}"
        return words

    def raw(self, token: str, fail: _Fail) -> int:
        """Return a number or name as a number as written (range-checked)."""
        upper = token.upper()
        if self.names and upper in self.names:
            return self.names[upper] - self.shift
        if not token.isdigit():
            raise fail(f"'{token}' is not a number or name: expected {self.expected()}")
        number = int(token)
        if not self.low <= number <= self.high:
            raise fail(f"{number} is out of range: expected {self.expected()}")
        return number

    def internal(self, number: int) -> int:
        """Return the internal value of a number as written."""
        value = number + self.shift
        return value % self.wrap if self.wrap else value

    def value(self, token: str, fail: _Fail) -> int:
        """Return the internal value of a number or name as written."""
        return self.internal(self.raw(token, fail))


class _Fail:
    """Builds errors naming the expression and the field."""

    def __init__(self, text: str, field: str, pointer: str) -> None:
        self.text = text
        self.field = field
        self.pointer = pointer

    def __call__(self, message: str) -> ExpressionError:
        return schedule_error(f"{self.text}: {self.field} field: {message}", self.pointer)


_AWS_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 1, 7, {n: i for i, n in enumerate(_DAY_NAMES)}, shift=-1),
    _Field("year", MIN_YEAR, MAX_YEAR),
)
_CLASSIC_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, {n: i for i, n in enumerate(_DAY_NAMES)}, wrap=7),
)


def _values(item: str, field: _Field, fail: _Fail) -> set[int]:
    """Parse ``*``, ``a``, ``a-b`` and their ``/step`` forms into internal values."""
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise fail(f"'{item}' has step '{step_text}': expected a positive whole number")
        step = int(step_text)
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        first, _, second = base.partition("-")
        low, high = field.raw(first, fail), field.raw(second, fail)
        if low > high:
            raise fail(f"'{item}': the range start {first} is after its end {second}")
    else:
        low = field.raw(base, fail)
        high = field.high if slash else low
    return {field.internal(number) for number in range(low, high + 1, step)}


def _simple(text: str, field: _Field, fail: _Fail) -> frozenset[int]:
    """Parse a field of plain values: lists of ``*``, values, ranges and steps."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise fail(f"'{text}' has an empty list item")
        values |= _values(item, field, fail)
    return frozenset(values)


def _day_of_month(text: str, field: _Field, fail: _Fail) -> DayOfMonth:
    days: set[int] = set()
    offsets: set[int] = set()
    nearest: set[int] = set()
    last_weekday = False
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            offsets.add(0)
        elif upper == "LW":
            last_weekday = True
        elif upper.startswith("L-"):
            rest = upper[2:]
            if not rest.isdigit() or not 0 <= int(rest) <= 30:
                raise fail(f"'{item}': expected L-n with n from 0 to 30")
            offsets.add(int(rest))
        elif upper.endswith("W"):
            rest = upper[:-1]
            if not rest.isdigit() or not 1 <= int(rest) <= 31:
                raise fail(f"'{item}': expected nW with a day n from 1 to 31, or LW")
            nearest.add(int(rest))
        elif not item:
            raise fail(f"'{text}' has an empty list item")
        else:
            days |= _values(item, field, fail)
    return DayOfMonth(frozenset(days), frozenset(offsets), frozenset(nearest), last_weekday)


def _day_of_week(text: str, field: _Field, fail: _Fail) -> DayOfWeek:
    weekdays: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            weekdays.add(6)  # alone, L is the last day of the week: Saturday
        elif "#" in upper:
            day, _, count = upper.partition("#")
            if not count.isdigit() or not 1 <= int(count) <= 5:
                raise fail(f"'{item}': expected n#k with k from 1 to 5 (the k-th weekday n)")
            nth.add((field.value(day, fail), int(count)))
        elif upper.endswith("L") and len(upper) > 1:
            last.add(field.value(upper[:-1], fail))
        elif not item:
            raise fail(f"'{text}' has an empty list item")
        else:
            weekdays |= _values(item, field, fail)
    return DayOfWeek(frozenset(weekdays), frozenset(last), frozenset(nth))


def _cron(text: str, fields_text: str, classic: bool, pointer: str) -> CronExpression:
    parts = fields_text.split()
    specs: tuple[_Field, ...] = _CLASSIC_FIELDS if classic else _AWS_FIELDS
    if len(parts) != len(specs):
        names = " ".join(f.name for f in specs)
        raise schedule_error(
            f"{text}: expected {len(specs)} fields ({names}), got {len(parts)}", pointer
        )
    fails = [_Fail(text, f.name, pointer) for f in specs]
    minutes = _simple(parts[0], specs[0], fails[0])
    hours = _simple(parts[1], specs[1], fails[1])
    months = _simple(parts[3], specs[3], fails[3])
    years = None
    if not classic and parts[5] != "*":
        years = _simple(parts[5], specs[5], fails[5])
    dom_text, dow_text = parts[2], parts[4]
    if classic:
        dom_star, dow_star = dom_text[0] in "*?", dow_text[0] in "*?"
        either = not (dom_star or dow_star)
    else:
        if (dom_text == "?") == (dow_text == "?"):
            raise schedule_error(
                f"{text}: exactly one of the day-of-month and day-of-week fields must be '?' "
                f"(got '{dom_text}' and '{dow_text}')",
                pointer,
            )
        either = False
    dom = None if dom_text in ("*", "?") else _day_of_month(dom_text, specs[2], fails[2])
    dow = None if dow_text in ("*", "?") else _day_of_week(dow_text, specs[4], fails[4])
    return CronExpression(
        text=text,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        months=months,
        years=years,
        day_of_month=dom,
        day_of_week=dow,
        either_day=either,
        classic=classic,
    )


def _rate(text: str, pointer: str) -> RateExpression:
    match = _RATE.match(text)
    if match is None:
        raise schedule_error(f"{text}: expected rate(value unit), e.g. rate(5 minutes)", pointer)
    value_text, unit_text = match.groups()
    if not value_text.isdigit() or int(value_text) < 1:
        raise schedule_error(
            f"{text}: the value '{value_text}' must be a positive whole number", pointer
        )
    unit = _RATE_UNITS.get(unit_text.lower())
    if unit is None:
        raise schedule_error(
            f"{text}: unknown unit '{unit_text}': expected minute, minutes, hour, hours, day "
            "or days",
            pointer,
        )
    return RateExpression(text, int(value_text), unit)


def _at(text: str, pointer: str) -> AtExpression:
    match = _AT.match(text)
    if match is None:
        raise schedule_error(
            f"{text}: expected at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-12-01T09:00:00)", pointer
        )
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        when = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise schedule_error(f"{text}: not a valid date and time ({exc})", pointer) from None
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise schedule_error(f"{text}: the year must be from {MIN_YEAR} to {MAX_YEAR}", pointer)
    return AtExpression(text, when)


def parse_expression(text: str, *, pointer: str = "") -> Expression:
    """Parse a schedule expression.

    Args:
        text: ``cron(m h dom mon dow year)``, ``rate(n unit)``, ``at(yyyy-mm-ddThh:mm:ss)``, a
            five-field cron expression, or a macro such as ``@daily``.
        pointer: JSON pointer of the expression, used in error locations.

    Returns:
        The parsed expression.

    Raises:
        ExpressionError: The expression is invalid; the message names the field at fault and
            what was expected.
    """
    if not isinstance(text, str):
        raise schedule_error(f"expected a string, got {type(text).__name__}; {_EXPECTED}", pointer)
    stripped = text.strip()
    if stripped.startswith("cron("):
        if not stripped.endswith(")"):
            raise schedule_error(f"{stripped}: missing the closing ')'", pointer)
        return _cron(stripped, stripped[5:-1], False, pointer)
    if stripped.startswith("rate("):
        return _rate(stripped, pointer)
    if stripped.startswith("at("):
        return _at(stripped, pointer)
    if stripped.startswith("@"):
        macro = _MACROS.get(stripped.lower())
        if macro is None:
            raise schedule_error(
                f"{stripped}: unknown macro: expected one of {', '.join(_MACROS)}", pointer
            )
        return _cron(stripped, macro, True, pointer)
    if len(stripped.split()) == 5:
        return _cron(stripped, stripped, True, pointer)
    raise schedule_error(f"'{text}': {_EXPECTED}", pointer)
