"""``stackflow worker``: a long-running process that claims and runs executions.

A worker holds a lease on each execution it runs and renews it; executions recorded with
``workflow start``, released by a stopped worker, or left by a crashed one (once the lease
expired) are claimed by any worker on the same home. SIGTERM or SIGINT stops it cleanly: leases
are released so another worker takes the executions at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from stackflow.cli.main import resolve_home
from stackflow.cli.workflow_commands import home_option, put_cwd_on_path

if TYPE_CHECKING:
    from stackflow.store.base import ExecutionRecord, HistoryEvent
    from stackflow.workflow.runtime import Runtime

#: History event type that ends an execution -> its final status.
END_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


class WorkerReporter:
    """Prints one plain line per claimed and per finished execution (to stderr by default).

    Install :meth:`claimed` as the runtime's ``on_claim``: it subscribes to the claimed
    execution's history to see its end.

    Args:
        runtime: The worker's runtime.
        echo: Where lines go (default: ``click.echo`` to stderr).
    """

    def __init__(self, runtime: Runtime, echo: Callable[[str], None] | None = None) -> None:
        self.runtime = runtime
        self.echo = echo or (lambda line: click.echo(line, err=True))

    def claimed(self, record: ExecutionRecord) -> None:
        """Report a claimed execution and follow it to its end (called on the loop thread).

        Args:
            record: The execution just claimed.
        """
        self.echo(f"claimed {record.execution_id} workflow={record.workflow} name={record.name}")
        execution_id = record.execution_id

        def on_event(event: HistoryEvent) -> None:
            status = END_EVENTS.get(event.type)
            if status is not None:
                self.echo(f"finished {execution_id} {status}")

        self.runtime.subscribe(execution_id, on_event)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Yield an event that SIGTERM or SIGINT sets; the previous handlers come back after.

    Long-running commands (``worker``, ``server``) wait on it and then stop cleanly.
    """
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous: dict[int, Any] = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start_worker_runtime(runtime: Runtime) -> None:
    """Start a claiming runtime that reports each claimed and finished execution."""
    runtime.on_claim = WorkerReporter(runtime).claimed
    runtime.start()


def check_runtime(runtime: Runtime) -> None:
    """Exit 1 when the runtime's loop died (so a process never looks alive but runs nothing).

    Raises:
        click.exceptions.Exit: The loop failed; the failure was printed.
    """
    failure = runtime.error
    if failure is not None:
        click.echo(f"error: the runtime loop failed: {failure!r}", err=True)
        raise click.exceptions.Exit(1)


@click.command("worker")
@home_option
@click.option(
    "--max-executions",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    metavar="N",
    help="Most executions held at once.",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="S",
    help="Lease length; another worker takes over S seconds after this one dies.",
)
@click.option(
    "--name",
    "owner",
    metavar="OWNER",
    help="This worker's id in leases (default: host:pid:random).",
)
@click.pass_context
def worker(
    ctx: click.Context,
    home: str | None,
    max_executions: int,
    lease_seconds: float,
    owner: str | None,
) -> None:
    """Claim and run executions until SIGTERM or Ctrl-C.

    Runs executions recorded with ``workflow start`` and takes over those of workers that
    stopped or died. Prints one line per claimed and per finished execution to stderr.
    Python task modules (``python:MODULE:FUNCTION``) are imported relative to the current
    directory.
    """
    from stackflow.cli.remote import reject_server
    from stackflow.engine import Engine

    reject_server(ctx)
    put_cwd_on_path()
    with stop_on_signals() as stopping:
        engine = Engine.open(
            resolve_home(ctx, home),
            claim=True,
            lease_seconds=lease_seconds,
            owner=owner,
            max_executions=max_executions,
        )
        try:
            runtime = engine.runtime
            start_worker_runtime(runtime)
            click.echo(f"worker {runtime.owner} started", err=True)
            while not stopping.wait(0.5):
                check_runtime(runtime)
            click.echo(f"worker {runtime.owner} stopping", err=True)
        finally:
            engine.close(release=True)
