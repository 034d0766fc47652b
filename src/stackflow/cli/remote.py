"""The CLI through a server: ``stackflow --server URL ...`` (or ``$STACKFLOW_SERVER``).

With a server, :func:`stackflow.cli.workflow_commands.open_engine` returns a
:class:`~stackflow.client.RemoteEngine` instead of opening the store, and the commands run
unchanged through the HTTP API; ``service`` and ``schedule`` use
:class:`~stackflow.client.services.RemoteServices` / ``RemoteSchedules``. Commands that need the
store itself (``token``, ``activity list``, ``service logs -f``, ``service rollout undo``...) fail
with a message naming the command; ``worker`` refuses a server given on its command line.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from stackflow.client import RemoteEngine
    from stackflow.engine import Engine

__all__ = ["as_remote", "count_children", "open_remote", "reject_server", "server_url"]


def _root(ctx: click.Context) -> click.Context:
    return ctx.find_root()


def server_url(ctx: click.Context) -> str | None:
    """Return the server URL the command should use (``--server`` or ``$STACKFLOW_SERVER``).

    Args:
        ctx: The command's click context.
    """
    obj = _root(ctx).obj
    url = obj.get("server") if isinstance(obj, dict) else None
    return url or None


def _source(ctx: click.Context) -> str:
    """Name where the server URL came from (for messages)."""
    source = _root(ctx).get_parameter_source("server")
    return "STACKFLOW_SERVER" if source == ParameterSource.ENVIRONMENT else "--server"


def open_remote(ctx: click.Context, home: str | None) -> RemoteEngine | None:
    """Return the remote engine when a server is given, else None.

    Args:
        ctx: The command's click context.
        home: The command's own ``--home`` (refused together with a server).

    Raises:
        click.UsageError: ``--home`` and a server were both given.
    """
    url = server_url(ctx)
    if url is None:
        return None
    root = _root(ctx)
    if home or (isinstance(root.obj, dict) and root.obj.get("home")):
        raise click.UsageError(
            f"--home and a server ({_source(ctx)}) exclude each other: the server uses its own home"
        )
    from stackflow.client import RemoteEngine

    token = root.obj.get("token") if isinstance(root.obj, dict) else None
    source, command = _source(ctx), ctx.command_path
    hint = "unset STACKFLOW_SERVER" if source == "STACKFLOW_SERVER" else "leave out --server"

    def unavailable(_name: str) -> str:
        return (
            f"`{command}` works on the store directly and cannot run through the server "
            f"{url} (given by {source}): run it on the server's machine and {hint}"
        )

    return RemoteEngine(url, token or None, on_unavailable=unavailable)


def as_remote(engine: object) -> RemoteEngine | None:
    """Return ``engine`` when it is a remote engine, else None (for commands that differ).

    Args:
        engine: What :func:`~stackflow.cli.workflow_commands.open_engine` returned.
    """
    module = sys.modules.get("stackflow.client.engine")  # not loaded: nothing is remote
    if module is None or not isinstance(engine, module.RemoteEngine):
        return None
    remote: RemoteEngine = engine
    return remote


def count_children(engine: Engine, execution_id: str) -> dict[str, int]:
    """Return the status counts of an execution's children, locally or through the server.

    Args:
        engine: The open engine (local or remote).
        execution_id: The execution.
    """
    remote = as_remote(engine)
    if remote is not None:
        return remote.children(execution_id)
    return engine.store.count_children(execution_id)


def reject_server(ctx: click.Context, *, env_ok: bool = False) -> None:
    """Refuse a server for a command that only works on the store itself.

    Args:
        ctx: The command's click context.
        env_ok: Ignore a server that comes from ``$STACKFLOW_SERVER`` (``stackflow server``
            runs a server; the variable is for the shell's other commands).

    Raises:
        click.UsageError: A server was given.
    """
    if server_url(ctx) is None or (env_ok and _source(ctx) == "STACKFLOW_SERVER"):
        return
    raise click.UsageError(
        f"`{ctx.command_path}` works on the store directly and cannot run through a server "
        f"(given by {_source(ctx)}); run it on the server's machine without a server URL"
    )
