"""``stackflow service ...``: inspect and steer ``Local::Service`` services.

The commands read and write the services store in the stackflow home; the reconcile loop (the
``stackflow server``, or a ``stack apply`` waiting for readiness) carries the changes out. Every
command takes ``--json`` (one JSON document on stdout).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from stackflow.cli.main import StackflowGroup
from stackflow.cli.output import format_time, print_json, print_table, summarize
from stackflow.cli.workflow_commands import home_option, json_option, open_engine
from stackflow.errors import NotFoundError
from stackflow.views import (
    log_files,
    ready_count,
    service_json,
    service_summary_json,
    supervisor_text,
)

if TYPE_CHECKING:
    from stackflow.store.services import ReplicaRecord, ServiceRecord, ServiceStore


@click.group(cls=StackflowGroup)
def service() -> None:
    """Inspect and steer services (Local::Service): status, logs, scale, restart, rollouts."""


@contextmanager
def _store(ctx: click.Context, home: str | None) -> Iterator[ServiceStore]:
    """Open the engine on the home and yield its services store."""
    with open_engine(ctx, home) as engine:
        yield engine.store.services


def _get(store: ServiceStore, name: str) -> ServiceRecord:
    """Return a live service or raise NotFoundError naming the known ones."""
    record = store.find_service(name)
    if record is None or record.deleted:
        known = [r.name for r in store.list_services()]
        hint = f" Known services: {', '.join(known)}." if known else " There are no services."
        raise NotFoundError(f"no service named {name!r}.{hint}")
    return record


@service.command("list")
@click.option("--stack", "stack_name", help="Only the services of this stack.")
@json_option
@home_option
@click.pass_context
def list_services(
    ctx: click.Context, stack_name: str | None, as_json: bool, home: str | None
) -> None:
    """List services: revision, ready replicas, rollout status and load balancer."""
    with _store(ctx, home) as store:
        records = store.list_services(stack_name=stack_name)
        rows = [(r, store.list_replicas(r.name)) for r in records]
    if as_json:
        print_json([service_summary_json(r, reps) for r, reps in rows])
        return
    print_table(
        ["NAME", "STACK", "REVISION", "READY", "ROLLOUT", "LOAD BALANCER", "UPDATED"],
        [
            [
                r.name,
                r.stack_name or "-",
                str(r.revision),
                f"{ready_count(r, reps)}/{r.replicas}",
                str(r.rollout.get("status") or "-"),
                r.load_balancer or "-",
                format_time(r.updated_at),
            ]
            for r, reps in rows
        ],
    )


def _exit_text(replica: ReplicaRecord) -> str:
    if replica.last_exit_at is None and replica.last_exit_code is None:
        return "-"
    code = "?" if replica.last_exit_code is None else str(replica.last_exit_code)
    return f"{code} at {format_time(replica.last_exit_at)}"


@service.command()
@click.argument("name")
@json_option
@home_option
@click.pass_context
def status(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Show service NAME: rollout, supervisor and every replica (pid, port, state, restarts,
    last exit, last probe output)."""
    now = time.time()
    with _store(ctx, home) as store:
        record = _get(store, name)
        replicas = store.list_replicas(name)
        live = store.live_controllers(now)
    if as_json:
        data = service_json(record, replicas)
        data["supervisor"] = supervisor_text(record, live, now)
        print_json(data)
        return
    rollout = record.rollout
    click.echo(f"Service:    {record.name}")
    click.echo(f"Stack:      {record.stack_name or '-'} ({record.logical_id or '-'})")
    click.echo(f"Command:    {' '.join(str(p) for p in record.spec.get('Command', []))}")
    click.echo(f"Revision:   {record.revision}")
    click.echo(f"Ready:      {ready_count(record, replicas)}/{record.replicas}")
    line = str(rollout.get("status") or "-")
    if rollout.get("message"):
        line += f" - {rollout['message']}"
    click.echo(f"Rollout:    {line}")
    click.echo(f"Balancer:   {record.load_balancer or '-'}")
    click.echo(f"Supervisor: {supervisor_text(record, live, now)}")
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
                str(r.slot),
                r.replica_id,
                str(r.revision),
                str(r.pid) if r.pid is not None else "-",
                str(r.port) if r.port is not None else "-",
                r.state,
                format_time(r.ready_since),
                str(r.restarts),
                _exit_text(r),
                summarize(r.probe_output, 60).strip('"') if r.probe_output else "-",
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
    are printed as they come until interrupted (rotations are followed).
    """
    from stackflow.cli.main import resolve_home
    from stackflow.engine import default_home
    from stackflow.supervise.logs import tail

    with _store(ctx, home) as store:
        record = _get(store, name)
        replicas = store.list_replicas(name)
    root = resolve_home(ctx, home) or default_home()
    files = log_files(root, record, replicas)
    if slot is not None:
        files = [(s, p) for s, p in files if s == slot]
        if not files:
            raise NotFoundError(f"service {name!r} has no log of a replica in slot {slot}")
    prefix = len({s for s, _ in files}) > 1 or len(files) > 1
    if as_json and not follow:
        print_json([{"slot": s, "path": str(p), "lines": tail(p, lines)} for s, p in files])
        return
    for s, path in files:
        for text in tail(path, lines):
            click.echo(f"[{s}] {text}" if prefix else text)
    if follow:
        _follow(files, prefix)


def _follow(files: list[tuple[int, Path]], prefix: bool) -> None:
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
    with _store(ctx, home) as store:
        record = _get(store, name)
        updated = store.update_service(name, replicas=replicas, updated_at=time.time())
    if as_json:
        print_json({"name": name, "replicas": updated.replicas, "previous": record.replicas})
        return
    click.echo(f"service {name}: replicas {record.replicas} -> {replicas}")


@service.command()
@click.argument("name")
@json_option
@home_option
@click.pass_context
def restart(ctx: click.Context, name: str, as_json: bool, home: str | None) -> None:
    """Replace every replica of service NAME, one by one as a rolling update does."""
    now = time.time()
    with _store(ctx, home) as store:
        _get(store, name)
        store.update_service(name, restart_requested_at=now, updated_at=now)
    if as_json:
        print_json({"name": name, "restart_requested_at": now})
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
    with _store(ctx, home) as store:
        record = _get(store, name)
        replicas = store.list_replicas(name)
    current = [r for r in replicas if r.revision == record.revision]
    others = [r for r in replicas if r.revision != record.revision and r.pid is not None]
    data = {
        "name": name,
        "revision": record.revision,
        "previous_revision": record.previous_revision,
        "status": record.rollout.get("status"),
        "message": record.rollout.get("message", ""),
        "started_at": record.rollout.get("started_at"),
        "desired": record.replicas,
        "updated": len(current),
        "ready": ready_count(record, replicas),
        "old_running": len(others),
    }
    if as_json:
        print_json(data)
        return
    line = f"service {name}: revision {record.revision} {data['status'] or 'not started'}"
    line += f" ({data['ready']}/{record.replicas} ready"
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
