"""Schedule routes (``Stackflow::Schedule``): list, describe with next fire times, backfill.

Reading needs the ``read`` role, backfilling ``operate``. Schedules are described as
``stackflow schedule list|describe --json`` prints them
(:func:`stackflow.scheduler.service.describe_schedule`); a backfill answers as
``schedule backfill --json``. The runs a backfill starts are driven by this server.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from stackflow.api.common import OPERATE, READ, engine_of
from stackflow.errors import NotFoundError
from stackflow.views import scheduled_run_json

__all__ = ["router"]

router = APIRouter(tags=["schedules"])


class BackfillRequest(BaseModel):
    """Body of ``POST /schedules/{name}/backfill``."""

    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(
        ...,
        alias="from",
        description="First time of the range (ISO 8601; without an offset, in the schedule's "
        "zone).",
    )
    end: str = Field(
        ..., alias="to", description="Last time of the range, inclusive (not in the future)."
    )


@router.get("/schedules", dependencies=READ)
def list_schedules(
    request: Request, stack: str | None = Query(None, description="Only this stack's schedules.")
) -> list[dict[str, Any]]:
    """List schedules with their settings and next fire time."""
    from stackflow.scheduler.service import describe_schedule

    now = time.time()
    records = engine_of(request).store.schedules.list_schedules(stack_name=stack)
    return [describe_schedule(record, now, count=1) for record in records]


@router.get("/schedules/{name}", dependencies=READ)
def describe_schedule_route(
    name: str,
    request: Request,
    count: int = Query(5, ge=0, le=1000, description="How many next fire times to list."),
) -> dict[str, Any]:
    """Return a schedule and its next fire times (UTC and in the schedule's zone)."""
    from stackflow.scheduler.service import describe_schedule

    store = engine_of(request).store.schedules
    record = store.find_schedule(name)
    if record is None:
        known = [r.name for r in store.list_schedules()]
        hint = f" Known schedules: {', '.join(known)}." if known else " There are no schedules."
        raise NotFoundError(f"no schedule named {name!r}.{hint}")
    return describe_schedule(record, time.time(), count=count)


@router.post("/schedules/{name}/backfill", dependencies=OPERATE)
def backfill_schedule(name: str, body: BackfillRequest, request: Request) -> list[dict[str, Any]]:
    """Start the runs of every fire time from ``from`` to ``to`` (inclusive).

    Each run gets its fire time's usual execution name, so a time that already ran is not run
    again (``execution`` is null when that name exists with another input).
    """
    from stackflow.scheduler.schedule import ScheduleSpec, parse_instant
    from stackflow.scheduler.service import SchedulerService, engine_starter

    engine = engine_of(request)
    record = engine.store.schedules.get_schedule(name)
    spec = ScheduleSpec.from_json(record.spec)
    start = parse_instant(body.start, pointer="/from", zone=spec.zone)
    end = parse_instant(body.end, pointer="/to", zone=spec.zone)
    service = SchedulerService(engine.store, engine_starter(engine))
    return [scheduled_run_json(run) for run in service.backfill(name, start, end)]
