"""``stackflow server``: the long-lived process of a stackflow home.

One process does four jobs on the home's store:

* serves the HTTP API (and the web UI) on ``--host``/``--port`` (loopback by default; any other
  address requires tokens, see ``stackflow token create``);
* drives workflow executions: those started through the API or by schedules, and, like
  ``stackflow worker``, any execution recorded by ``workflow start`` or left by a dead worker;
* runs schedules (``Stackflow::Schedule``): each fire time starts exactly one execution;
* supervises every service (``Local::Service``) with a
  :class:`~stackflow.supervise.controller.ServiceController`.

It prints one plain line per notable event to stderr. SIGTERM or SIGINT stops it cleanly: leases
on executions are released, and service replicas keep running (the next ``stackflow server`` on
the same home adopts them).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import click

from stackflow.cli.main import resolve_home
from stackflow.cli.workflow_commands import home_option

if TYPE_CHECKING:
    from stackflow.supervise.controller import ControllerEvent


def event_line(event: ControllerEvent) -> str:
    """Return the printed line of a controller event: local time, then the event.

    Args:
        event: The event.
    """
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    return f"{stamp} {event.line()}"


@click.command("server")
@home_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address of the HTTP API; anything but loopback requires tokens.",
)
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8080,
    show_default=True,
    help="Port of the HTTP API (0 picks a free one).",
)
@click.option("--no-api", is_flag=True, help="Do not serve the HTTP API and web UI.")
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    metavar="S",
    help="How often the store is read for new or changed services.",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=0.5),
    default=15.0,
    show_default=True,
    metavar="S",
    help="Lease on each service; another server takes over S seconds after this one dies.",
)
@click.pass_context
def server(
    ctx: click.Context,
    home: str | None,
    host: str,
    port: int,
    no_api: bool,
    poll_seconds: float,
    lease_seconds: float,
) -> None:
    """Serve the API and web UI, run executions and schedules, supervise services.

    Runs until SIGTERM or Ctrl-C. Executions started through the API, by schedules, or with
    `workflow start` are driven here. Each service's replicas are kept running, restarted per
    their policy and rolled out to new revisions; they keep running when the server stops, and
    the next server on the same home adopts them instead of starting duplicates. Prints one
    line per notable event to stderr.
    """
    from stackflow.cli.remote import reject_server
    from stackflow.cli.worker_command import (
        check_runtime,
        start_worker_runtime,
        stop_on_signals,
    )
    from stackflow.cli.workflow_commands import put_cwd_on_path
    from stackflow.engine import Engine
    from stackflow.scheduler.service import SchedulerService, engine_starter
    from stackflow.supervise.controller import ServiceController, default_owner

    reject_server(ctx, env_ok=True)  # $STACKFLOW_SERVER is for the shell's other commands
    put_cwd_on_path()

    def echo(event: ControllerEvent) -> None:
        click.echo(event_line(event), err=True)

    with stop_on_signals() as stopping:
        engine = Engine.open(resolve_home(ctx, home), claim=True)
        api: Any = None
        scheduler: SchedulerService | None = None
        scheduler_thread: threading.Thread | None = None
        try:
            assert engine.home is not None
            runtime = engine.runtime
            start_worker_runtime(runtime)
            scheduler = SchedulerService(
                engine.store,
                engine_starter(engine),
                on_failure=lambda failure: click.echo(f"schedule: {failure}", err=True),
            )
            scheduler_thread = threading.Thread(
                target=scheduler.run, args=(stopping,), name="stackflow-scheduler", daemon=True
            )
            scheduler_thread.start()
            if not no_api:
                api = _serve_api(engine, host, port)
            controller = ServiceController(
                engine.store.services,
                owner=default_owner(),
                home=engine.home,
                poll_seconds=poll_seconds,
                lease_seconds=lease_seconds,
                on_event=echo,
            )
            controller.start()
            where = f"API and web UI on {api.url}" if api is not None else "no HTTP API"
            click.echo(
                f"stackflow server {controller.owner} started on {engine.home} ({where})",
                err=True,
            )
            try:
                while not stopping.wait(0.5):
                    if not controller.running:
                        click.echo("error: the service controller stopped", err=True)
                        raise click.exceptions.Exit(1)
                    check_runtime(runtime)
            finally:
                click.echo(
                    f"stackflow server {controller.owner} stopping (replicas keep running)",
                    err=True,
                )
                controller.stop(kill_replicas=False)
        finally:
            stopping.set()
            if api is not None:
                api.stop()
            if scheduler is not None:
                scheduler.stop()
            if scheduler_thread is not None:
                scheduler_thread.join(10)
            engine.close(release=True)


def _serve_api(engine: Any, host: str, port: int) -> Any:
    """Start the HTTP API (with the web UI when it is installed) and return its server."""
    try:
        from stackflow.api.server import serve
    except ImportError as exc:  # the `server` extra is not installed
        raise click.ClickException(
            f"the HTTP API needs the server extra (pip install 'stackflow[server]'): {exc}"
        ) from None
    return serve(engine, host, port)
