"""Server-sent event streams: an execution's history and a stack's events, live.

``GET /executions/{id}/events/stream`` sends every history event (``event: history``, ``id``
the event id, ``data`` as ``GET /executions/{id}/history`` shows it), then after each batch the
state statuses when they changed (``event: states``, ``data: {"status", "states": {NAME:
STATUS}}``), and ends with ``event: end`` (``data``: the execution record) once the execution
stopped. ``GET /stacks/{name}/events/stream`` sends each stack event (``event: stack``, ``id``
its EventId), ``event: status`` when the stack status changes, and, with ``follow=false``, ends
(``event: end``) as soon as no operation is in progress. Both resume after the ``Last-Event-ID``
header (or ``after``) and send a comment every 15 seconds to keep the connection open.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from stackflow.api.common import READ, engine_of
from stackflow.errors import NotFoundError, StackNotFoundError
from stackflow.graph.asl_status import state_statuses
from stackflow.types import TERMINAL_STATUSES
from stackflow.views import event_json, parsed_definition, record_json, stack_event_json

__all__ = ["router", "sse"]

router = APIRouter(tags=["events"])

T = TypeVar("T")

#: Seconds between looks at the store.
POLL_SECONDS = 0.2
#: Seconds between keep-alive comments.
KEEPALIVE_SECONDS = 15.0
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    """Return one server-sent event.

    Args:
        event: The event name.
        data: A JSON value (sent on one ``data:`` line).
        event_id: The ``id:`` field, if any.
    """
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _resume_point(request: Request, after: int) -> int:
    last = request.headers.get("last-event-id", "")
    return max(after, int(last)) if last.isdigit() else after


async def _call(fn: Callable[..., T], *args: Any) -> T:
    """Run a (blocking) store read in the thread pool."""
    return await run_in_threadpool(fn, *args)


def _stopping(request: Request) -> bool:
    stop = getattr(request.app.state, "stopping", None)
    return bool(stop is not None and stop.is_set())


class _Pacer:
    """The end of each turn of a stream: a keep-alive comment when it has been quiet for a
    while, then a pause before the next look at the store."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.quiet_since = time.monotonic()

    def keepalive(self, sent: bool) -> str | None:
        """Return a keep-alive comment when nothing was ``sent`` for too long, else None."""
        now = time.monotonic()
        if sent or now - self.quiet_since > KEEPALIVE_SECONDS:
            self.quiet_since = now
            return None if sent else ": keepalive\n\n"
        return None

    async def pause(self) -> bool:
        """Wait for the next look at the store; return False when the client disconnected."""
        if await self.request.is_disconnected():
            return False
        await anyio.sleep(POLL_SECONDS)
        return True


@router.get("/executions/{execution_id}/events/stream", dependencies=READ)
async def execution_stream(
    execution_id: str, request: Request, after: int = Query(0, ge=0)
) -> StreamingResponse:
    """Stream an execution's history events as server-sent events until it stops."""
    engine = engine_of(request)
    record = await _call(engine.describe, execution_id)  # unknown id -> 404 before streaming
    start = _resume_point(request, after)
    document = parsed_definition(record.definition)
    asl = isinstance(document, dict)

    async def stream() -> AsyncIterator[str]:
        seen = start
        history = await _call(engine.store.get_history, execution_id, 0) if asl else []
        sent_states: dict[str, str] | None = None
        pacer = _Pacer(request)
        while not _stopping(request):
            current = await _call(engine.describe, execution_id)
            events = await _call(engine.store.get_history, execution_id, seen)
            for event in events:
                yield sse("history", event_json(event), event.id)
                seen = event.id
            if asl and (events or sent_states is None):  # the states change only with events
                history += [e for e in events if e.id > (history[-1].id if history else 0)]
                states = {
                    name: info["status"] for name, info in state_statuses(history, document).items()
                }
                if states != sent_states:
                    sent_states = states
                    yield sse("states", {"status": current.status, "states": states})
            if current.status in TERMINAL_STATUSES and not events:
                yield sse("end", record_json(current))
                return
            keepalive = pacer.keepalive(bool(events))
            if keepalive is not None:
                yield keepalive
            if not await pacer.pause():
                return

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_HEADERS)


@router.get("/stacks/{name}/events/stream", dependencies=READ)
async def stack_stream(
    name: str,
    request: Request,
    after: int = Query(0, ge=0),
    follow: bool = Query(True, description="Keep streaming after the current operation."),
) -> StreamingResponse:
    """Stream a stack's events as server-sent events."""
    stacks = engine_of(request).stacks
    await _call(stacks.describe, name)  # unknown stack -> 404 before streaming
    start = _resume_point(request, after)

    async def stream() -> AsyncIterator[str]:
        seen = start
        status: str | None = None
        pacer = _Pacer(request)
        while not _stopping(request):
            try:
                record = await _call(stacks.store.get_stack, name)
                events = await _call(
                    functools.partial(stacks.store.list_events, record.stack_id, after=seen)
                )
            except (StackNotFoundError, NotFoundError):
                yield sse("end", {"StackName": name, "StackStatus": "DELETE_COMPLETE"})
                return
            for event in events:
                yield sse("stack", stack_event_json(event), event.seq)
                seen = event.seq
            if record.status != status:
                status = record.status
                yield sse("status", {"StackName": name, "StackStatus": status})
            if not follow and not status.endswith("IN_PROGRESS") and not events:
                yield sse("end", {"StackName": name, "StackStatus": status})
                return
            keepalive = pacer.keepalive(bool(events))
            if keepalive is not None:
                yield keepalive
            if not await pacer.pause():
                return

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_HEADERS)
