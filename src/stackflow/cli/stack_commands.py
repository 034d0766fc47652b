"""``stackflow stack ...``: plan, apply, delete and inspect stacks (CloudFormation-language).

Every command works on the store in the stackflow home. ``--json`` prints one JSON document in
CloudFormation's field names (DescribeChangeSet, DescribeStacks, DescribeStackEvents,
DetectStackDrift); people get tables, a terraform-like plan and live progress.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stackflow.cli.main import StackflowGroup
from stackflow.cli.output import (
    format_time,
    is_tty,
    print_error,
    print_json,
    print_table,
)
from stackflow.cli.stack_render import (
    event_line,
    print_change_set,
    progress_for,
    status_colour,
    text_diff,
    value_text,
)
from stackflow.cli.workflow_commands import home_option, json_option, open_engine
from stackflow.views import stack_event_json, stack_summary_json

if TYPE_CHECKING:
    from stackflow.stacks.results import StackResult


@click.group(cls=StackflowGroup)
def stack() -> None:
    """Plan, apply, delete and inspect stacks: templates in the CloudFormation language."""


def _parse_parameters(pairs: tuple[str, ...], file: str | None) -> dict[str, str]:
    """Merge ``--parameters FILE`` and ``--param K=V`` (the latter wins).

    The file is a JSON object ``{"Key": "Value"}`` or CloudFormation's list
    ``[{"ParameterKey": ..., "ParameterValue": ...}]``.
    """
    result: dict[str, str] = {}
    if file:
        try:
            data: Any = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"cannot read {file}: {exc}", param_hint="'--parameters'")
        if isinstance(data, dict):
            result.update({str(k): _text(v) for k, v in data.items()})
        elif isinstance(data, list) and all(
            isinstance(item, dict) and "ParameterKey" in item for item in data
        ):
            result.update({str(i["ParameterKey"]): _text(i.get("ParameterValue")) for i in data})
        else:
            raise click.BadParameter(
                f"{file} must hold an object of parameter values or a list of "
                '{"ParameterKey": ..., "ParameterValue": ...}',
                param_hint="'--parameters'",
            )
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="'--param'")
        result[key] = value
    return result


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _stack_options(func: Any) -> Any:
    func = click.option(
        "--parameters",
        "parameters_file",
        metavar="FILE",
        help='Parameter values from a JSON file: {"Key": "Value"} or CloudFormation\'s list.',
    )(func)
    func = click.option(
        "--param",
        "params",
        multiple=True,
        metavar="KEY=VALUE",
        help="A parameter value (repeatable).",
    )(func)
    return click.option("--stack", "stack_name", required=True, help="The stack's name.")(func)


@stack.command()
@click.argument("template")
@_stack_options
@click.option("--save", is_flag=True, help="Save the change set to apply later by its id.")
@click.option("--all", "show_all", is_flag=True, help="Also list unchanged resources.")
@json_option
@home_option
@click.pass_context
def plan(
    ctx: click.Context,
    template: str,
    stack_name: str,
    params: tuple[str, ...],
    parameters_file: str | None,
    save: bool,
    show_all: bool,
    as_json: bool,
    home: str | None,
) -> None:
    """Show what applying TEMPLATE to a stack would change (a change set), without changing it.

    Each resource is added (+), modified (~), replaced (-/+), removed (-) or unchanged, with every
    changed property's value before and after. With --save the change set gets an id that
    `stack apply --change-set ID` executes later (refused if the stack changed meanwhile).
    """
    parameters = _parse_parameters(params, parameters_file)
    with open_engine(ctx, home) as engine:
        change_set = engine.stacks.plan(Path(template), stack_name, parameters, save=save)
    if as_json:
        print_json(change_set.to_json())
        return
    print_change_set(change_set, show_unchanged=show_all)
    if save and change_set.change_set_id:
        click.echo(
            f"Saved. Apply it with: stackflow stack apply --stack {stack_name} "
            f"--change-set {change_set.change_set_id}"
        )


def _apply_options(func: Any) -> Any:
    func = click.option(
        "--no-rollback",
        is_flag=True,
        help="On failure keep what was done (CREATE_FAILED/UPDATE_FAILED) instead of rolling back.",
    )(func)
    func = click.option(
        "--parallelism",
        type=click.IntRange(1, 1000),
        default=10,
        show_default=True,
        help="Resources worked on at once.",
    )(func)
    func = click.option(
        "--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal."
    )(func)
    return click.option(
        "--change-set", "change_set_id", metavar="ID", help="Execute a saved change set."
    )(func)


def _interactive() -> bool:
    return is_tty(sys.stdin) and is_tty(sys.stdout)


_APPLY_HELP = (
    "Create or update a stack from TEMPLATE (or a saved change set).\n\n"
    "Resources are created in dependency order, independent ones in parallel, with live "
    "progress in CloudFormation's status names. On a terminal the plan is shown and confirmed "
    "first (unless --yes); it never asks when not on a terminal. On a failure everything is "
    "rolled back to the last good state unless --no-rollback."
)


@stack.command(help=_APPLY_HELP)
@click.argument("template", required=False)
@_stack_options
@_apply_options
@json_option
@home_option
@click.pass_context
def apply(
    ctx: click.Context,
    template: str | None,
    stack_name: str,
    params: tuple[str, ...],
    parameters_file: str | None,
    change_set_id: str | None,
    yes: bool,
    parallelism: int,
    no_rollback: bool,
    as_json: bool,
    home: str | None,
) -> None:
    if template is None and change_set_id is None:
        raise click.UsageError("give a TEMPLATE or --change-set ID")
    parameters = _parse_parameters(params, parameters_file)
    source = Path(template) if template is not None else None
    with open_engine(ctx, home) as engine:
        if source is not None and change_set_id is None and _interactive() and not (yes or as_json):
            change_set = engine.stacks.plan(source, stack_name, parameters, save=True)
            print_change_set(change_set)
            if not change_set.has_changes:
                return
            if not click.confirm("Apply these changes?", default=False):
                click.echo("Nothing was changed.", err=True)
                raise click.exceptions.Exit(1)
            change_set_id = change_set.change_set_id
        progress = progress_for(f"stack {stack_name}", stack_name)
        with progress:
            result = engine.stacks.apply(
                source,
                stack_name,
                parameters,
                change_set_id=change_set_id,
                parallelism=parallelism,
                rollback=not no_rollback,
                on_event=None if as_json else progress,
            )
    _finish(result, as_json)


def _finish(result: StackResult, as_json: bool) -> None:
    """Print an operation's result; exit 1 when it failed (root causes first)."""
    if as_json:
        print_json(result.to_json())
    else:
        for failure in result.root_causes:
            print_error(
                f"{failure.logical_id} ({failure.resource_type}) {failure.status}: {failure.reason}"
            )
        if result.skipped:
            click.echo(
                f"not attempted because of the failure: {', '.join(result.skipped)}", err=True
            )
        for failure in result.rollback_failures:
            print_error(f"rollback of {failure.logical_id} failed: {failure.reason}")
        line = f"stack {result.stack_name}: {result.status}"
        if result.no_op:
            line += " (no changes)"
        if result.status_reason and not result.ok:
            line += f" - {result.status_reason}"
        click.echo(line, err=not result.ok)
        if result.outputs and result.ok:
            for key, value in result.outputs.items():
                click.echo(f"  {key} = {value}")
    if not result.ok:
        raise click.exceptions.Exit(1)


