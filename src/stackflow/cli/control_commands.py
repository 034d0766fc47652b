"""``stackflow workflow start|deploy|stop|redrive|send-task-*``: durable execution control.

These commands record intent in the store and return; a ``stackflow worker`` (or the process
running ``workflow run``) carries it out. Like every command module, the engine is imported
inside the commands only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from stackflow.cli.output import print_json, problem_json, problem_line
from stackflow.cli.remote import as_remote
from stackflow.cli.workflow_commands import (
    follow,
    home_option,
    input_and_name_options,
    json_option,
    load_or_problems,
    open_engine,
    open_source,
    parse_input,
    print_outcome,
    put_cwd_on_path,
    report_invalid,
)
from stackflow.errors import DefinitionError, Problem, StackflowError
from stackflow.types import TERMINAL_STATUSES

if TYPE_CHECKING:
    from stackflow.engine import Engine
    from stackflow.store.base import ExecutionRecord, HistoryEvent

#: A name ``deploy`` accepts: what ``NAME`` / ``NAME:VERSION`` references can name.
WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")

#: Longest wait for this process's runtime to take up a redrive or an adopted execution.
SETTLE_SECONDS = 10.0

#: Seconds between looks at the store while waiting.
POLL_SECONDS = 0.02


@click.command("start")
@click.argument("file", metavar="FILE|NAME")
@input_and_name_options
@json_option
@home_option
@click.pass_context
def start(
    ctx: click.Context,
    file: str,
    input_text: str | None,
    name: str | None,
    as_json: bool,
    home: str | None,
) -> None:
    """Record a new execution of a workflow without running it; print its id.

    FILE|NAME is a definition file or a deployed workflow (NAME or NAME:VERSION). A running
    ``stackflow worker`` on the same home picks the execution up and runs it.
    """
    data = parse_input(input_text)
    engine, source = open_source(ctx, home, file, as_json)
    try:
        try:
            record = engine.start(
                source.definition, data, name=name, workflow=source.workflow, drive=False
            )
        except DefinitionError as exc:
            report_invalid(exc.problems, str(exc), as_json)
            return
    finally:
        engine.close()
    if as_json:
        print_json({"execution": record.execution_id})
    else:
        click.echo(record.execution_id)


@click.command("deploy")
@click.argument("file")
@click.option("--name", required=True, help="Workflow name; each deploy adds a version of it.")
@json_option
@home_option
@click.pass_context
def deploy(ctx: click.Context, file: str, name: str, as_json: bool, home: str | None) -> None:
    """Validate FILE and store it as the next version of workflow NAME.

    Run it with ``workflow run NAME`` (latest version) or ``workflow run NAME:VERSION``;
    executions keep the version they started with. Deploying the same definition as the
    latest version again keeps that version.
    """
    if not WORKFLOW_NAME.match(name):
        raise click.BadParameter(
            "use letters, digits, '_', '-' and '.' (not starting with '.')", param_hint="'--name'"
        )
    loaded, _default, problems = load_or_problems(file)
    if loaded is None:
        report_problems_like_validate(file, problems, as_json)
        return
    with open_engine(ctx, home) as engine:
        try:
            version = engine.deploy(loaded, name)
        except DefinitionError as exc:
            report_problems_like_validate(file, exc.problems, as_json)
            return
    if as_json:
        print_json({"workflow": version.name, "version": version.version})
    else:
        click.echo(f"{version.name} version {version.version}")


def report_problems_like_validate(file: str, problems: list[Problem], as_json: bool) -> None:
    """Print definition problems as ``stackflow validate`` does and exit with status 1.

    Args:
        file: The definition file.
        problems: Every problem found.
        as_json: Print ``{"valid": false, "problems": [...]}`` instead of one line each.

    Raises:
        click.exceptions.Exit: Always, with status 1.
    """
    if as_json:
        print_json({"valid": False, "problems": [problem_json(p) for p in problems]})
    else:
        for problem in problems:
            click.echo(problem_line(problem))
        count = len(problems)
        click.echo(f"{file}: {count} problem{'s' if count != 1 else ''} found", err=True)
    raise click.exceptions.Exit(1)


@click.command("stop")
@click.argument("execution_id", metavar="ID")
@click.option("--error", help="Error name recorded on the aborted execution.")
@click.option("--cause", help="Cause recorded on the aborted execution.")
@json_option
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the execution to end (0: only ask).",
)
@home_option
@click.pass_context
def stop(
    ctx: click.Context,
    execution_id: str,
    error: str | None,
    cause: str | None,
    as_json: bool,
    wait_seconds: float,
    home: str | None,
) -> None:
    """Abort a running execution (and its child executions); print its final status.

    Stopping an execution that already ended changes nothing. Exits 1 when it is still
    running after --wait seconds (the stop stays recorded and is carried out later).
    """
    timed_out = False
    with open_engine(ctx, home) as engine:
        engine.stop(execution_id, error=error, cause=cause)
        try:
            record = engine.wait(execution_id, timeout=wait_seconds)
        except TimeoutError:
            record = engine.describe(execution_id)
            timed_out = record.status not in TERMINAL_STATUSES
    if as_json:
        print_json({"execution": record.execution_id, "status": record.status})
    else:
        click.echo(record.status)
    if timed_out and wait_seconds > 0:
        click.echo(
            f"error: execution {execution_id} is still {record.status} after {wait_seconds:g}s; "
            "the stop is recorded and its runtime (or a `stackflow worker`) will carry it out",
            err=True,
        )
        raise click.exceptions.Exit(1)


@click.command("redrive")
@click.argument("execution_id", metavar="ID")
@json_option
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Run the execution here until it ends (--no-wait: leave it to a `stackflow worker`).",
)
@home_option
@click.pass_context
def redrive(
    ctx: click.Context, execution_id: str, as_json: bool, wait: bool, home: str | None
) -> None:
    """Restart a FAILED, TIMED_OUT or ABORTED execution from the state where it stopped.

    With --wait (the default) it runs here like ``workflow run``: exit 0 when it succeeds,
    1 otherwise. With --no-wait the redrive is only recorded; a running ``stackflow worker``
    carries the execution on.
    """
    put_cwd_on_path()
    engine = open_engine(ctx, home)
    remote = as_remote(engine) is not None
    try:
        record = engine.describe(execution_id)
        if wait:
            try:
                document = json.loads(record.definition)
            except ValueError:
                document = None

            def begin(listener: Callable[[HistoryEvent], None] | None) -> ExecutionRecord:
                return _redrive(engine, execution_id, listener)

            final = follow(engine, begin, document=document, title=record.workflow, as_json=as_json)
        else:
            _redrive(engine, execution_id, None)
            final = engine.describe(execution_id)
    finally:
        engine.close()
    if wait:
        print_outcome(final, as_json)
        return
    if as_json:
        print_json({"execution": final.execution_id, "status": final.status})
    elif remote:
        click.echo(final.execution_id)
        click.echo(f"execution {final.execution_id} redriven; the server runs it", err=True)
    else:
        click.echo(final.execution_id)
        click.echo(
            f"execution {final.execution_id} redriven ({final.status}); this command does not "
            "run it: a `stackflow worker` on the same home must be running to carry it on",
            err=True,
        )


def _redrive(
    engine: Engine, execution_id: str, listener: Callable[[HistoryEvent], None] | None
) -> ExecutionRecord:
    """Redrive in this process's runtime and wait until the restart is committed."""
    remote = as_remote(engine)
    if remote is not None:  # the server runs it; events come from its history
        return remote.redrive(execution_id, listener=listener)
    history = engine.history(execution_id)
    last_event = history[-1].id if history else 0
    record = engine.redrive(execution_id)
    if listener is not None:
        engine.runtime.subscribe(execution_id, listener)
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        # The record is read before the history: a lease released after the redrive committed
        # is then never mistaken for a refused redrive.
        current = engine.describe(execution_id)
        events = engine.store.get_history(execution_id, last_event)
        if any(e.type == "ExecutionRedriven" for e in events):
            return record
        if current.owner != engine.runtime.owner:  # released without restarting
            raise StackflowError(
                f"Execution {execution_id} cannot be redriven: there is no record of the state "
                "where it stopped"
            )
        if time.monotonic() >= deadline:
            raise StackflowError(f"the redrive of {execution_id} did not start in time")
        time.sleep(POLL_SECONDS)


