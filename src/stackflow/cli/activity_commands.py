"""``stackflow activity ...``: external workers take activity tasks and answer them.

A task state whose resource is an activity (``arn:aws:states:REGION:ACCOUNT:activity:NAME`` or
``stackflow:activity:NAME``) waits in the store. A worker takes it with ``activity poll NAME``,
does the work, and answers with ``workflow send-task-success|failure TOKEN``.
"""

from __future__ import annotations

import time

import click

from stackflow.cli.main import StackflowGroup
from stackflow.cli.output import print_json, print_table
from stackflow.cli.workflow_commands import home_option, json_option, open_engine

#: Exit status of ``activity poll`` when no task came within ``--wait``.
NO_TASK_EXIT = 3

#: Seconds between looks at the store while ``activity poll`` waits.
POLL_SECONDS = 0.1


@click.group(cls=StackflowGroup)
def activity() -> None:
    """Take and list activity tasks (answer them with ``workflow send-task-*``)."""


@activity.command("poll")
@click.argument("name")
@click.option("--worker", "worker_name", metavar="W", help="Worker name recorded on the task.")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Keep looking for a task this long.",
)
@json_option
@home_option
@click.pass_context
def poll(
    ctx: click.Context,
    name: str,
    worker_name: str | None,
    wait_seconds: float,
    as_json: bool,
    home: str | None,
) -> None:
    """Take the oldest waiting task of activity NAME.

    Prints ``{"taskToken": ..., "input": ...}`` as JSON (always; --json is accepted for
    symmetry). When no task came within --wait seconds it prints nothing to stdout and exits
    3, so a script can loop on it.
    """
    deadline = time.monotonic() + wait_seconds
    with open_engine(ctx, home) as engine:
        while True:
            task = engine.get_activity_task(name, worker_name)
            remaining = deadline - time.monotonic()
            if task is not None or remaining <= 0:
                break
            time.sleep(min(POLL_SECONDS, remaining))
    if task is None:
        if not as_json:
            click.echo(f"no task waiting for activity {name}", err=True)
        raise click.exceptions.Exit(NO_TASK_EXIT)
    print_json(task)


@activity.command("list")
@json_option
@home_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool, home: str | None) -> None:
    """List activities with the number of tasks waiting for a worker."""
    with open_engine(ctx, home) as engine:
        counts = engine.store.list_activities()
    rows = sorted(counts.items())
    if as_json:
        print_json([{"activity": name, "waiting": count} for name, count in rows])
        return
    if not rows:
        click.echo("no activities", err=True)
        return
    print_table(("ACTIVITY", "WAITING"), [(name, str(count)) for name, count in rows])
