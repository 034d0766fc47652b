"""``stackflow schedule ...``: list and describe schedules, and backfill past fire times.

Schedules are created by stacks (``Stackflow::Schedule`` / ``AWS::Scheduler::Schedule``) and run
by ``stackflow server``; with ``--server`` the commands go through its API. Times are shown in
each schedule's own time zone. Every command takes ``--json`` (one JSON document on stdout, the
shape of :func:`stackflow.scheduler.service.describe_schedule`, locally and through a server).
"""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click

from stackflow.cli.main import StackflowGroup
from stackflow.cli.output import print_json, print_table
from stackflow.cli.remote import as_remote
from stackflow.cli.workflow_commands import home_option, json_option, open_engine
from stackflow.errors import NotFoundError
from stackflow.views import scheduled_run_json

if TYPE_CHECKING:
    from stackflow.client import RemoteEngine
    from stackflow.client.services import RemoteSchedules
    from stackflow.scheduler.service import ScheduledRun
    from stackflow.store.schedules import ScheduleRecord, ScheduleStore

#: How many next fire times ``describe`` shows by default.
DEFAULT_COUNT = 5


@click.group(cls=StackflowGroup)
def schedule() -> None:
    """List and describe schedules (Stackflow::Schedule), and backfill past fire times."""


def _get(store: ScheduleStore, name: str) -> ScheduleRecord:
    """Return a schedule or raise NotFoundError naming the known ones."""
    record = store.find_schedule(name)
    if record is None:
        known = [r.name for r in store.list_schedules()]
        hint = f" Known schedules: {', '.join(known)}." if known else " There are no schedules."
        raise NotFoundError(f"no schedule named {name!r}.{hint}")
    return record


def _local(text: str | None) -> str:
    """Shorten an ISO 8601 time for a table: ``2026-12-01 09:00:00+01:00``."""
    return "-" if not text else text.replace("T", " ")


@schedule.command("list")
@click.option("--stack", "stack_name", help="Only the schedules of this stack.")
@json_option
@home_option
@click.pass_context
def list_schedules(
    ctx: click.Context, stack_name: str | None, as_json: bool, home: str | None
) -> None:
    """List schedules: expression, zone, state, catch-up policy, target and next fire time."""
    from stackflow.scheduler.service import describe_schedule

    now = time.time()
    with open_engine(ctx, home) as engine:
        remote = as_remote(engine)
        if remote is not None:
            described = _remote(remote).list_schedules(stack_name)
        else:
            records = engine.store.schedules.list_schedules(stack_name=stack_name)
            described = [describe_schedule(r, now, count=1) for r in records]
    if as_json:
        print_json(described)
        return
    print_table(
        ["NAME", "EXPRESSION", "ZONE", "STATE", "CATCH-UP", "WORKFLOW", "NEXT FIRE"],
        [
            [
                d["name"],
                str(d.get("expression")),
                str(d.get("timezone")),
                "INVALID" if d.get("error") else str(d.get("state")),
                str(d.get("catch_up")),
                str(d.get("workflow") or "-"),
                _local(d["next_fire_times"][0]["local"] if d["next_fire_times"] else None),
            ]
            for d in described
        ],
    )


@schedule.command("describe")
@click.argument("name")
@click.option(
    "--count",
    type=click.IntRange(0, 1000),
    default=DEFAULT_COUNT,
    show_default=True,
    help="How many next fire times to show.",
)
@json_option
@home_option
@click.pass_context
def describe(ctx: click.Context, name: str, count: int, as_json: bool, home: str | None) -> None:
    """Show a schedule and its next fire times in the schedule's time zone."""
    from stackflow.scheduler.service import describe_schedule

    with open_engine(ctx, home) as engine:
        remote = as_remote(engine)
        if remote is not None:
            data = _remote(remote).describe(name, count)
        else:
            record = _get(engine.store.schedules, name)
            data = describe_schedule(record, time.time(), count=count)
    if as_json:
        print_json(data)
        return
    _print_description(data)


