"""``stackflow workflow ...``: run workflows and read executions back.

The engine is imported inside each command, so ``stackflow --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stackflow.cli.main import StackflowGroup, resolve_home
from stackflow.cli.output import (
    dumps,
    format_duration,
    format_time,
    format_timestamp,
    is_tty,
    print_json,
    print_table,
    problem_json,
    problem_line,
    status_style,
    summarize,
)
from stackflow.errors import DefinitionError, Problem, SourceLocation

if TYPE_CHECKING:
    from stackflow.engine import Engine
    from stackflow.store.base import ExecutionRecord, HistoryEvent
    from stackflow.workflow.asl.loader import LoadedDefinition

F = TypeVar("F", bound=Callable[..., Any])

#: Execution statuses accepted by ``workflow list --status``.
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def json_option(func: F) -> F:
    """Add the ``--json`` flag (print only JSON to stdout) to a command."""
    return click.option("--json", "as_json", is_flag=True, help="Print only JSON to stdout.")(func)


def home_option(func: F) -> F:
    """Add the ``--home DIR`` option (overrides the group's ``--home``) to a command."""
    return click.option(
        "--home",
        metavar="DIR",
        help="Directory holding stackflow's data (default: $STACKFLOW_HOME or ~/.stackflow).",
    )(func)


def load_or_problems(file: str) -> tuple[LoadedDefinition | None, str, list[Problem]]:
    """Load and validate a definition file, collecting problems instead of raising.

    Args:
        file: Path of a JSON or YAML definition.

    Returns:
        The loaded definition (None when invalid), its workflow name, and every problem found.
    """
    from stackflow.engine import load_workflow

    try:
        loaded, name = load_workflow(file)
    except DefinitionError as exc:
        return None, "", list(exc.problems)
    except (OSError, UnicodeDecodeError) as exc:
        location = SourceLocation(file, None, None, "")
        return None, "", [Problem(location, f"cannot read the file: {exc}", "FILE_NOT_READABLE")]
    return loaded, name, []


def parse_input(text: str | None) -> Any:
    """Parse the ``--input`` value: JSON text, ``@FILE`` or ``@-`` (standard input).

    Args:
        text: The option's value; None means ``{}``.

    Returns:
        The parsed JSON value.

    Raises:
        click.BadParameter: The file cannot be read or the text is not JSON (exit status 2).
    """
    if text is None:
        return {}
    source = "the value"
    if text.startswith("@"):
        path = text[1:]
        source = "standard input" if path == "-" else f"file {path!r}"
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"cannot read {source}: {exc}", param_hint="'--input'")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            param_hint="'--input'",
        )


def record_json(record: ExecutionRecord, *, full: bool = False) -> dict[str, Any]:
    """Return an execution as the JSON object ``list`` and ``describe`` print.

    Args:
        record: The execution.
        full: Include input, output and the definition (for ``describe``).

    Returns:
        ``execution, name, workflow, status, start_time, stop_time, error, cause, parent_id``
        (times in seconds since the epoch), plus ``input, output, definition`` when ``full``.
    """
    data: dict[str, Any] = {
        "execution": record.execution_id,
        "name": record.name,
        "workflow": record.workflow,
        "status": record.status,
        "start_time": record.start_time,
        "stop_time": record.stop_time,
        "error": record.error,
        "cause": record.cause,
        "parent_id": record.parent_id,
    }
    if full:
        try:
            definition: Any = json.loads(record.definition)
        except ValueError:
            definition = record.definition
        data.update(input=record.input, output=record.output, definition=definition)
    return data


def event_json(event: HistoryEvent) -> dict[str, Any]:
    """Return a history event as the JSON object ``history --json`` prints.

    Args:
        event: The event.

    Returns:
        ``{"id", "type", "timestamp", "previous_event_id", "details"}``.
    """
    return {
        "id": event.id,
        "type": event.type,
        "timestamp": event.timestamp,
        "previous_event_id": event.previous_event_id,
        "details": event.details,
    }


def _open_engine(ctx: click.Context, home: str | None) -> Engine:
    from stackflow.engine import Engine

    return Engine.open(resolve_home(ctx, home))


def _report_invalid(problems: list[Problem], message: str, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "execution": None,
                "status": None,
                "error": "DefinitionError",
                "cause": message,
                "problems": [problem_json(p) for p in problems],
            }
        )
    else:
        for problem in problems:
            click.echo(problem_line(problem), err=True)
    raise click.exceptions.Exit(1)


def _put_cwd_on_path() -> None:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


@click.group(cls=StackflowGroup)
def workflow() -> None:
    """Run workflows and inspect their executions."""


