"""The ``stackflow`` command: the click group and the console entry point :func:`main`.

This module imports fast: command groups are loaded only when used (see :class:`LazyGroup`), and
the engine is imported inside the commands that need it. Every :class:`StackflowError` a command
raises is printed as ``error: message`` on stderr with exit status 1, never as a traceback.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from stackflow.errors import StackflowError

#: Subcommands loaded on first use: command name -> "module:attribute".
LAZY_COMMANDS = {
    "workflow": "stackflow.cli.workflow_commands:workflow",
    "activity": "stackflow.cli.activity_commands:activity",
    "worker": "stackflow.cli.worker_command:worker",
    "stack": "stackflow.cli.stack_commands:stack",
    "types": "stackflow.cli.types_command:types",
    "server": "stackflow.cli.server_command:server",
    "token": "stackflow.cli.token_commands:token",
    "service": "stackflow.cli.service_commands:service",
    "schedule": "stackflow.cli.schedule_commands:schedule",
}


class StackflowGroup(click.Group):
    """A click group that turns stackflow errors into ``error: message`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen subcommand, reporting expected errors without a traceback.

        Args:
            ctx: The click context.

        Returns:
            Whatever the subcommand returns.
        """
        try:
            return super().invoke(ctx)
        except StackflowError as exc:
            from stackflow.cli.output import print_error

            print_error(str(exc))
            raise click.exceptions.Exit(1) from None
        except OSError as exc:
            from stackflow.cli.output import print_error

            print_error(str(exc))
            raise click.exceptions.Exit(1) from None


class LazyGroup(StackflowGroup):
    """A :class:`StackflowGroup` whose subcommands in ``lazy`` are imported on first use.

    Args:
        lazy: Command name -> ``"module:attribute"`` of the command object.
        **kwargs: Passed to :class:`click.Group`.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every command name, eager and lazy, sorted.

        Args:
            ctx: The click context.
        """
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return a command, importing it first when it is lazy.

        Args:
            ctx: The click context.
            cmd_name: The command name.
        """
        if cmd_name in self.lazy:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


def resolve_home(ctx: click.Context, home: str | None = None) -> Path | None:
    """Return the stackflow home a command should use.

    Args:
        ctx: The command's click context.
        home: The command's own ``--home``, which wins over the group's.

    Returns:
        The directory, or None for the default (``$STACKFLOW_HOME`` or ``~/.stackflow``).
    """
    if home:
        return Path(home)
    root = ctx.find_root()
    if isinstance(root.obj, dict) and root.obj.get("home"):
        return Path(root.obj["home"])
    return None


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("stackflow")
    except PackageNotFoundError:
        number = "unknown"
    click.echo(f"stackflow {number}")
    ctx.exit(0)


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS)
@click.option(
    "--home",
    metavar="DIR",
    help="Directory holding stackflow's data (default: $STACKFLOW_HOME or ~/.stackflow).",
)
@click.option(
    "--server",
    metavar="URL",
    envvar="STACKFLOW_SERVER",
    help="Act through the stackflow server at URL instead of on the store "
    "(default: $STACKFLOW_SERVER).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    envvar="STACKFLOW_TOKEN",
    help="Token for --server (default: $STACKFLOW_TOKEN); needed unless it listens on loopback.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, server: str | None, token: str | None) -> None:
    """stackflow: self-hosted workflows (Amazon States Language) and orchestration."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    ctx.obj["server"] = server or None
    ctx.obj["token"] = token or None


@cli.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON to stdout.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A stack template parameter value (repeatable).",
)
def validate(file: str, as_json: bool, params: tuple[str, ...]) -> None:
    """Check a workflow definition or a stack template (JSON or YAML); list every problem.

    A document with a top-level Resources or AWSTemplateFormatVersion key is a stack template:
    the template language and each resource's properties are checked (parameters take their
    defaults or the --param values). Exits 0 when FILE is valid, 1 otherwise; each problem is
    printed as ``file:line:column: message (pointer)``.
    """
    from stackflow.cli.output import print_json, problem_json, problem_line
    from stackflow.cli.template_check import parse_param_pairs, template_problems

    parameters = parse_param_pairs(params)
    problems = template_problems(file, parameters)
    if problems is None:
        if params:
            raise click.BadParameter("applies to stack templates only", param_hint="'--param'")
        from stackflow.cli.workflow_commands import load_or_problems

        _loaded, _name, problems = load_or_problems(file)
    if as_json:
        print_json({"valid": not problems, "problems": [problem_json(p) for p in problems]})
    elif not problems:
        click.echo(f"{file}: valid")
    else:
        for problem in problems:
            click.echo(problem_line(problem))
        count = len(problems)
        click.echo(f"{file}: {count} problem{'s' if count != 1 else ''} found", err=True)
    if problems:
        raise click.exceptions.Exit(1)


def main() -> None:
    """Console entry point of the ``stackflow`` command."""
    cli(prog_name="stackflow")


if __name__ == "__main__":  # pragma: no cover
    main()
