"""``stackflow types``: list the resource types stacks can use, and print one type's schema."""

from __future__ import annotations

from typing import Any

import click

from stackflow.cli.main import StackflowGroup
from stackflow.cli.output import print_json, print_table


def _type_rows(registry: Any) -> list[dict[str, Any]]:
    rows = []
    for name in registry.types():
        provider = registry.get(name)
        schema = provider.schema
        rows.append(
            {
                "type": name,
                "provides": schema.type_name,
                "alias": name != schema.type_name,
                "description": str(schema.raw.get("description", "")),
            }
        )
    return rows


@click.group(cls=StackflowGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print only JSON to stdout.")
@click.pass_context
def types(ctx: click.Context, as_json: bool) -> None:
    """List the resource types (built-in and from installed plugins) stacks can use."""
    if ctx.invoked_subcommand is not None:
        return
    from stackflow.providers import default_registry

    rows = _type_rows(default_registry())
    if as_json:
        print_json(rows)
        return
    print_table(
        ["TYPE", "DESCRIPTION"],
        [
            [
                row["type"],
                f"alias of {row['provides']}" if row["alias"] else row["description"],
            ]
            for row in rows
        ],
    )


@types.command()
@click.argument("type_name", metavar="TYPE")
def describe(type_name: str) -> None:
    """Print the JSON schema of resource type TYPE (properties, required, create-only, attributes).

    Custom resources (``Custom::Anything``) share one schema.
    """
    from stackflow.providers import default_registry

    provider = default_registry().get(type_name)
    print_json(provider.schema.raw)
