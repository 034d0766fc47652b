"""The scheduler service: starts one execution per fire time of every stored schedule.

:class:`SchedulerService` reads schedules from the store (``store.schedules``), asks
:func:`~stackflow.scheduler.schedule.plan_runs` what is due, and starts each due fire time
through ``engine_start`` under its deterministic execution name
(:func:`~stackflow.scheduler.schedule.execution_name`).

Exactly once: a fire time is started *before* the schedule's watermark is moved past it (a
compare-and-set, :meth:`~stackflow.store.schedules.ScheduleStore.advance`). A crash between the
two starts the same execution name again after the restart, which finds the execution that
exists (Step Functions' rule: same name and input return the existing execution; another input
raises :class:`~stackflow.errors.ExecutionAlreadyExists`, which means someone else started it).
Two servers on one store race the same way and end with one execution per fire time; the one
whose compare-and-set fails leaves the schedule to the other until its next tick.

Time comes from the injected :class:`~stackflow.clock.Clock`; :meth:`SchedulerService.run`
sleeps on it until the next due time (or the poll interval), so a
:class:`~stackflow.clock.FakeClock` drives it in tests without real waiting.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from stackflow.clock import Clock, SystemClock
from stackflow.errors import (
    ExecutionAlreadyExists,
    NotFoundError,
    StackflowError,
    StoreError,
)
from stackflow.scheduler.expressions import ExpressionError
from stackflow.scheduler.schedule import (
    DEFAULT_GRACE,
    ScheduleSpec,
    execution_name,
    plan_runs,
)
from stackflow.scheduler.zones import UTC, as_utc
from stackflow.store.base import Store
from stackflow.store.schedules import ScheduleRecord, ScheduleStore
from stackflow.types import JSON

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "EngineStart",
    "FireFailure",
    "ScheduledRun",
    "SchedulerService",
    "describe_schedule",
    "engine_starter",
]

#: Starts an execution: (workflow, input, execution name) -> execution id.
EngineStart = Callable[[str, JSON, str], str]

#: Longest sleep between two looks at the store (schedules added by other processes).
DEFAULT_POLL_INTERVAL = 5.0
#: Sleep after a transient failure (a store error) before trying again.
RETRY_DELAY = 1.0
#: Most fire times one backfill may start.
DEFAULT_BACKFILL_LIMIT = 1000

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FireFailure:
    """A fire time that could not be started (or a schedule that could not be read).

    Attributes:
        schedule: The schedule name.
        fire_time: The fire time, or None when the schedule itself is broken.
        error: What went wrong.
        transient: True when it is tried again (the watermark did not move past it).
    """

    schedule: str
    fire_time: datetime | None
    error: str
    transient: bool = False


@dataclass(frozen=True)
class ScheduledRun:
    """A fire time started by :meth:`SchedulerService.backfill`.

    Attributes:
        fire_time: The fire time (UTC).
        execution_name: Its execution name.
        execution_id: The execution's id; None when an execution of that name existed with
            another input (started earlier, e.g. before the schedule's input changed).
    """

    fire_time: datetime
    execution_name: str
    execution_id: str | None


def engine_starter(engine: Any, *, drive: bool = True) -> EngineStart:
    """Return an :data:`EngineStart` over an :class:`~stackflow.engine.Engine`.

    Args:
        engine: The engine (anything with ``start(definition, input, name=..., drive=...)``
            returning an execution record).
        drive: True runs the executions in the engine's runtime; False only records them for
            a server or worker to run.
    """

    def start(workflow: str, input: JSON, name: str) -> str:
        record = engine.start(workflow, input, name=name, drive=drive)
        return str(record.execution_id)

    return start


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else as_utc(instant).isoformat().replace("+00:00", "Z")


def describe_schedule(record: ScheduleRecord, now: float, count: int = 5) -> dict[str, Any]:
    """Return the JSON description of a schedule (the CLI's ``--json`` shape, for the API too).

    Args:
        record: The stored schedule.
        now: The current time (epoch seconds); next fire times are after it.
        count: How many next fire times to list (none while DISABLED).

    Returns:
        Name, owner, settings, ``last_fire_time``, ``created_at``, ``updated_at`` (ISO 8601,
        UTC) and ``next_fire_times``: ``[{"utc": ..., "local": ...}]`` with the local time in
        the schedule's zone; ``error`` instead of the settings when the stored spec is invalid.
    """
    data: dict[str, Any] = {
        "name": record.name,
        "stack": record.stack_name,
        "logical_id": record.logical_id,
        "last_fire_time": _iso(_instant(record.last_fire_time)),
        "created_at": _iso(_instant(record.created_at)),
        "updated_at": _iso(_instant(record.updated_at)),
    }
    try:
        spec = ScheduleSpec.from_json(record.spec)
    except ExpressionError as exc:
        data.update({k: v for k, v in record.spec.items() if k not in data})
        data["error"] = str(exc)
        data["next_fire_times"] = []
        return data
    settings = spec.to_json()
    settings.pop("created_at")
    data.update(settings)
    after = _now(now)
    if record.last_fire_time is not None:
        after = max(after, _instant(record.last_fire_time) or after)
    times = spec.next_fire_times(after, count) if spec.state == "ENABLED" else []
    data["next_fire_times"] = [
        {"utc": _iso(t), "local": t.astimezone(spec.zone).isoformat()} for t in times
    ]
    return data


def _instant(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(round(epoch, 6), UTC)


def _now(value: float | datetime) -> datetime:
    return as_utc(value) if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)


class SchedulerService:
    """Starts the due fire times of every stored schedule, exactly once each.

    Args:
        store: The store (its ``schedules``) or a schedule store.
        engine_start: Starts an execution: ``(workflow, input, execution name) -> id``; see
            :func:`engine_starter`.
        clock: Source of time (default: real time).
        grace: Seconds a fire time may be late and still be on time; later ones are missed
            and follow their schedule's catch-up policy.
        poll_interval: Longest sleep of :meth:`run` between two looks at the store.
        on_failure: Called with each :class:`FireFailure` (also logged and kept in
            :attr:`failures`).
    """

    def __init__(
        self,
        store: Store | ScheduleStore,
        engine_start: EngineStart,
        clock: Clock | None = None,
        *,
        grace: float = DEFAULT_GRACE.total_seconds(),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_failure: Callable[[FireFailure], None] | None = None,
    ) -> None:
        self.schedules: ScheduleStore = (
            store if isinstance(store, ScheduleStore) else store.schedules
        )
        self.engine_start = engine_start
        self.clock: Clock = clock or SystemClock()
        self.grace = timedelta(seconds=grace)
        self.poll_interval = poll_interval
        self.on_failure = on_failure
        #: The most recent failures, oldest first.
        self.failures: deque[FireFailure] = deque(maxlen=100)
        self._wake = threading.Event()
        self._stop: threading.Event | None = None
        self._next_due: float | None = None
        self._retry = False

    # ------------------------------------------------------------------ ticking

    def tick(self, now: float | datetime | None = None) -> list[str]:
        """Start every due fire time of every schedule.

        Args:
            now: The current time (epoch seconds or an aware datetime; default: the clock).

        Returns:
            The ids of the executions started (or found already started with the same input)
            for the fire times handled now, in order.
        """
        current = _now(self.clock.now() if now is None else now)
        started: list[str] = []
        self._next_due = None
        self._retry = False
        for record in self.schedules.list_schedules():
            started.extend(self._tick_one(record, current))
        return started

    def next_wakeup(self) -> float | None:
        """Return when (epoch seconds) the last :meth:`tick` saw the next fire time due."""
        return self._next_due

    def _tick_one(self, record: ScheduleRecord, now: datetime) -> list[str]:
        try:
            spec = ScheduleSpec.from_json(record.spec)
        except ExpressionError as exc:
            self._fail(FireFailure(record.name, None, f"invalid schedule: {exc}"))
            return []
        plan = plan_runs(
            spec,
            _instant(record.last_fire_time),
            now,
            name=record.name,
            # The spec keeps its creation time to the whole second (a rate counts from it);
            # the record's has microseconds, which would put that first fire time before it.
            since=spec.created_at or _instant(record.created_at),
            grace=self.grace,
        )
        if plan.skipped and spec.state == "ENABLED":
            _log.info(
                "schedule %s: %d missed fire time(s) skipped (catch-up %s)",
                record.name,
                plan.skipped,
                spec.catch_up,
            )
        watermark = record.last_fire_time
        started: list[str] = []
        for fire_time in plan.runs:
            try:
                execution_id = self._start(record.name, spec, fire_time)
            except StoreError as exc:
                if not isinstance(exc, NotFoundError):
                    self._fail(FireFailure(record.name, fire_time, str(exc), transient=True))
                    self._retry = True
                    return started
                self._fail(FireFailure(record.name, fire_time, str(exc)))
                execution_id = None
            except Exception as exc:  # a broken target must not stop the schedule
                self._fail(FireFailure(record.name, fire_time, f"{type(exc).__name__}: {exc}"))
                execution_id = None
            if not self.schedules.advance(record.name, watermark, fire_time.timestamp()):
                return started  # another scheduler moved the watermark: it has the schedule
            watermark = fire_time.timestamp()
            if execution_id is not None:
                started.append(execution_id)
        if plan.watermark is not None and (
            watermark is None or plan.watermark.timestamp() > watermark
        ):
            self.schedules.advance(record.name, watermark, plan.watermark.timestamp())
        if plan.next_due is not None:
            due = plan.next_due.timestamp()
            self._next_due = due if self._next_due is None else min(self._next_due, due)
        return started

    def _start(self, name: str, spec: ScheduleSpec, fire_time: datetime) -> str | None:
        """Start one fire time; None when another input already started its name."""
        if not spec.workflow:
            raise StackflowError(f"schedule {name!r} has no target workflow")
        execution = execution_name(name, fire_time)
        try:
            return self.engine_start(spec.workflow, spec.input_for(name, fire_time), execution)
        except ExecutionAlreadyExists:
            _log.info("schedule %s: %s was already started", name, execution)
            return None

    def _fail(self, failure: FireFailure) -> None:
        _log.warning(
            "schedule %s%s: %s",
            failure.schedule,
            f" at {failure.fire_time.isoformat()}" if failure.fire_time else "",
            failure.error,
        )
        self.failures.append(failure)
        if self.on_failure is not None:
            self.on_failure(failure)

    # ------------------------------------------------------------------ running

    def run(self, stop_event: threading.Event) -> None:
        """Tick until ``stop_event`` is set, sleeping on the clock until the next due time.

        Sleeps at most :attr:`poll_interval` (schedules created by other processes are seen
        then); :meth:`wake` ends a sleep at once, :meth:`stop` sets ``stop_event`` and wakes.

        Args:
            stop_event: Set to make the loop return (within the poll interval, at once with
                :meth:`stop` or :meth:`wake`).
        """
        self._stop = stop_event
        try:
            while not stop_event.is_set():
                self._wake.clear()
                now = self.clock.now()
                try:
                    self.tick(now)
                except StoreError as exc:
                    self._fail(FireFailure("*", None, str(exc), transient=True))
                    self._retry = True
                if stop_event.is_set():
                    break
                deadline = now + self.poll_interval
                if self._next_due is not None:
                    deadline = min(deadline, self._next_due)
                if self._retry:
                    deadline = max(deadline, now + min(RETRY_DELAY, self.poll_interval))
                self.clock.sleep_until(deadline, self._wake)
        finally:
            self._stop = None

    def wake(self) -> None:
        """End the current sleep of :meth:`run` (e.g. a schedule changed)."""
        self._wake.set()

    def stop(self) -> None:
        """Make :meth:`run` return: set its stop event and wake it."""
        if self._stop is not None:
            self._stop.set()
        self._wake.set()

    # ------------------------------------------------------------------ backfill

    def backfill(
        self,
        name: str,
        start: datetime,
        end: datetime,
        *,
        now: float | datetime | None = None,
        limit: int = DEFAULT_BACKFILL_LIMIT,
    ) -> list[ScheduledRun]:
        """Start the runs of every fire time of a schedule from ``start`` to ``end``.

        The catch-up policy, the state and the watermark do not matter: each fire time in the
        range is started under its usual execution name, so a fire time that already ran is
        not run again. Flexible windows are not applied (the runs start now).

        Args:
            name: The schedule.
            start: First instant of the range (inclusive, aware).
            end: Last instant of the range (inclusive, aware); not after ``now``.
            now: The current time (default: the clock).
            limit: Most fire times allowed in the range.

        Returns:
            One entry per fire time, in order.

        Raises:
            NotFoundError: No such schedule.
            StackflowError: The range is empty, reaches into the future, or holds more than
                ``limit`` fire times; or a run could not be started (those before it were).
        """
        record = self.schedules.get_schedule(name)
        spec = ScheduleSpec.from_json(record.spec)
        low, high = as_utc(start), as_utc(end)
        current = _now(self.clock.now() if now is None else now)
        if high < low:
            raise StackflowError(
                f"the backfill range ends ({high.isoformat()}) before it starts ({low.isoformat()})"
            )
        if high > current:
            raise StackflowError(
                f"the backfill range must lie in the past: its end {high.isoformat()} is after "
                f"now ({current.isoformat()}); the scheduler starts future fire times itself"
            )
        times = list(islice(spec.fire_times(low - timedelta(microseconds=1), high), limit + 1))
        if len(times) > limit:
            raise StackflowError(
                f"the range holds more than {limit} fire times of schedule {name!r}; "
                "backfill a shorter range at a time"
            )
        runs: list[ScheduledRun] = []
        for fire_time in times:
            execution_id = self._start(name, spec, fire_time)
            runs.append(ScheduledRun(fire_time, execution_name(name, fire_time), execution_id))
        return runs