def _settle(engine: Engine, task_token: str) -> None:
    """After an answer, let this process's runtime take up an execution it adopted.

    When no runtime held the execution, the answer made this process claim it; waiting until
    the runtime drives it lets ``close`` release the lease at once for a worker to take.
    """
    from stackflow.workflow.asl.tokens import parse_task_token

    if as_remote(engine) is not None:  # the server drives it
        return
    _settle_execution(engine, parse_task_token(task_token)[0])


def _settle_execution(engine: Engine, execution_id: str) -> None:
    """Wait (briefly) until an execution this process adopted is driven, or someone else's."""
    if as_remote(engine) is not None:  # the server drives it
        return
    runtime = engine.runtime
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        record = engine.describe(execution_id)
        if (
            record.owner != runtime.owner
            or record.status in TERMINAL_STATUSES
            or runtime.holds(execution_id)
        ):
            return
        time.sleep(POLL_SECONDS)


@click.command("send-task-success")
@click.argument("task_token", metavar="TOKEN")
@click.option(
    "--output",
    "output_text",
    required=True,
    metavar="JSON|@FILE",
    help="The task's result: JSON text, @FILE to read it from a file, or @- for stdin.",
)
@home_option
@click.pass_context
def send_task_success(
    ctx: click.Context, task_token: str, output_text: str, home: str | None
) -> None:
    """Complete a task waiting for TOKEN (.waitForTaskToken or an activity) with an output."""
    output = parse_input(output_text, "--output")
    with open_engine(ctx, home) as engine:
        engine.send_task_success(task_token, output)
        _settle(engine, task_token)
    click.echo("task success sent", err=True)