stack.add_command(
    click.Command(
        "deploy",
        params=list(apply.params),
        callback=apply.callback,
        help="Same as `stack apply`. " + _APPLY_HELP,
    )
)


@stack.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal.")
@json_option
@home_option
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool, as_json: bool, home: str | None) -> None:
    """Delete stack NAME: its resources in reverse dependency order (Retain ones are kept).

    Refused while another stack imports one of its exports.
    """
    confirm = _interactive() and not yes and not as_json
    if confirm and not click.confirm(f"Delete stack {name} and its resources?", default=False):
        click.echo("Nothing was changed.", err=True)
        raise click.exceptions.Exit(1)
    with open_engine(ctx, home) as engine:
        progress = progress_for(f"stack {name}", name)
        with progress:
            result = engine.stacks.delete(name, on_event=None if as_json else progress)
    _finish(result, as_json)


@stack.command("list")
@click.option("--all", "include_deleted", is_flag=True, help="Include deleted stacks.")
@json_option
@home_option
@click.pass_context
def list_stacks(ctx: click.Context, include_deleted: bool, as_json: bool, home: str | None) -> None:
    """List stacks with their status."""
    with open_engine(ctx, home) as engine:
        records = engine.stacks.list(include_deleted=include_deleted)
    rows = [stack_summary_json(r) for r in records]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["NAME", "STATUS", "UPDATED", "TEMPLATE"],
        [[r.name, r.status, format_time(r.updated_at), r.template_file or "-"] for r in records],
        styles=[status_colour(r.status) for r in records],
    )


