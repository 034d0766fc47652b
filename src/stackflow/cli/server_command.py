"""``stackflow server``: the long-lived process that supervises every service.

It runs a :class:`~stackflow.supervise.controller.ServiceController` over the home's store and
prints one plain line per notable event (replica started, ready, exited, restarted; rollout
progress) to stderr. SIGTERM or SIGINT stops it cleanly, leaving the replicas running: the next
``stackflow server`` on the same home adopts them. ``--host`` and ``--port`` are reserved for
the HTTP API of a later release.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
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
    help="Address of the HTTP API (reserved: the API is not served yet).",
)
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8080,
    show_default=True,
    help="Port of the HTTP API (reserved: the API is not served yet).",
)
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
    poll_seconds: float,
    lease_seconds: float,
) -> None:
    """Supervise every service (Local::Service) until SIGTERM or Ctrl-C.

    Keeps each service's replicas running, restarts them per their policy, rolls out new
    revisions and stops deleted services. Replicas keep running when the server stops; the
    next server on the same home adopts them instead of starting duplicates. Prints one line
    per notable event to stderr.
    """
    from stackflow.engine import Engine
    from stackflow.supervise.controller import ServiceController, default_owner

    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    def echo(event: ControllerEvent) -> None:
        click.echo(event_line(event), err=True)

    previous: dict[int, Any] = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        engine = Engine.open(resolve_home(ctx, home))
        try:
            assert engine.home is not None
            controller = ServiceController(
                engine.store.services,
                owner=default_owner(),
                home=engine.home,
                poll_seconds=poll_seconds,
                lease_seconds=lease_seconds,
                on_event=echo,
            )
            click.echo(
                f"stackflow server {controller.owner} started on {engine.home}"
                f" (the HTTP API on {host}:{port} is not served yet)",
                err=True,
            )
            controller.start()
            try:
                while not stopping.wait(0.5):
                    if not controller.running:
                        click.echo("error: the service controller stopped", err=True)
                        raise click.exceptions.Exit(1)
            finally:
                click.echo(
                    f"stackflow server {controller.owner} stopping (replicas keep running)",
                    err=True,
                )
                controller.stop(kill_replicas=False)
        finally:
            engine.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
