"""``stackflow service ...``: inspect and steer ``Local::Service`` services.

The commands read and write the services store in the stackflow home, or go through a server's
API (``--server``: every command but ``logs -f`` and ``rollout undo``); the reconcile loop (the
``stackflow server``, or a ``stack apply`` waiting for readiness) carries the changes out. Every
command takes ``--json`` (one JSON document on stdout, the same locally and through a server).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stackflow.cli.main import StackflowGroup
from stackflow.cli.output import format_time, print_json, print_table, summarize
from stackflow.cli.remote import as_remote, server_url
from stackflow.cli.workflow_commands import home_option, json_option, open_engine
from stackflow.errors import NotFoundError
from stackflow.stacks.changes import mask_secrets
from stackflow.views import (
    log_files,
    service_json,
    service_summary_json,
    supervisor_text,
)

if TYPE_CHECKING:
    from stackflow.client.services import RemoteServices
    from stackflow.store.services import ServiceRecord, ServiceStore


#: ``secrets(stack_name)``: the NoEcho values of that stack, to hide in what is printed.
Secrets = Callable[[str], list[str]]


@click.group(cls=StackflowGroup)
def service() -> None:
    """Inspect and steer services (Local::Service): status, logs, scale, restart, rollouts."""


@contextmanager
def _store(ctx: click.Context, home: str | None) -> Iterator[ServiceStore]:
    """Open the engine on the home and yield its services store."""
    with open_engine(ctx, home) as engine:
        yield engine.store.services


@contextmanager
def _services(
    ctx: click.Context, home: str | None
) -> Iterator[tuple[ServiceStore | None, RemoteServices | None, Secrets]]:
    """Yield ``(store, None, secrets)`` on the home, or ``(None, services, secrets)`` remotely.

    ``secrets(stack_name)`` gives the NoEcho values of the service's stack, to mask in what is
    printed (a server's answers come masked already, so there it gives none). Call it inside
    the ``with`` block: the store closes after it.
    """
    with open_engine(ctx, home) as engine:
        remote = as_remote(engine)
        if remote is None:
            from stackflow.stacks.inputs import stack_secrets

            stacks = engine.store.stacks
            yield engine.store.services, None, lambda stack_name: stack_secrets(stacks, stack_name)
        else:
            from stackflow.client.services import RemoteServices

            yield None, RemoteServices(remote.api), lambda _stack: []


def _get(store: ServiceStore, name: str) -> ServiceRecord:
    """Return a live service or raise NotFoundError naming the known ones."""
    record = store.find_service(name)
    if record is None or record.deleted:
        known = [r.name for r in store.list_services()]
        hint = f" Known services: {', '.join(known)}." if known else " There are no services."
        raise NotFoundError(f"no service named {name!r}.{hint}")
    return record


def _describe(ctx: click.Context, home: str | None, name: str) -> dict[str, Any]:
    """Return ``service status --json`` of NAME: the service, its replicas and supervisor."""
    now = time.time()
    with _services(ctx, home) as (store, remote, secrets):
        if remote is not None:
            return remote.describe(name)
        assert store is not None
        record = _get(store, name)
        replicas = store.list_replicas(name)
        live = store.live_controllers(now)
        data = service_json(record, replicas)
        data["supervisor"] = supervisor_text(record, live, now)
        masked: dict[str, Any] = mask_secrets(data, secrets(record.stack_name))
    return masked


@service.command("list")
@click.option("--stack", "stack_name", help="Only the services of this stack.")
@json_option
@home_option
@click.pass_context
def list_services(
    ctx: click.Context, stack_name: str | None, as_json: bool, home: str | None
) -> None:
    """List services: revision, ready replicas, rollout status and load balancer."""
    with _services(ctx, home) as (store, remote, _secrets):
        if remote is not None:
            rows = remote.list_services(stack_name)
        else:
            assert store is not None
            rows = [
                service_summary_json(r, store.list_replicas(r.name))
                for r in store.list_services(stack_name=stack_name)
            ]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["NAME", "STACK", "REVISION", "READY", "ROLLOUT", "LOAD BALANCER", "UPDATED"],
        [
            [
                r["name"],
                r["stack"] or "-",
                str(r["revision"]),
                f"{r['ready']}/{r['replicas']}",
                str((r["rollout"] or {}).get("status") or "-"),
                r["load_balancer"] or "-",
                format_time(r["updated_at"]),
            ]
            for r in rows
        ],
    )


def _exit_text(replica: dict[str, Any]) -> str:
    exit_at, exit_code = replica.get("last_exit_at"), replica.get("last_exit_code")
    if exit_at is None and exit_code is None:
        return "-"
    code = "?" if exit_code is None else str(exit_code)
    return f"{code} at {format_time(exit_at)}"


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


@service.command()
@click.argument("name")
@json_option
@home_option
@click.pass_context
def status(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Show service NAME: rollout, supervisor and every replica (pid, port, state, restarts,
    last exit, last probe output)."""
    data = _describe(ctx, home, name)
    if as_json:
        print_json(data)
        return
    rollout = data.get("rollout") or {}
    replicas: list[dict[str, Any]] = data.get("replica_records") or []
    command = (data.get("spec") or {}).get("Command", [])
    click.echo(f"Service:    {data['name']}")
    click.echo(f"Stack:      {data['stack_name'] or '-'} ({data['logical_id'] or '-'})")
    click.echo(f"Command:    {' '.join(str(p) for p in command)}")
    click.echo(f"Revision:   {data['revision']}")
    click.echo(f"Ready:      {data['ready']}/{data['replicas']}")
    line = str(rollout.get("status") or "-")
    if rollout.get("message"):
        line += f" - {rollout['message']}"
    click.echo(f"Rollout:    {line}")
    click.echo(f"Balancer:   {data.get('load_balancer') or '-'}")
    click.echo(f"Supervisor: {data['supervisor']}")
    if not replicas:
        click.echo("No replicas.")
        return
    click.echo("")
    print_table(
        [
            "SLOT",
            "REPLICA",
            "REV",
            "PID",
            "PORT",
            "STATE",
            "READY SINCE",
            "RESTARTS",
            "LAST EXIT",
            "PROBE OUTPUT",
        ],
        [
            [
                str(r["slot"]),
                r["replica_id"],
                str(r["revision"]),
                _dash(r.get("pid")),
                _dash(r.get("port")),
                r["state"],
                format_time(r.get("ready_since")),
                str(r.get("restarts", 0)),
                _exit_text(r),
                summarize(r["probe_output"], 60).strip('"') if r.get("probe_output") else "-",
            ]
            for r in replicas
        ],
    )


@service.command()
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing lines as they are written.")
@click.option("--replica", "slot", type=int, metavar="N", help="Only the replica in slot N.")
@click.option(
    "--lines",
    "-n",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Lines of each log shown first.",
)
@json_option
@home_option
@click.pass_context
def logs(
    ctx: click.Context,
    name: str,
    follow: bool,
    slot: int | None,
    lines: int,
    as_json: bool,
    home: str | None,
) -> None:
    """Print the logs (stdout and stderr) of the replicas of service NAME.

    Lines are prefixed with the replica slot when several replicas are shown. With -f, lines
    are printed as they come until interrupted (rotations are followed; not through a server).
    """
    from stackflow.cli.main import resolve_home
    from stackflow.engine import default_home
    from stackflow.supervise.logs import tail

    if follow and server_url(ctx) is not None:
        raise click.UsageError(
            f"`{ctx.command_path} -f` cannot follow logs through a server: leave out -f to "
            "print the last lines (--lines N), or run it on the server's machine without a "
            "server URL"
        )
    files: list[tuple[int, Path]] = []
    follow_mask: Callable[[Any], Any] = lambda data: data  # noqa: E731
    with _services(ctx, home) as (store, remote, secrets):
        if remote is not None:
            entries = remote.logs(name, lines, slot)
        else:
            assert store is not None
            record = _get(store, name)
            replicas = store.list_replicas(name)
            root = resolve_home(ctx, home) or default_home()
            files = log_files(root, record, replicas)
            if slot is not None:
                files = [(s, p) for s, p in files if s == slot]
                if not files:
                    raise NotFoundError(f"service {name!r} has no log of a replica in slot {slot}")
            hidden = secrets(record.stack_name)
            entries = mask_secrets(
                [{"slot": s, "path": str(p), "lines": tail(p, lines)} for s, p in files], hidden
            )
            follow_mask = functools.partial(mask_secrets, secrets=hidden)
    prefix = len(entries) > 1
    if as_json and not follow:
        print_json(entries)
        return
    for entry in entries:
        for text in entry["lines"]:
            click.echo(f"[{entry['slot']}] {text}" if prefix else text)
    if follow:
        _follow(files, prefix, follow_mask)


def _follow(files: list[tuple[int, Path]], prefix: bool, mask: Callable[[Any], Any]) -> None:
    """Print lines appended to any of ``files`` until interrupted."""
    from stackflow.supervise.logs import follow

    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    stop = threading.Event()

    def pump(slot: int, path: Path) -> None:
        for text in follow(path, stop=stop):
            lines.put((slot, text))

    for s, path in files:
        threading.Thread(target=pump, args=(s, path), daemon=True).start()
    try:
        while True:
            s, text = lines.get()
            text = mask(text)
            click.echo(f"[{s}] {text}" if prefix else text)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()


@service.command()
@click.argument("name")
@click.argument("replicas", type=click.IntRange(0))
@json_option
@home_option
@click.pass_context
def scale(ctx: click.Context, name: str, replicas: int, as_json: bool, home: str | None) -> None:
    """Set the number of replicas of service NAME (no new revision; stack drift shows it)."""
    with _services(ctx, home) as (store, remote, _secrets):
        if remote is not None:
            data = remote.scale(name, replicas)
        else:
            assert store is not None
            record = _get(store, name)
            updated = store.update_service(name, replicas=replicas, updated_at=time.time())
            data = {"name": name, "replicas": updated.replicas, "previous": record.replicas}
    if as_json:
        print_json(data)
        return
    click.echo(f"service {name}: replicas {data['previous']} -> {data['replicas']}")


@service.command()
@click.argument("name")
@json_option
@home_option
@click.pass_context
def restart(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Replace every replica of service NAME, one by one as a rolling update does."""
    now = time.time()
    with _services(ctx, home) as (store, remote, _secrets):
        if remote is not None:
            data = remote.restart(name)
        else:
            assert store is not None
            _get(store, name)
            store.update_service(name, restart_requested_at=now, updated_at=now)
            data = {"name": name, "restart_requested_at": now}
    if as_json:
        print_json(data)
        return
    click.echo(f"service {name}: rolling restart requested")


@service.group(cls=StackflowGroup)
def rollout() -> None:
    """Show or undo the rollout of a service's latest revision."""


@rollout.command("status")
@click.argument("name")
@json_option
@home_option
@click.pass_context
def rollout_status(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Print the rollout of service NAME: revision, status, progress and message."""
    service_data = _describe(ctx, home, name)
    revision = service_data["revision"]
    replicas: list[dict[str, Any]] = service_data.get("replica_records") or []
    rollout = service_data.get("rollout") or {}
    current = [r for r in replicas if r["revision"] == revision]
    others = [r for r in replicas if r["revision"] != revision and r.get("pid") is not None]
    data = {
        "name": name,
        "revision": revision,
        "previous_revision": service_data.get("previous_revision"),
        "status": rollout.get("status"),
        "message": rollout.get("message", ""),
        "started_at": rollout.get("started_at"),
        "desired": service_data["replicas"],
        "updated": len(current),
        "ready": service_data["ready"],
        "old_running": len(others),
    }
    if as_json:
        print_json(data)
        return
    line = f"service {name}: revision {revision} {data['status'] or 'not started'}"
    line += f" ({data['ready']}/{data['desired']} ready"
    if others:
        line += f", {len(others)} of older revisions still running"
    line += ")"
    if data["message"]:
        line += f" - {data['message']}"
    click.echo(line)


@rollout.command("undo")
@click.argument("name")
@json_option
@home_option
@click.pass_context
def rollout_undo(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Roll service NAME back to its previous spec (as a new revision, rolled out as usual)."""
    from stackflow.errors import StackflowError
    from stackflow.store.services import next_revision

    now = time.time()
    with _store(ctx, home) as store:
        record = _get(store, name)
        if record.previous_spec is None:
            raise StackflowError(f"service {name!r} has no previous revision to go back to")
        revision = next_revision(record)
        store.update_service(
            name,
            spec=record.previous_spec,
            previous_spec=record.spec,
            revision=revision,
            previous_revision=record.revision,
            rollout={
                "status": "PROGRESSING",
                "revision": revision,
                "started_at": now,
                "message": f"undo: back to the spec of revision {record.previous_revision}",
            },
            updated_at=now,
        )
    if as_json:
        print_json({"name": name, "revision": revision, "from_revision": record.revision})
        return
    click.echo(
        f"service {name}: revision {revision} (the spec of revision "
        f"{record.previous_revision}) is rolling out"
    )
