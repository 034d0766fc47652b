"""``stackflow workflow ...``: run workflows and read executions back.

The engine is imported inside each command, so ``stackflow --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from stackflow.cli.main import LazyGroup, resolve_home
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
from stackflow.errors import DefinitionError, NotFoundError, Problem, SourceLocation
from stackflow.views import event_json as event_json
from stackflow.views import record_json as record_json

if TYPE_CHECKING:
    from stackflow.engine import Engine
    from stackflow.store.base import ExecutionRecord, HistoryEvent
    from stackflow.workflow.asl.loader import LoadedDefinition

F = TypeVar("F", bound=Callable[..., Any])

#: Execution statuses accepted by ``workflow list --status``.
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

#: ``workflow`` subcommands defined in other modules, imported on first use.
WORKFLOW_LAZY_COMMANDS = {
    "start": "stackflow.cli.control_commands:start",
    "deploy": "stackflow.cli.control_commands:deploy",
    "stop": "stackflow.cli.control_commands:stop",
    "redrive": "stackflow.cli.control_commands:redrive",
    "graph": "stackflow.cli.graph_command:graph",
    "send-task-success": "stackflow.cli.control_commands:send_task_success",
    "send-task-failure": "stackflow.cli.control_commands:send_task_failure",
    "send-task-heartbeat": "stackflow.cli.control_commands:send_task_heartbeat",
    "send-event": "stackflow.cli.control_commands:send_event",
}


def json_option(func: F) -> F:
    """Add the ``--json`` flag (print only JSON to stdout) to a command."""
    return click.option("--json", "as_json", is_flag=True, help="Print only JSON to stdout.")(func)


def input_and_name_options(func: F) -> F:
    """Add ``--input JSON|@FILE`` and ``--name NAME`` (what starting an execution takes)."""
    func = click.option("--name", help="Execution name (unique per workflow; default: a UUID).")(
        func
    )
    return click.option(
        "--input",
        "input_text",
        metavar="JSON|@FILE",
        help="Execution input: JSON text, @FILE to read it from a file, or @- for stdin.",
    )(func)


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


def parse_input(text: str | None, option: str = "--input") -> Any:
    """Parse the ``--input`` value: JSON text, ``@FILE`` or ``@-`` (standard input).

    Args:
        text: The option's value; None means ``{}``.
        option: The option's name, for error messages.

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
            raise click.BadParameter(f"cannot read {source}: {exc}", param_hint=f"'{option}'")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            param_hint=f"'{option}'",
        )


def open_engine(ctx: click.Context, home: str | None) -> Engine:
    """Open the engine on the command's stackflow home, or on the server when one is given.

    Args:
        ctx: The command's click context.
        home: The command's own ``--home``.

    Returns:
        The open engine; close it when done. With ``--server`` (or ``$STACKFLOW_SERVER``) it is
        a :class:`~stackflow.client.RemoteEngine`: the part of the engine the commands use,
        over the HTTP API; anything else it is asked for fails with a message naming the
        command (see :mod:`stackflow.cli.remote`).
    """
    from stackflow.cli.remote import open_remote
    from stackflow.engine import Engine

    remote = open_remote(ctx, home)
    if remote is not None:
        return cast("Engine", remote)
    return Engine.open(resolve_home(ctx, home))


def report_invalid(problems: list[Problem], message: str, as_json: bool) -> None:
    """Report definition problems as ``run`` does and exit with status 1.

    Args:
        problems: Every problem found.
        message: The summary (the ``cause`` of the JSON report).
        as_json: Print ``{"execution": null, "status": null, "error", "cause", "problems"}``
            to stdout instead of one line per problem to stderr.

    Raises:
        click.exceptions.Exit: Always, with status 1.
    """
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


