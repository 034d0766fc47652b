"""Schedules: when a schedule fires, what is due now, and the name of each run.

Pure: every function takes the current time as an argument. Instants are aware datetimes in
UTC. The pieces:

* :class:`ScheduleSpec` — a validated schedule (expression, time zone, start/end dates, state,
  flexible window, catch-up policy, target workflow and input) with :meth:`~ScheduleSpec.fire_times`
  and :meth:`~ScheduleSpec.next_fire_times`.
* :func:`plan_runs` / :func:`due_runs` — given the last fire time handled and ``now``, which
  fire times to start now under the catch-up policy.
* :func:`execution_name` — the deterministic execution name of a fire time, which makes each
  fire time start at most one execution whichever server (or restart) gets there first.
* :func:`flexible_offset` — the deterministic delay within a flexible time window.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from stackflow.scheduler.expressions import (
    AtExpression,
    CronExpression,
    Expression,
    RateExpression,
    parse_expression,
    schedule_error,
)
from stackflow.scheduler.zones import UTC, as_utc, load_zone, local_to_utc, utc_to_local
from stackflow.types import JSON
from stackflow.workflow.asl.context import DEFAULT_IDENTITY

__all__ = [
    "CATCH_UP_POLICIES",
    "DEFAULT_GRACE",
    "MAX_RUNS_PER_PLAN",
    "STATES",
    "CatchUp",
    "RunPlan",
    "ScheduleSpec",
    "due_runs",
    "execution_name",
    "flexible_offset",
    "parse_instant",
    "plan_runs",
    "render_input",
    "schedule_arn",
    "valid_schedule_name",
]

CatchUp = Literal["skip", "once", "all"]
CATCH_UP_POLICIES: tuple[str, ...] = ("skip", "once", "all")
STATES: tuple[str, ...] = ("ENABLED", "DISABLED")

#: How late a fire time may start and still count as on time (not missed).
DEFAULT_GRACE = timedelta(seconds=60)
#: The most runs one plan starts (catch-up ``all`` after a long outage continues next tick).
MAX_RUNS_PER_PLAN = 1000
#: A rate schedule without start date or creation time counts from here.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TINY = timedelta(microseconds=1)

#: Schedule names: what an execution name may start with, then letters, digits, '_', '-', '.'.
_NAME_OK = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
#: Longest execution name we make (Step Functions' limit).
_MAX_EXECUTION_NAME = 80
_CONTEXT = re.compile(
    r"<aws\.scheduler\.(schedule-arn|scheduled-time|execution-id|attempt-number)>"
)


def valid_schedule_name(name: str) -> bool:
    """Tell whether ``name`` can name a schedule (and prefix its execution names)."""
    return isinstance(name, str) and bool(_NAME_OK.match(name)) and len(name) <= 64


def parse_instant(value: Any, *, pointer: str = "", zone: tzinfo = UTC) -> datetime:
    """Parse an ISO 8601 date-time (``2026-12-01T09:00:00Z``) into an aware UTC datetime.

    Args:
        value: The text (or an aware datetime, returned in UTC).
        pointer: JSON pointer of the value, for errors.
        zone: The zone of a time written without an offset (default UTC, as AWS's StartDate).

    Raises:
        ExpressionError: Not an ISO 8601 date-time.
    """
    if isinstance(value, datetime):
        return as_utc(value) if value.tzinfo else as_utc(value.replace(tzinfo=zone))
    if not isinstance(value, str):
        raise schedule_error("expected an ISO 8601 date-time such as 2026-12-01T09:00:00Z", pointer)
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise schedule_error(
            f"'{value}' is not a date-time: expected ISO 8601 such as 2026-12-01T09:00:00Z", pointer
        ) from None
    if parsed.tzinfo is None:
        local = local_to_utc(parsed, zone)
        if local is None:
            raise schedule_error(f"'{value}' does not exist in the time zone (a DST gap)", pointer)
        return local
    return as_utc(parsed)


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else as_utc(instant).isoformat().replace("+00:00", "Z")


def schedule_arn(name: str) -> str:
    """Return the ARN of a schedule, as AWS's context attribute ``schedule-arn`` shows it."""
    identity = DEFAULT_IDENTITY
    return (
        f"arn:{identity.partition}:scheduler:{identity.region}:{identity.account}"
        f":schedule/default/{name}"
    )


@dataclass(frozen=True)
class ScheduleSpec:
    """A validated schedule.

    Attributes:
        expression: ``cron(...)``, ``rate(...)``, ``at(...)`` or five-field cron.
        timezone: IANA zone the cron and at() expressions are evaluated in.
        start_date: No fire time before this (ignored by at()); a rate schedule counts from it.
            Dates are kept to the whole second (fire times are, too).
        end_date: No fire time at or after this (ignored by at()).
        state: ``ENABLED`` or ``DISABLED``.
        flexible_window_minutes: With a window, each run starts at a deterministic offset in
            ``[0, window)`` after its fire time; None (or 0) starts at the fire time.
        catch_up: What to do with fire times missed (late by more than the grace period):
            ``skip`` them, run the latest ``once``, or run ``all``.
        workflow: Target workflow (a deployed name, ``NAME:VERSION``).
        input: Execution input (AWS context placeholders such as
            ``<aws.scheduler.scheduled-time>`` in strings are filled in per run).
        created_at: When the schedule was created; a rate schedule without start date counts
            from it.

    Raises:
        ExpressionError: A setting is invalid (the pointer names the attribute).
    """

    expression: str
    _: KW_ONLY
    timezone: str = "UTC"
    start_date: datetime | None = None
    end_date: datetime | None = None
    state: str = "ENABLED"
    flexible_window_minutes: int | None = None
    catch_up: str = "skip"
    workflow: str = ""
    input: JSON = None
    created_at: datetime | None = None
    parsed: Expression = field(init=False, repr=False, compare=False)
    zone: tzinfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", parse_expression(self.expression, pointer="/expression"))
        object.__setattr__(self, "zone", load_zone(self.timezone, pointer="/timezone"))
        for name in ("start_date", "end_date", "created_at"):
            value = getattr(self, name)
            if value is not None:
                instant = parse_instant(value, pointer=f"/{name}").replace(microsecond=0)
                object.__setattr__(self, name, instant)
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise schedule_error("the end date must be after the start date", "/end_date")
        if self.state not in STATES:
            raise schedule_error(f"state '{self.state}': expected ENABLED or DISABLED", "/state")
        if self.catch_up not in CATCH_UP_POLICIES:
            raise schedule_error(
                f"catch-up policy '{self.catch_up}': expected skip, once or all", "/catch_up"
            )
        window = self.flexible_window_minutes
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 1440
        ):
            raise schedule_error(
                f"flexible window {window!r}: expected whole minutes from 1 to 1440",
                "/flexible_window_minutes",
            )

    # ------------------------------------------------------------------ fire times

    def fire_times(self, after: datetime, until: datetime | None = None) -> Iterator[datetime]:
        """Yield the fire times ``t`` with ``after < t <= until``, ascending (UTC).

        Cron and at() times are wall-clock times in :attr:`timezone`: one in a spring-forward
        gap is skipped, one in a fall-back overlap fires once, at its first occurrence. A rate
        fires every interval of elapsed time from the start date (or creation time).

        Args:
            after: Exclusive lower bound (aware).
            until: Inclusive upper bound (aware), or None for no bound.
        """
        low = as_utc(after)
        high = None if until is None else as_utc(until)
        expression = self.parsed
        if isinstance(expression, AtExpression):
            instant = local_to_utc(expression.when, self.zone)
            if instant is not None and instant > low and (high is None or instant <= high):
                yield instant
            return
        if self.start_date is not None and self.start_date - _TINY > low:
            low = self.start_date - _TINY
        if self.end_date is not None and (high is None or self.end_date - _TINY < high):
            high = self.end_date - _TINY
        if high is not None and high <= low:
            return
        if isinstance(expression, RateExpression):
            yield from self._rate_times(expression, low, high)
        else:
            yield from self._cron_times(expression, low, high)

    def _rate_times(
        self, expression: RateExpression, low: datetime, high: datetime | None
    ) -> Iterator[datetime]:
        anchor = self.start_date or self.created_at or _EPOCH
        step = expression.interval
        index = 0 if low < anchor else (low - anchor) // step + 1
        while True:
            instant = anchor + index * step
            if high is not None and instant > high:
                return
            if instant > low:
                yield instant
            index += 1

    def _cron_times(
        self, expression: CronExpression, low: datetime, high: datetime | None
    ) -> Iterator[datetime]:
        # First-occurrence mapping is monotonic in wall-clock order, so no wall time before
        # the local time of ``low`` can map to an instant after ``low``.
        for wall in expression.walls(utc_to_local(low, self.zone).replace(second=0, microsecond=0)):
            instant = local_to_utc(wall, self.zone)
            if instant is None or instant <= low:
                continue
            if high is not None and instant > high:
                return
            yield instant

    def next_fire_times(self, after: datetime, n: int) -> list[datetime]:
        """Return the next ``n`` fire times after ``after`` (fewer when the schedule ends)."""
        found: list[datetime] = []
        if n <= 0:
            return found
        for instant in self.fire_times(after):
            found.append(instant)
            if len(found) >= n:
                break
        return found

    # ------------------------------------------------------------------ runs

    def start_offset(self, name: str, fire_time: datetime) -> timedelta:
        """Return how long after ``fire_time`` its run starts (the flexible window offset)."""
        return flexible_offset(name, fire_time, self.flexible_window_minutes or 0)

    def input_for(self, name: str, fire_time: datetime) -> JSON:
        """Return the execution input of one run (context placeholders filled in)."""
        return render_input(self.input, name, fire_time)

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in a schedule record (dates as ISO 8601 text)."""
        return {
            "expression": self.expression,
            "timezone": self.timezone,
            "start_date": _iso(self.start_date),
            "end_date": _iso(self.end_date),
            "state": self.state,
            "flexible_window_minutes": self.flexible_window_minutes,
            "catch_up": self.catch_up,
            "workflow": self.workflow,
            "input": self.input,
            "created_at": _iso(self.created_at),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleSpec:
        """Rebuild a spec from :meth:`to_json` output.

        Raises:
            ExpressionError: The data holds an invalid setting.
        """
        if not isinstance(data, dict) or "expression" not in data:
            raise schedule_error("expected a schedule object with an expression")
        known = {k: v for k, v in data.items() if k in _JSON_FIELDS and v is not None}
        return cls(**known)


_JSON_FIELDS = frozenset(
    {
        "expression",
        "timezone",
        "start_date",
        "end_date",
        "state",
        "flexible_window_minutes",
        "catch_up",
        "workflow",
        "input",
        "created_at",
    }
)


def flexible_offset(name: str, fire_time: datetime, window_minutes: int) -> timedelta:
    """Return the deterministic start offset of a run within a flexible window.

    Derived from a hash of the schedule name and the fire time, so every server computes the
    same offset, and spread evenly over ``[0, window)`` in whole seconds.

    Args:
        name: The schedule name.
        fire_time: The fire time (aware).
        window_minutes: The window; 0 gives no offset.
    """
    if window_minutes <= 0:
        return timedelta(0)
    key = f"{name}\n{_iso(fire_time)}".encode()
    number = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return timedelta(seconds=number % (window_minutes * 60))


def execution_name(schedule_name: str, fire_time: datetime) -> str:
    """Return the execution name of a fire time: ``<schedule>-<yyyymmddThhmmssZ>``.

    Deterministic, so a fire time started twice (two servers, a restart) names the same
    execution, which exists only once. A schedule name too long for an 80-character execution
    name is shortened and given a hash suffix.

    Args:
        schedule_name: The schedule name (see :func:`valid_schedule_name`).
        fire_time: The fire time (aware).

    Raises:
        ValueError: The schedule name is not valid.
    """
    if not _NAME_OK.match(schedule_name or ""):
        raise ValueError(f"invalid schedule name {schedule_name!r}")
    stamp = as_utc(fire_time).strftime("%Y%m%dT%H%M%SZ")
    prefix = schedule_name
    room = _MAX_EXECUTION_NAME - len(stamp) - 1
    if len(prefix) > room:
        digest = hashlib.sha256(schedule_name.encode()).hexdigest()[:8]
        prefix = f"{schedule_name[: room - 9]}-{digest}"
    return f"{prefix}-{stamp}"


def render_input(value: JSON, name: str, fire_time: datetime) -> JSON:
    """Fill in AWS's context placeholders in the strings of an input value.

    ``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>`` (ISO 8601, UTC),
    ``<aws.scheduler.execution-id>`` (the execution name) and
    ``<aws.scheduler.attempt-number>`` (always 1). The result depends only on its arguments,
    so every server starts a fire time with the same input.

    Args:
        value: The input (None becomes ``{}``).
        name: The schedule name.
        fire_time: The fire time.
    """
    values = {
        "schedule-arn": schedule_arn(name),
        "scheduled-time": _iso(fire_time) or "",
        "execution-id": execution_name(name, fire_time),
        "attempt-number": "1",
    }

    def fill(item: Any) -> Any:
        if isinstance(item, str):
            return _CONTEXT.sub(lambda m: values[m.group(1)], item)
        if isinstance(item, dict):
            return {key: fill(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [fill(inner) for inner in item]
        return item

    result: JSON = fill({} if value is None else json.loads(json.dumps(value)))
    return result


# --------------------------------------------------------------------------- due runs


@dataclass(frozen=True)
class RunPlan:
    """What one evaluation of a schedule decides.

    Attributes:
        runs: Fire times to start now, ascending.
        watermark: The new last fire time handled (started or skipped); None when nothing
            was ever due.
        next_due: When the next fire time after the watermark becomes due (its start time with
            the flexible offset), or None when the schedule will not fire again.
        skipped: How many due fire times were passed over (catch-up policy, DISABLED).
    """

    runs: tuple[datetime, ...]
    watermark: datetime | None
    next_due: datetime | None
    skipped: int = 0


def plan_runs(
    spec: ScheduleSpec,
    last_fire: datetime | None,
    now: datetime,
    *,
    name: str = "",
    since: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
) -> RunPlan:
    """Decide which fire times to start now.

    A fire time is *due* once its start time (fire time plus flexible offset) is at or before
    ``now``; due fire times are taken in order, and one that is not due yet holds back the
    later ones. A due fire time whose start is more than ``grace`` before ``now`` was *missed*
    (the scheduler was down or busy). Missed fire times follow the catch-up policy:

    * ``skip``: missed fire times do not run; on-time ones do.
    * ``once``: on-time ones run; when there are none, the latest missed one runs (once).
    * ``all``: every due fire time runs (at most :data:`MAX_RUNS_PER_PLAN` per plan).

    A DISABLED schedule runs nothing but still moves its watermark, so enabling it later does
    not catch up on the disabled period.

    Args:
        spec: The schedule.
        last_fire: The last fire time handled (exclusive lower bound), or None.
        now: The current time (aware).
        name: The schedule name (for flexible offsets).
        since: With ``last_fire`` None, the first instant fire times count from (inclusive),
            e.g. the creation time; with both None, only fire times within ``grace`` of ``now``.
        grace: How late a start may be and still be on time.

    Returns:
        The plan; its watermark is what to store as the new last fire time.
    """
    now = as_utc(now)
    if last_fire is not None:
        low = as_utc(last_fire)
    elif since is not None:
        low = as_utc(since) - _TINY
    else:
        window = timedelta(minutes=spec.flexible_window_minutes or 0)
        low = now - grace - window - _TINY
    due: list[datetime] = []
    next_due: datetime | None = None
    limit = MAX_RUNS_PER_PLAN if spec.catch_up == "all" and spec.state == "ENABLED" else None
    for fire_time in spec.fire_times(low):
        start = fire_time + spec.start_offset(name, fire_time)
        if start > now or (limit is not None and len(due) >= limit):
            next_due = start if start > now else now
            break
        due.append(fire_time)
    if not due:
        return RunPlan((), last_fire and as_utc(last_fire), next_due)
    if spec.state != "ENABLED":
        return RunPlan((), due[-1], next_due, skipped=len(due))
    on_time = [t for t in due if now - (t + spec.start_offset(name, t)) <= grace]
    if spec.catch_up == "all":
        runs = due
    elif spec.catch_up == "once":
        runs = on_time or due[-1:]
    else:
        runs = on_time
    return RunPlan(tuple(runs), due[-1], next_due, skipped=len(due) - len(runs))


def due_runs(
    spec: ScheduleSpec,
    last_fire: datetime | None,
    now: datetime,
    *,
    name: str = "",
    since: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
) -> list[datetime]:
    """Return the fire times to start now under the catch-up policy (see :func:`plan_runs`).

    Args:
        spec: The schedule.
        last_fire: The last fire time handled, or None.
        now: The current time (aware).
        name: The schedule name (for flexible offsets).
        since: With ``last_fire`` None, where fire times count from.
        grace: How late a start may be and still be on time.
    """
    plan = plan_runs(spec, last_fire, now, name=name, since=since, grace=grace)
    return list(plan.runs)
