"""Stacks through a server: :class:`RemoteStacks`, the part of ``StackService`` the CLI uses.

Templates are read here. A server on this machine (a loopback URL) is sent the template's
absolute path, so it reads the same file and resolves relative paths in the template (a
``Local::File`` ``Path``) against the template's folder as a local ``stack apply`` does. Any
other server is sent the template's text: relative paths then resolve against the server's
working directory, and problems in the template are reported with the local file's name and
their line and column.

Progress of an apply or a delete is followed by polling the stack's events while the request
runs (a background thread); each new event goes to ``on_event``.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stackflow.client.http import ApiClient, ServerAuthError
from stackflow.client.stack_json import (
    change_set_from_json,
    drift_report_from_json,
    stack_description_from_json,
    stack_event_from_json,
    stack_record_from_json,
    stack_result_from_json,
)
from stackflow.errors import NotFoundError, StackflowError, StackNotFoundError, TemplateError
from stackflow.stacks.changes import ChangeSet
from stackflow.stacks.events import EventCallback
from stackflow.stacks.results import DriftReport, StackDescription, StackResult
from stackflow.store.stacks import StackEvent, StackRecord

__all__ = ["RemoteStacks"]

#: Seconds between looks at a stack's events while an operation runs.
FOLLOW_SECONDS = 0.2


def _path(stack: str) -> str:
    return f"/stacks/{quote(stack, safe='')}"


class RemoteStacks:
    """Plan, apply, delete and read stacks through a stackflow server.

    Args:
        api: The server's client.
        send_paths: Send a template's path instead of its text: None decides by the URL (a
            loopback server gets paths), True or False forces it.
    """

    def __init__(self, api: ApiClient, *, send_paths: bool | None = None) -> None:
        self.api = api
        self.send_paths = api.loopback if send_paths is None else send_paths

    # ------------------------------------------------------------------ templates

    def _with_template(
        self, template: str | Path | None, send: Callable[[dict[str, Any], str | None], Any]
    ) -> Any:
        """Call ``send(body, local_file)`` with the template as a path or as text.

        A path the server cannot use (it does not hold the file, or the token may not name
        server paths) is sent again as text.
        """
        if template is None:
            return send({}, None)
        from stackflow.stacks.inputs import read_template

        text, file = read_template(template)  # a missing local file fails here, named locally
        if file is not None and self.send_paths:
            try:
                return send({"template_path": file}, None)
            except ServerAuthError as exc:
                if exc.status != 403:
                    raise
            except TemplateError as exc:
                if not any(
                    p.code == "FILE_NOT_FOUND" and p.location.file == file for p in exc.problems
                ):
                    raise
        return send({"template": text}, file)

    def plan(
        self,
        template: str | Path,
        stack: str,
        parameters: Mapping[str, str] | None = None,
        *,
        save: bool = False,
    ) -> ChangeSet:
        """Compute the change set of applying ``template`` to ``stack`` (see ``StackService``).

        Args:
            template: A local template file, or the template text.
            stack: The stack name.
            parameters: Parameter values.
            save: Keep the change set on the server for ``apply(change_set_id=...)``.

        Raises:
            TemplateError: The template or a parameter is invalid (problems with locations).
        """

        def send(body: dict[str, Any], file: str | None) -> Any:
            body.update(parameters=dict(parameters or {}), save=save)
            return self.api.request("POST", _path(stack) + "/plan", json=body, long=True, file=file)

        return change_set_from_json(self._with_template(template, send))

    def apply(
        self,
        template: str | Path | None,
        stack: str,
        parameters: Mapping[str, str] | None = None,
        *,
        change_set_id: str | None = None,
        parallelism: int = 10,
        rollback: bool = True,
        on_event: EventCallback | None = None,
    ) -> StackResult:
        """Create or update ``stack`` on the server and wait until it is done.

        Args:
            template: A local template file or the template text (ignored with
                ``change_set_id``).
            stack: The stack name.
            parameters: Parameter values.
            change_set_id: Execute a change set saved by ``plan(save=True)``.
            parallelism: Resources worked on at once.
            rollback: Roll back on failure.
            on_event: Called with each new stack event while the apply runs (from another
                thread).

        Raises:
            TemplateError: Invalid template or parameters (nothing changed).
            StackLockedError: Another operation holds the stack.
            ChangeSetStaleError: The change set is out of date.
        """

        def send(body: dict[str, Any], file: str | None) -> Any:
            body.update(
                parameters=dict(parameters or {}),
                change_set_id=change_set_id,
                rollback=rollback,
                parallelism=parallelism,
            )
            return self.api.request(
                "POST", _path(stack) + "/apply", json=body, long=True, file=file
            )

        source = None if change_set_id is not None else template
        with _Follower(self, stack, on_event):
            data = self._with_template(source, send)
        return stack_result_from_json(data)

    def delete(
        self, stack: str, *, on_event: EventCallback | None = None, parallelism: int = 10
    ) -> StackResult:
        """Delete a stack's resources and the stack on the server.

        Args:
            stack: The stack name.
            on_event: Called with each new stack event while the delete runs (events after
                the stack is gone are not seen).
            parallelism: Accepted for symmetry with ``StackService``; the server decides.

        Raises:
            StackNotFoundError: No such stack.
        """
        with _Follower(self, stack, on_event):
            data = self.api.request("DELETE", _path(stack), long=True, stack=True)
        return stack_result_from_json(data)

    # ------------------------------------------------------------------ reading

    def describe(self, stack: str) -> StackDescription:
        """Return a stack's status, parameters (NoEcho masked), outputs and resources."""
        return stack_description_from_json(self.api.request("GET", _path(stack), stack=True))

    def list(self, *, include_deleted: bool = False) -> builtins.list[StackRecord]:
        """Return the stacks (without their templates, parameters and outputs)."""
        rows = self.api.request("GET", "/stacks", params={"all": include_deleted or None})
        return [stack_record_from_json(row) for row in rows]

    def events(
        self, stack: str, *, after: int = 0, limit: int | None = None
    ) -> builtins.list[StackEvent]:
        """Return a stack's events, oldest first (``stack_id`` is left empty).

        Args:
            stack: The stack name.
            after: Only events with a higher EventId.
            limit: Only the last N events.
        """
        rows = self.api.request(
            "GET",
            _path(stack) + "/events",
            params={"after": after or None, "limit": limit},
            stack=True,
        )
        return [stack_event_from_json(row) for row in rows]

    def outputs(self, stack: str) -> dict[str, Any]:
        """Return a stack's outputs as ``{name: value}`` (NoEcho values masked)."""
        return {
            name: body.get("Value") if isinstance(body, dict) else body
            for name, body in self.describe(stack).outputs.items()
        }

    def drift(self, stack: str) -> DriftReport:
        """Have the server read every resource's actual state and report differences."""
        data = self.api.request("GET", _path(stack) + "/drift", long=True, stack=True)
        return drift_report_from_json(data)