@workflow.command("run")
@click.argument("file")
@click.option(
    "--input",
    "input_text",
    metavar="JSON|@FILE",
    help="Execution input: JSON text, @FILE to read it from a file, or @- for stdin.",
)
@click.option("--name", help="Execution name (unique per workflow; default: a UUID).")
@json_option
@home_option
@click.pass_context
def run(
    ctx: click.Context,
    file: str,
    input_text: str | None,
    name: str | None,
    as_json: bool,
    home: str | None,
) -> None:
    """Run the workflow defined in FILE to completion and print its output.

    Exits 0 when the execution succeeded, 1 otherwise. Python task modules
    (``python:MODULE:FUNCTION``) are imported relative to the current directory.
    """
    data = parse_input(input_text)
    loaded, workflow_name, problems = load_or_problems(file)
    if loaded is None:
        head = f"Invalid state machine definition: {len(problems)} problem(s) found"
        summary = str(DefinitionError(problems, head))
        _report_invalid(problems, summary, as_json)
        return
    _put_cwd_on_path()
    engine = _open_engine(ctx, home)
    try:
        try:
            record = _run(engine, loaded, data, name, workflow_name, as_json)
        except DefinitionError as exc:
            _report_invalid(exc.problems, str(exc), as_json)
            return
    finally:
        engine.close()
    if as_json:
        print_json(
            {
                "execution": record.execution_id,
                "status": record.status,
                "output": record.output,
                "error": record.error,
                "cause": record.cause,
            }
        )
    else:
        duration = format_duration(record.start_time, record.stop_time)
        click.echo(f"execution {record.execution_id} {record.status} in {duration}", err=True)
        if record.status == "SUCCEEDED":
            click.echo(dumps(record.output))
        else:
            text = record.error or record.status
            click.echo(f"{text}: {record.cause}" if record.cause else text)
    if record.status != "SUCCEEDED":
        raise click.exceptions.Exit(1)


def _run(
    engine: Engine,
    loaded: LoadedDefinition,
    data: Any,
    name: str | None,
    workflow_name: str,
    as_json: bool,
) -> ExecutionRecord:
    from stackflow.cli.progress import LiveProgress, PlainProgress

    def execute(listener: Callable[[HistoryEvent], None] | None) -> ExecutionRecord:
        record = engine.start(loaded, data, name=name, workflow=workflow_name, listener=listener)
        if isinstance(listener, LiveProgress):
            listener.title = f"{workflow_name} {record.execution_id}"
        try:
            return engine.wait(record.execution_id)
        except KeyboardInterrupt:
            engine.stop(record.execution_id, error="Interrupted", cause="stopped from the CLI")
            return engine.wait(record.execution_id, timeout=10)

    if as_json:
        return execute(None)
    if is_tty(sys.stderr):
        with LiveProgress(loaded.document, title=workflow_name) as live:
            return execute(live)
    return execute(PlainProgress())


@workflow.command("list")
@click.option(
    "--status",
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only executions with this status.",
)
@click.option("--workflow", "workflow_name", metavar="W", help="Only executions of workflow W.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most N."
)
@json_option
@home_option
@click.pass_context
def list_command(
    ctx: click.Context,
    status: str | None,
    workflow_name: str | None,
    limit: int,
    as_json: bool,
    home: str | None,
) -> None:
    """List executions, newest first."""
    with _open_engine(ctx, home) as engine:
        records = engine.list_executions(
            status=status.upper() if status else None, workflow=workflow_name, limit=limit
        )
    if as_json:
        print_json([record_json(r) for r in records])
        return
    if not records:
        click.echo("no executions", err=True)
        return
    print_table(
        ("EXECUTION", "NAME", "WORKFLOW", "STATUS", "START", "DURATION"),
        [
            (
                r.execution_id,
                r.name,
                r.workflow,
                r.status,
                format_time(r.start_time),
                format_duration(r.start_time, r.stop_time),
            )
            for r in records
        ],
        styles=[status_style(r.status) for r in records],
    )


@workflow.command("describe")
@click.argument("execution_id", metavar="ID")
@json_option
@home_option
@click.pass_context
def describe(ctx: click.Context, execution_id: str, as_json: bool, home: str | None) -> None:
    """Show one execution: status, times, input, output and error."""
    with _open_engine(ctx, home) as engine:
        record = engine.describe(execution_id)
    if as_json:
        print_json(record_json(record, full=True))
        return
    fields = [
        ("Execution", record.execution_id),
        ("Name", record.name),
        ("Workflow", record.workflow),
        ("Status", record.status),
        ("Started", format_time(record.start_time)),
        ("Stopped", format_time(record.stop_time)),
        ("Duration", format_duration(record.start_time, record.stop_time)),
    ]
    if record.parent_id:
        fields.append(("Parent", record.parent_id))
    if record.error is not None:
        fields.append(("Error", record.error))
    if record.cause is not None:
        fields.append(("Cause", record.cause))
    for label, value in fields:
        click.echo(f"{label + ':':<11}{value}")
    click.echo("Input:")
    click.echo(_indent(dumps(record.input)))
    if record.status == "SUCCEEDED":
        click.echo("Output:")
        click.echo(_indent(dumps(record.output)))


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@workflow.command("history")
@click.argument("execution_id", metavar="ID")
@json_option
@home_option
@click.pass_context
def history(ctx: click.Context, execution_id: str, as_json: bool, home: str | None) -> None:
    """Show the history events of an execution, in order."""
    with _open_engine(ctx, home) as engine:
        engine.describe(execution_id)  # unknown id -> NotFoundError
        events = engine.history(execution_id)
    if as_json:
        print_json([event_json(e) for e in events])
        return
    print_table(
        ("ID", "TIMESTAMP", "TYPE", "DETAILS"),
        [
            (str(e.id), format_timestamp(e.timestamp), e.type, summarize(e.details, 80))
            for e in events
        ],
        styles=["red" if e.type.endswith(("Failed", "TimedOut")) else "" for e in events],
    )
