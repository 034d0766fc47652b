"""``stackflow token ...``: create, list and revoke the tokens of the HTTP API.

A token is printed once, when it is created; the store keeps only its SHA-256 hash. Roles:
``read`` (GET requests), ``operate`` (also start, stop and redrive executions, answer tasks)
and ``admin`` (also deploy workflows and apply or delete stacks).
"""

from __future__ import annotations

import time

import click

from stackflow.cli.main import StackflowGroup
from stackflow.cli.output import format_time, print_json, print_table
from stackflow.cli.workflow_commands import home_option, json_option, open_engine
from stackflow.store.tokens import ROLES, TokenRecord, hash_token, new_token


def token_json(record: TokenRecord) -> dict[str, object]:
    """Return a token's record as JSON (never the token or its hash).

    Args:
        record: The stored token.

    Returns:
        ``{"id", "name", "role", "created_at", "revoked_at"}``.
    """
    return {
        "id": record.token_id,
        "name": record.name,
        "role": record.role,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }


@click.group(cls=StackflowGroup)
def token() -> None:
    """Create, list and revoke HTTP API tokens."""


@token.command("create")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="read: GET only; operate: also run and control executions; admin: everything.",
)
@click.option("--name", default="", help="A name to recognize the token by (unique).")
@json_option
@home_option
@click.pass_context
def create(ctx: click.Context, role: str, name: str, as_json: bool, home: str | None) -> None:
    """Create a token and print it (only now: it cannot be shown again)."""
    secret, token_id = new_token()
    record = TokenRecord(token_id, name, role, hash_token(secret), time.time())
    with open_engine(ctx, home) as engine:
        engine.store.tokens.add_token(record)
    if as_json:
        print_json({**token_json(record), "token": secret})
        return
    click.echo(secret)
    label = f" ({name})" if name else ""
    click.echo(
        f"created {role} token {token_id}{label}; store it now, it is not shown again", err=True
    )


@token.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@json_option
@home_option
@click.pass_context
def list_command(
    ctx: click.Context, include_revoked: bool, as_json: bool, home: str | None
) -> None:
    """List tokens (their ids, names and roles; never the tokens)."""
    with open_engine(ctx, home) as engine:
        records = engine.store.tokens.list_tokens(include_revoked=include_revoked)
    if as_json:
        print_json([token_json(r) for r in records])
        return
    if not records:
        click.echo("no tokens", err=True)
        return
    print_table(
        ("ID", "NAME", "ROLE", "CREATED", "REVOKED"),
        [
            (
                r.token_id,
                r.name or "-",
                r.role,
                format_time(r.created_at),
                format_time(r.revoked_at) if r.revoked_at is not None else "-",
            )
            for r in records
        ],
    )


@token.command("revoke")
@click.argument("id_or_name", metavar="ID|NAME")
@json_option
@home_option
@click.pass_context
def revoke(ctx: click.Context, id_or_name: str, as_json: bool, home: str | None) -> None:
    """Revoke a token by its id or name: requests with it get 401 from then on."""
    with open_engine(ctx, home) as engine:
        record = engine.store.tokens.revoke_token(id_or_name, time.time())
    if as_json:
        print_json(token_json(record))
        return
    click.echo(f"revoked token {record.token_id}", err=True)