class _Follower:
    """Polls a stack's events in a thread while an operation runs; hands new ones on.

    Only events newer than those at the start are handed on. A stack replaced during the
    operation (a failed first create is deleted and created afresh) is noticed by its id,
    and its events are followed from its first.
    """

    def __init__(self, stacks: RemoteStacks, stack: str, on_event: EventCallback | None) -> None:
        self.stacks = stacks
        self.stack = stack
        self.on_event = on_event
        self.stack_id: str | None = None
        self.after = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> _Follower:
        if self.on_event is None:
            return self
        try:
            self.stack_id = self.stacks.describe(self.stack).stack_id
            last = self.stacks.events(self.stack, limit=1)
            self.after = last[-1].seq if last else 0
        except (StackNotFoundError, NotFoundError):
            self.stack_id, self.after = None, 0
        self._thread = threading.Thread(
            target=self._run, name=f"stackflow-follow-{self.stack}", daemon=True
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(FOLLOW_SECONDS):
            self.poll()

    def poll(self) -> None:
        """Hand on the events recorded since the last look (errors are ignored: it retries)."""
        if self.on_event is None:
            return
        with self._lock:
            try:
                stack_id = self.stacks.describe(self.stack).stack_id
                if stack_id != self.stack_id:
                    self.stack_id, self.after = stack_id, 0
                new = self.stacks.events(self.stack, after=self.after)
            except StackflowError:
                return
            for event in new:
                self.after = event.seq
                self.on_event(dataclasses.replace(event, stack_id=stack_id))

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(5.0)
        self.poll()  # the events recorded since the last look