def _print_description(data: dict[str, Any]) -> None:
    window = data.get("flexible_window_minutes")
    rows = [
        ("Name", data["name"]),
        ("Stack", f"{data['stack']} ({data['logical_id']})" if data["stack"] else "-"),
        ("Expression", data.get("expression")),
        ("Time zone", data.get("timezone")),
        ("State", data.get("state")),
        ("Catch-up", data.get("catch_up")),
        ("Flexible window", f"{window} minutes" if window else "off"),
        ("Start date", data.get("start_date") or "-"),
        ("End date", data.get("end_date") or "-"),
        ("Workflow", data.get("workflow") or "-"),
        ("Last fire time", data.get("last_fire_time") or "-"),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<17}{value}")
    if data.get("error"):
        click.echo(f"{'Error:':<17}{data['error']}")
        return
    times = data["next_fire_times"]
    if data.get("state") != "ENABLED":
        click.echo("Next fire times: none (the schedule is disabled)")
    elif not times:
        click.echo("Next fire times: none (the schedule will not fire again)")
    else:
        click.echo(f"Next fire times ({data.get('timezone')}):")
        for entry in times:
            click.echo(f"  {_local(entry['local'])}  ({entry['utc']})")


@schedule.command("backfill")
@click.argument("name")
@click.option(
    "--from",
    "start_text",
    required=True,
    metavar="TIME",
    help="First time of the range (ISO 8601; without an offset, in the schedule's zone).",
)
@click.option(
    "--to",
    "end_text",
    required=True,
    metavar="TIME",
    help="Last time of the range, inclusive (not in the future).",
)
@json_option
@home_option
@click.pass_context
def backfill(
    ctx: click.Context,
    name: str,
    start_text: str,
    end_text: str,
    as_json: bool,
    home: str | None,
) -> None:
    """Start the runs of every fire time of NAME from --from to --to.

    Each run gets the fire time's usual execution name, so a time that already ran is not run
    again. The executions are recorded here and run by `stackflow server` (or a `stackflow
    worker`) on the same home.
    """
    from stackflow.scheduler.schedule import ScheduleSpec
    from stackflow.scheduler.service import SchedulerService, engine_starter

    with open_engine(ctx, home) as engine:
        remote = as_remote(engine)
        if remote is not None:
            schedules = _remote(remote)
            zone = _zone(schedules.describe(name, 0))
            if zone is not None:  # an invalid stored schedule: the server names the problem
                _parse_range(start_text, end_text, zone)
            rows = schedules.backfill(name, start_text, end_text)
            runs = [_run_from_json(row) for row in rows]
        else:
            spec = ScheduleSpec.from_json(_get(engine.store.schedules, name).spec)
            zone = spec.zone
            start, end = _parse_range(start_text, end_text, zone)
            service = SchedulerService(engine.store, engine_starter(engine, drive=False))
            runs = service.backfill(name, start, end)
    if as_json:
        print_json([scheduled_run_json(run) for run in runs])
        return
    for run in runs:
        local = run.fire_time.astimezone(zone).isoformat().replace("T", " ")
        click.echo(
            f"{local}  {run.execution_name}  "
            f"{run.execution_id or '(exists already, with another input)'}"
        )
    click.echo(f"{len(runs)} run(s) of schedule {name} recorded", err=True)


def _remote(engine: RemoteEngine) -> RemoteSchedules:
    from stackflow.client.services import RemoteSchedules

    return RemoteSchedules(engine.api)


def _zone(data: dict[str, Any]) -> tzinfo | None:
    """Return the time zone of a described schedule (None when its stored spec is invalid)."""
    from stackflow.scheduler.zones import load_zone

    if data.get("error"):
        return None
    return load_zone(str(data.get("timezone") or "UTC"))


def _parse_range(start_text: str, end_text: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """Parse --from and --to (a time without an offset is in ``zone``)."""
    from stackflow.scheduler.expressions import ExpressionError
    from stackflow.scheduler.schedule import parse_instant

    try:
        return parse_instant(start_text, zone=zone), parse_instant(end_text, zone=zone)
    except ExpressionError as exc:
        raise click.BadParameter(exc.problems[0].message, param_hint="'--from'/'--to'") from None


def _run_from_json(data: dict[str, Any]) -> ScheduledRun:
    """Return a run from ``schedule backfill --json`` (the API's answer)."""
    from stackflow.scheduler.service import ScheduledRun

    fire_time = datetime.fromisoformat(str(data["fire_time"]).replace("Z", "+00:00"))
    return ScheduledRun(fire_time, str(data["execution_name"]), data.get("execution"))