@stack.command()
@click.argument("name")
@json_option
@home_option
@click.pass_context
def describe(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Show stack NAME: status, parameters (NoEcho masked), outputs and resources."""
    with open_engine(ctx, home) as engine:
        description = engine.stacks.describe(name)
    if as_json:
        print_json(description.to_json())
        return
    click.echo(f"Stack:    {description.name}")
    click.echo(f"Id:       {description.stack_id}")
    status = description.status
    if description.status_reason:
        status += f" ({description.status_reason})"
    click.echo(f"Status:   {status}")
    if description.description:
        click.echo(f"About:    {description.description}")
    click.echo(f"Template: {description.template_file or '-'}")
    click.echo(f"Updated:  {format_time(description.updated_at)}")
    if description.parameters:
        click.echo("\nParameters")
        print_table(["KEY", "VALUE"], [[k, v] for k, v in description.parameters.items()])
    if description.outputs:
        click.echo("\nOutputs")
        print_table(
            ["KEY", "VALUE", "EXPORT"],
            [
                [k, _show(v.get("Value")), str(v.get("ExportName") or "")]
                for k, v in description.outputs.items()
            ],
        )
    click.echo("\nResources")
    print_table(
        ["LOGICAL ID", "TYPE", "STATUS", "PHYSICAL ID"],
        [
            [r.logical_id, r.resource_type, r.status, r.physical_id or "-"]
            for r in description.resources
        ],
        styles=[status_colour(r.status) for r in description.resources],
    )


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


@stack.command()
@click.argument("name")
@click.option("--limit", type=int, default=None, help="Only the last N events.")
@json_option
@home_option
@click.pass_context
def events(
    ctx: click.Context, name: str, limit: int | None, as_json: bool, home: str | None
) -> None:
    """List the events of stack NAME, oldest first."""
    with open_engine(ctx, home) as engine:
        items = engine.stacks.events(name)
    if limit is not None:
        items = items[-limit:] if limit > 0 else []
    if as_json:
        print_json([stack_event_json(e) for e in items])
        return
    for event in items:
        click.echo(event_line(event))


@stack.command()
@click.argument("name")
@json_option
@home_option
@click.pass_context
def outputs(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Print the outputs of stack NAME."""
    with open_engine(ctx, home) as engine:
        values = engine.stacks.outputs(name)
    if as_json:
        print_json(values)
        return
    print_table(["KEY", "VALUE"], [[k, _show(v)] for k, v in values.items()])


@stack.command()
@click.argument("name")
@json_option
@home_option
@click.pass_context
def drift(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Compare each resource of stack NAME with its actual state; exit 2 when drifted.

    `stack apply` with the unchanged template repairs the drift.
    """
    with open_engine(ctx, home) as engine:
        report = engine.stacks.drift(name)
    if as_json:
        print_json(report.to_json())
    else:
        click.echo(f"stack {report.stack_name}: {report.status}")
        for resource in report.resources:
            line = f"  {resource.status:<11} {resource.logical_id} ({resource.resource_type})"
            if resource.reason:
                line += f"  {resource.reason}"
            click.echo(line)
            for diff in resource.differences:
                lines = text_diff(diff.expected, diff.actual, "        ")
                if lines is not None:
                    click.echo(f"      {diff.path}: {diff.difference_type} (- expected, + actual)")
                    for line in lines:
                        click.echo(line)
                    continue
                click.echo(
                    f"      {diff.path}: expected {value_text(diff.expected)}, "
                    f"actual {value_text(diff.actual)} ({diff.difference_type})"
                )
    if report.status == "DRIFTED":
        raise click.exceptions.Exit(2)