@click.command("send-task-failure")
@click.argument("task_token", metavar="TOKEN")
@click.option("--error", help="Error name the task fails with.")
@click.option("--cause", help="Cause the task fails with.")
@home_option
@click.pass_context
def send_task_failure(
    ctx: click.Context, task_token: str, error: str | None, cause: str | None, home: str | None
) -> None:
    """Fail a task waiting for TOKEN; its Retry and Catch rules apply."""
    with open_engine(ctx, home) as engine:
        engine.send_task_failure(task_token, error, cause)
        _settle(engine, task_token)
    click.echo("task failure sent", err=True)


@click.command("send-task-heartbeat")
@click.argument("task_token", metavar="TOKEN")
@home_option
@click.pass_context
def send_task_heartbeat(ctx: click.Context, task_token: str, home: str | None) -> None:
    """Tell a task waiting for TOKEN (with HeartbeatSeconds) that its worker is alive."""
    with open_engine(ctx, home) as engine:
        engine.send_task_heartbeat(task_token)
        _settle(engine, task_token)
    click.echo("task heartbeat sent", err=True)


@click.command("send-event")
@click.argument("execution_id", metavar="ID")
@click.argument("name")
@click.option(
    "--payload",
    "payload_text",
    metavar="JSON|@FILE",
    help="The event's payload: JSON text, @FILE, or @- for stdin (default: null).",
)
@home_option
@click.pass_context
def send_event(
    ctx: click.Context, execution_id: str, name: str, payload_text: str | None, home: str | None
) -> None:
    """Send event NAME to a code workflow waiting in ``stackflow.wait_for_event(NAME)``.

    The event is stored until the workflow asks for it, and is taken exactly once.
    """
    payload = parse_input(payload_text, "--payload") if payload_text is not None else None
    with open_engine(ctx, home) as engine:
        engine.send_event(execution_id, name, payload)
        _settle_execution(engine, execution_id)
    click.echo("event sent", err=True)