def put_cwd_on_path() -> None:
    """Make modules in the current directory importable (``python:MODULE:FUNCTION`` tasks)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


@dataclass(frozen=True)
class WorkflowSource:
    """What ``run`` and ``start`` execute: a definition file or a deployed workflow.

    Attributes:
        definition: The loaded file, or ``NAME:VERSION`` of a deployed workflow.
        document: The parsed definition (for the progress display).
        workflow: The workflow name executions are recorded under.
    """

    definition: LoadedDefinition | str
    document: dict[str, Any]
    workflow: str


def resolve_or_problems(
    engine: Engine | None, reference: str
) -> tuple[WorkflowSource | None, list[Problem]]:
    """Load a definition file, or look up a deployed workflow, collecting problems.

    An existing path is always read as a file. Anything else is looked up as a deployed
    workflow (``NAME`` or ``NAME:VERSION``) when ``engine`` is given.

    Args:
        engine: The open engine, or None to only accept files.
        reference: A file path or a deployed workflow's name.

    Returns:
        The source (None when there are problems) and every problem found.
    """
    if engine is None or Path(reference).exists():
        loaded, name, problems = load_or_problems(reference)
        if loaded is None:
            return None, problems
        return WorkflowSource(loaded, dict(loaded.document), name), []
    try:
        text, name, version = engine.resolve(reference)
    except DefinitionError as exc:
        return None, list(exc.problems)
    except NotFoundError:
        location = SourceLocation(reference, None, None, "")
        message = f"no such file, and no deployed workflow is named {reference!r}"
        return None, [Problem(location, message, "WORKFLOW_NOT_FOUND")]
    pinned = f"{name}:{version}" if version is not None else reference
    return WorkflowSource(pinned, json.loads(text), name), []


def open_source(
    ctx: click.Context, home: str | None, reference: str, as_json: bool
) -> tuple[Engine, WorkflowSource]:
    """Open the engine and resolve a FILE-or-NAME argument, reporting problems like ``run``.

    A file is validated before the engine is opened, so an invalid file touches no store.

    Args:
        ctx: The command's click context.
        home: The command's own ``--home``.
        reference: A file path or a deployed workflow's name (``NAME`` or ``NAME:VERSION``).
        as_json: Report problems as JSON.

    Returns:
        The open engine (close it when done) and what to execute.

    Raises:
        click.exceptions.Exit: The definition is invalid or nothing has that name (status 1).
    """
    put_cwd_on_path()  # MODULE:FUNCTION code workflows and python: tasks import from here
    source: WorkflowSource | None = None
    if Path(reference).exists():
        source, problems = resolve_or_problems(None, reference)
        if source is None:
            _report_problems(problems, as_json)
    engine = open_engine(ctx, home)
    if source is None:
        try:
            source, problems = resolve_or_problems(engine, reference)
        except BaseException:
            engine.close()
            raise
        if source is None:
            engine.close()
            _report_problems(problems, as_json)
    assert source is not None
    return engine, source


def _report_problems(problems: list[Problem], as_json: bool) -> None:
    head = f"Invalid state machine definition: {len(problems)} problem(s) found"
    if problems and all(p.code == "WORKFLOW_NOT_FOUND" for p in problems):
        head = "Workflow not found"
    report_invalid(problems, str(DefinitionError(problems, head)), as_json)


def print_outcome(record: ExecutionRecord, as_json: bool) -> None:
    """Print a finished execution as ``run`` does; exit 1 unless it succeeded.

    Args:
        record: The final record.
        as_json: Print ``{"execution", "status", "output", "error", "cause"}`` to stdout;
            otherwise a summary line to stderr and the output (or error) to stdout.

    Raises:
        click.exceptions.Exit: The execution did not succeed (status 1).
    """
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


def follow(
    engine: Engine,
    begin: Callable[[Callable[[HistoryEvent], None] | None], ExecutionRecord],
    *,
    document: dict[str, Any] | None,
    title: str,
    as_json: bool,
) -> ExecutionRecord:
    """Drive an execution in this process until it ends, showing progress on stderr.

    Ctrl-C stops the execution (``Interrupted``) and waits for it to end.

    Args:
        engine: The open engine.
        begin: Starts (or redrives) the execution with a history listener (None with
            ``as_json``) and returns its record.
        document: The parsed definition, for the live table on a terminal.
        title: Text above the live table (the execution id is added).
        as_json: Show no progress.

    Returns:
        The final record.
    """
    from stackflow.cli.progress import LiveProgress, PlainProgress

    def execute(listener: Callable[[HistoryEvent], None] | None) -> ExecutionRecord:
        record = begin(listener)
        if isinstance(listener, LiveProgress):
            listener.title = f"{title} {record.execution_id}"
        try:
            return engine.wait(record.execution_id)
        except KeyboardInterrupt:
            engine.stop(record.execution_id, error="Interrupted", cause="stopped from the CLI")
            return engine.wait(record.execution_id, timeout=10)

    if as_json:
        return execute(None)
    if is_tty(sys.stderr):
        with LiveProgress(document, title=title) as live:
            return execute(live)
    return execute(PlainProgress())


@click.group(cls=LazyGroup, lazy=WORKFLOW_LAZY_COMMANDS)
def workflow() -> None:
    """Run, deploy and control workflows and inspect their executions."""


@workflow.command("run")
@click.argument("file", metavar="FILE|NAME")
@input_and_name_options
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
    """Run a workflow to completion and print its output.

    FILE|NAME is a definition file, or the name of a deployed workflow (NAME for its latest
    version, NAME:VERSION for another). Exits 0 when the execution succeeded, 1 otherwise.
    Python task modules (``python:MODULE:FUNCTION``) are imported relative to the current
    directory.
    """
    data = parse_input(input_text)
    engine, source = open_source(ctx, home, file, as_json)
    put_cwd_on_path()
    try:
        try:
            record = follow(
                engine,
                lambda listener: engine.start(
                    source.definition,
                    data,
                    name=name,
                    workflow=source.workflow,
                    listener=listener,
                ),
                document=source.document,
                title=source.workflow,
                as_json=as_json,
            )
        except DefinitionError as exc:
            report_invalid(exc.problems, str(exc), as_json)
            return
    finally:
        engine.close()
    print_outcome(record, as_json)


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
    with open_engine(ctx, home) as engine:
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
    """Show one execution: status, times, input, output and error.

    For an execution that started child executions (a Distributed Map, or startExecution
    tasks) it also shows how many children have each status (JSON key ``children``).
    """
    from stackflow.cli.remote import count_children

    with open_engine(ctx, home) as engine:
        record = engine.describe(execution_id)
        children = count_children(engine, execution_id)
    if as_json:
        print_json({**record_json(record, full=True), "children": children})
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
    if children:
        fields.append(("Map run", children_summary(children)))
    for label, value in fields:
        click.echo(f"{label + ':':<11}{value}")
    click.echo("Input:")
    click.echo(_indent(dumps(record.input)))
    if record.status == "SUCCEEDED":
        click.echo("Output:")
        click.echo(_indent(dumps(record.output)))


def children_summary(children: dict[str, int]) -> str:
    """Summarize child executions by status, e.g. ``4 children: 3 SUCCEEDED, 1 FAILED``.

    Args:
        children: Status to count (``Store.count_children``).

    Returns:
        One line; statuses in lifecycle order (RUNNING first), unknown ones last.
    """
    order = {status: index for index, status in enumerate(STATUSES)}
    total = sum(children.values())
    parts = [
        f"{count} {status}"
        for status, count in sorted(children.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    ]
    return f"{total} child{'ren' if total != 1 else ''}: " + ", ".join(parts)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@workflow.command("history")
@click.argument("execution_id", metavar="ID")
@json_option
@home_option
@click.pass_context
def history(ctx: click.Context, execution_id: str, as_json: bool, home: str | None) -> None:
    """Show the history events of an execution, in order."""
    with open_engine(ctx, home) as engine:
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
