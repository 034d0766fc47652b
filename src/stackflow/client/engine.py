"""Workflows and executions through a server: :class:`RemoteEngine`.

It offers the part of :class:`~stackflow.engine.Engine` the CLI uses, over the HTTP API, and
returns the same records. The server drives every execution it starts (``drive`` is
ignored); a ``listener`` gets the history events as the server records them (polled in a
background thread), and :meth:`RemoteEngine.wait` polls until the execution ends.

Definitions given as files are loaded and validated here (problems name the local file, line
and column) and sent inline; a code workflow (``MODULE:FUNCTION``) cannot be sent: deploy an
ASL definition, or run the code workflow on the server's machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from stackflow.client.http import ApiClient, NotAvailableRemotely, StackflowError
from stackflow.client.parse import event_from_json, record_from_json, version_from_json
from stackflow.types import JSON, TERMINAL_STATUSES

if TYPE_CHECKING:
    import httpx2

    from stackflow.client.stacks import RemoteStacks
    from stackflow.store.base import ExecutionRecord, HistoryEvent, WorkflowVersion

__all__ = ["RemoteEngine"]

#: Seconds between looks at an execution while waiting for it or following its history.
POLL_SECONDS = 0.1
#: Longest wait for the server to take up a redrive.
REDRIVE_SECONDS = 10.0

HistoryListener = Callable[["HistoryEvent"], None]


def _exec_path(execution_id: str) -> str:
    return f"/executions/{quote(execution_id, safe='')}"


class RemoteEngine:
    """The workflow engine of a stackflow server, over its HTTP API.

    Args:
        url: The server's base URL (``http://HOST:PORT``).
        token: A bearer token, needed unless the server is bound to loopback.
        timeout: Read timeout of ordinary requests, in seconds.
        send_paths: How templates are sent (see :class:`~stackflow.client.stacks.RemoteStacks`).
        transport: An httpx2 transport (tests).
        on_unavailable: Returns the message of the error for something the API does not offer
            (given the attribute's name), instead of the default one.

    Anything of :class:`~stackflow.engine.Engine` not offered here (``store``, ``runtime``,
    ``send_event``...) raises :class:`~stackflow.client.http.NotAvailableRemotely`.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        send_paths: bool | None = None,
        transport: httpx2.BaseTransport | None = None,
        on_unavailable: Callable[[str], str] | None = None,
    ) -> None:
        self.api = ApiClient(url, token, timeout=timeout, transport=transport)
        self._send_paths = send_paths
        self._stacks: RemoteStacks | None = None
        self._on_unavailable = on_unavailable
        self._followers: dict[str, threading.Thread] = {}
        self._closing = threading.Event()

    @property
    def stacks(self) -> RemoteStacks:
        """The server's stacks (plan, apply, delete, describe, list, events, outputs, drift)."""
        if self._stacks is None:
            from stackflow.client.stacks import RemoteStacks

            self._stacks = RemoteStacks(self.api, send_paths=self._send_paths)
        return self._stacks

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.api.url

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise self.unavailable(name)

    def unavailable(self, name: str) -> NotAvailableRemotely:
        """Return the error for something the API does not offer.

        Args:
            name: The engine attribute asked for.
        """
        if self._on_unavailable is not None:
            return NotAvailableRemotely(self._on_unavailable(name))
        return NotAvailableRemotely(
            f"this needs direct access to the store ({name}) and cannot be done through the "
            f"server {self.url}; run it on the server's machine without a server URL"
        )

    def health(self) -> dict[str, Any]:
        """Return ``GET /health`` (``{"status": "ok"}``)."""
        data: dict[str, Any] = self.api.request("GET", "/health")
        return data

    # ------------------------------------------------------------------ workflows

    def resolve(self, source: Any) -> tuple[str, str, int | None]:
        """Return ``(definition JSON, workflow name, version)`` like ``Engine.resolve``.

        A local file or a parsed definition is loaded here; ``NAME`` or ``NAME:VERSION`` of a
        deployed workflow is looked up on the server.

        Raises:
            DefinitionError: An invalid definition.
            NotFoundError: No deployed workflow has that name (or version).
            StackflowError: A code workflow reference (it cannot run through a server).
        """
        import json

        from stackflow.engine import _looks_like_code, _looks_like_name, load_workflow

        if isinstance(source, str) and not Path(source).exists():
            if _looks_like_name(source):
                name, _, version = source.partition(":")
                params = {"version": int(version)} if version else None
                data = self.api.request("GET", f"/workflows/{quote(name, safe='')}", params=params)
                deployed = version_from_json(data)
                return deployed.definition, deployed.name, deployed.version
            if _looks_like_code(source):
                raise StackflowError(
                    f"{source} is a code workflow: it cannot be started through a server "
                    "(run it on the server's machine without a server URL)"
                )
        loaded, name = load_workflow(source)
        return json.dumps(loaded.document, separators=(",", ":")), name, None

    def deploy(self, source: Any, name: str | None = None) -> WorkflowVersion:
        """Validate a definition here and deploy it on the server as the next version of
        ``name`` (admin role).

        Args:
            source: A loaded definition, a parsed one, or a file path.
            name: The workflow name (default: the file's name).

        Raises:
            DefinitionError: The definition is invalid.
        """
        from stackflow.engine import load_workflow

        loaded, default_name = load_workflow(source)
        file = loaded.source_map.file
        body = {"name": name or default_name, "definition": dict(loaded.document)}
        return version_from_json(self.api.request("POST", "/workflows", json=body, file=file))

    # ------------------------------------------------------------------ executions

    def start(
        self,
        definition: Any,
        input: JSON = None,
        *,
        name: str | None = None,
        workflow: str | None = None,
        listener: HistoryListener | None = None,
        drive: bool = True,
    ) -> ExecutionRecord:
        """Start an execution on the server (which runs it).

        Args:
            definition: A deployed workflow (``NAME`` or ``NAME:VERSION``: operate role), or a
                definition file, loaded definition or parsed definition (sent inline: admin
                role).
            input: Execution input (default ``{}``).
            name: Execution name, unique per workflow.
            workflow: Workflow name an inline definition's execution is recorded under
                (default: the file's name).
            listener: Called with each history event as the server records it.
            drive: Ignored: the server drives its executions.

        Raises:
            DefinitionError: The definition is invalid; nothing is recorded.
            ExecutionAlreadyExists: The name is taken by an execution with another input.
        """
        from stackflow.engine import _looks_like_name, load_workflow

        body: dict[str, Any] = {"input": {} if input is None else input, "name": name}
        file = None
        reference = isinstance(definition, str) and not Path(definition).exists()
        if reference and _looks_like_name(definition):
            body["workflow"] = definition
        else:
            if reference:
                self.resolve(definition)  # a code workflow: a clear error
            loaded, default_name = load_workflow(definition)
            file = loaded.source_map.file
            body["definition"] = dict(loaded.document)
            body["workflow_name"] = workflow or default_name
        record = record_from_json(self.api.request("POST", "/executions", json=body, file=file))
        if listener is not None:
            self.follow(record.execution_id, listener)
        return record

    def run(
        self,
        definition: Any,
        input: JSON = None,
        *,
        name: str | None = None,
        workflow: str | None = None,
        timeout: float | None = None,
        listener: HistoryListener | None = None,
    ) -> ExecutionRecord:
        """Start an execution and wait until it ends; return its final record."""
        record = self.start(definition, input, name=name, workflow=workflow, listener=listener)
        return self.wait(record.execution_id, timeout)

    def follow(self, execution_id: str, listener: HistoryListener, after: int = 0) -> None:
        """Hand an execution's history events to ``listener`` from a background thread.

        It stops once the execution ended and every event was handed on; :meth:`wait` waits
        for that.

        Args:
            execution_id: The execution.
            listener: Called with each event, in order.
            after: Only events with a higher id.
        """

        def run() -> None:
            seen = after
            while not self._closing.is_set():
                try:
                    events = self.history(execution_id, after=seen)
                    for event in events:
                        listener(event)
                        seen = event.id
                    if not events and self.describe(execution_id).status in TERMINAL_STATUSES:
                        for event in self.history(execution_id, after=seen):
                            listener(event)
                        return
                except StackflowError:
                    pass  # a transient failure: look again
                self._closing.wait(POLL_SECONDS)

        thread = threading.Thread(target=run, name=f"stackflow-follow-{execution_id}", daemon=True)
        self._followers[execution_id] = thread
        thread.start()

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:
        """Wait until an execution ended (and a listener got all its events); return it.

        Raises:
            TimeoutError: It did not end within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.describe(execution_id)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if record.status in TERMINAL_STATUSES:
                follower = self._followers.get(execution_id)
                if follower is None:
                    return record
                follower.join(remaining)
                if not follower.is_alive():
                    self._followers.pop(execution_id, None)
                    return record
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"execution {execution_id} did not finish in time")
            time.sleep(POLL_SECONDS if remaining is None else min(POLL_SECONDS, remaining))

    def stop(
        self, execution_id: str, *, error: str | None = None, cause: str | None = None
    ) -> ExecutionRecord:
        """Abort a running execution and its children (a no-op once it ended)."""
        body = {"error": error, "cause": cause}
        data = self.api.request("POST", _exec_path(execution_id) + "/stop", json=body)
        return record_from_json(data)

    def redrive(
        self, execution_id: str, *, listener: HistoryListener | None = None
    ) -> ExecutionRecord:
        """Restart a FAILED, TIMED_OUT or ABORTED execution on the server.

        Returns once the server recorded the restart (``ExecutionRedriven``), so a following
        :meth:`wait` sees the new run.

        Args:
            execution_id: The execution.
            listener: Called with each history event after the restart.

        Raises:
            StackflowError: It cannot be redriven, or the server did not take it up in time.
        """
        history = self.history(execution_id)
        last = history[-1].id if history else 0
        record = record_from_json(
            self.api.request("POST", _exec_path(execution_id) + "/redrive", json={})
        )
        deadline = time.monotonic() + REDRIVE_SECONDS
        while not any(e.type == "ExecutionRedriven" for e in self.history(execution_id, last)):
            if time.monotonic() >= deadline:
                raise StackflowError(f"the server did not take up the redrive of {execution_id}")
            time.sleep(POLL_SECONDS)
        if listener is not None:
            self.follow(execution_id, listener, after=last)
        return record

    def send_task_success(self, task_token: str, output: JSON) -> None:
        """Complete a task that waits for its token."""
        self.api.request(
            "POST", "/tasks/success", json={"task_token": task_token, "output": output}
        )

    def send_task_failure(
        self, task_token: str, error: str | None = None, cause: str | None = None
    ) -> None:
        """Fail a task that waits for its token."""
        body = {"task_token": task_token, "error": error, "cause": cause}
        self.api.request("POST", "/tasks/failure", json=body)

    def send_task_heartbeat(self, task_token: str) -> None:
        """Tell a waiting task with HeartbeatSeconds that its worker is still alive."""
        self.api.request("POST", "/tasks/heartbeat", json={"task_token": task_token})

    def get_activity_task(
        self, activity: str, worker: str | None = None, *, wait: float = 0.0
    ) -> dict[str, JSON] | None:
        """Take the oldest waiting task of an activity: ``{"taskToken", "input"}`` or None.

        Args:
            activity: The activity name.
            worker: The worker name recorded on the task.
            wait: Seconds the server may wait for a task (at most 60).
        """
        data = self.api.request(
            "POST",
            f"/activities/{quote(activity, safe='')}/poll",
            json={"worker": worker, "wait": wait},
            long=wait > 0,
        )
        if not isinstance(data, dict) or data.get("taskToken") is None:
            return None
        return dict(data)

    # ------------------------------------------------------------------ reading

    def describe(self, execution_id: str) -> ExecutionRecord:
        """Return an execution's record (with input, output and definition)."""
        return record_from_json(self.api.request("GET", _exec_path(execution_id)))

    def children(self, execution_id: str) -> dict[str, int]:
        """Return how many child executions an execution has per status."""
        data = self.api.request("GET", _exec_path(execution_id))
        return {str(k): int(v) for k, v in (data.get("children") or {}).items()}

    def history(self, execution_id: str, after: int = 0) -> list[HistoryEvent]:
        """Return an execution's history events in order (those with an id above ``after``)."""
        rows = self.api.request(
            "GET", _exec_path(execution_id) + "/history", params={"after": after or None}
        )
        return [event_from_json(row) for row in rows]

    def list_executions(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRecord]:
        """Return executions, newest first."""
        params = {"status": status, "workflow": workflow, "parent": parent_id, "limit": limit}
        return [
            record_from_json(row) for row in self.api.request("GET", "/executions", params=params)
        ]

    # ------------------------------------------------------------------ lifecycle

    def close(self, *, release: bool = True) -> None:
        """Stop following executions and close the connections.

        Args:
            release: Accepted for symmetry with ``Engine.close``.
        """
        self._closing.set()
        for thread in list(self._followers.values()):
            thread.join(2.0)
        self._followers.clear()
        self.api.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
