"""The API on a real uvicorn server (serve() on a free port): auth, routes and SSE streams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from api_support import APPROVAL, bearer, wait_for

from stackflow.api import ApiServer, AuthConfig, serve
from stackflow.engine import Engine


@pytest.fixture
def server(engine: Engine) -> Iterator[ApiServer]:
    """A loopback server (no token needed) on a free port."""
    running = serve(engine, "127.0.0.1", 0)
    try:
        yield running
    finally:
        running.stop()


def read_events(response: httpx2.Response) -> Iterator[tuple[str, Any, str | None]]:
    """Yield ``(event, data, id)`` of a server-sent event stream."""
    name, data, ident = "message", [], None
    for line in response.iter_lines():
        if line == "":
            if data:
                yield name, json.loads("\n".join(data)), ident
            name, data, ident = "message", [], None
        elif line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif line.startswith("id: "):
            ident = line[len("id: ") :]


def test_serve_answers_and_stops(engine: Engine) -> None:
    running = serve(engine, "127.0.0.1", 0)
    try:
        assert running.port > 0
        assert running.url == f"http://127.0.0.1:{running.port}"
        assert httpx2.get(f"{running.url}/api/v1/health").json() == {"status": "ok"}
        document = httpx2.get(f"{running.url}/openapi.json").json()
        assert document["info"]["title"] == "stackflow"
        for path in (
            "/api/v1/workflows",
            "/api/v1/executions",
            "/api/v1/executions/{execution_id}/events/stream",
            "/api/v1/stacks/{name}/apply",
            "/api/v1/tasks/success",
            "/api/v1/activities/{name}/poll",
        ):
            assert path in document["paths"]
    finally:
        running.stop()
    assert not running.running
    with pytest.raises(httpx2.TransportError):
        httpx2.get(f"{running.url}/api/v1/health", timeout=2)


def test_token_required_on_a_real_server(engine: Engine, make_token: Callable[..., str]) -> None:
    auth = AuthConfig(require_token=True, tokens=engine.store.tokens)
    running = serve(engine, "127.0.0.1", 0, auth)
    try:
        url = f"{running.url}/api/v1/executions"
        assert httpx2.get(url).status_code == 401
        read = bearer(make_token("read"))
        assert httpx2.get(url, headers=read).status_code == 200
        engine.deploy(APPROVAL, "approval")
        assert httpx2.post(url, json={"workflow": "approval"}, headers=read).status_code == 403
        operate = bearer(make_token("operate"))
        started = httpx2.post(url, json={"workflow": "approval"}, headers=operate)
        assert started.status_code == 201
        engine.stop(started.json()["execution"])
    finally:
        running.stop()


def test_execution_stream_follows_a_running_execution(server: ApiServer, engine: Engine) -> None:
    engine.deploy(APPROVAL, "approval")
    api = f"{server.url}/api/v1"
    execution = httpx2.post(f"{api}/executions", json={"workflow": "approval"}).json()["execution"]
    received: list[tuple[str, Any, str | None]] = []
    answered = threading.Event()
    started = threading.Event()

    def answer() -> None:
        task = httpx2.post(f"{api}/activities/approve/poll", json={"wait": 20}, timeout=30).json()
        httpx2.post(f"{api}/tasks/success", json={"task_token": task["taskToken"], "output": 1})
        answered.set()

    with httpx2.stream("GET", f"{api}/executions/{execution}/events/stream", timeout=30) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        for event in read_events(reply):
            received.append(event)
            approving = event[0] == "states" and event[1]["states"].get("Approve") == "running"
            if approving and not started.is_set():
                started.set()
                threading.Thread(target=answer, daemon=True).start()
            if event[0] == "end":
                break
    assert answered.is_set()
    kinds = [e[0] for e in received]
    assert kinds[0] == "history" and kinds[-1] == "end"
    history = [e[1] for e in received if e[0] == "history"]
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionSucceeded"
    assert [int(e[2]) for e in received if e[0] == "history"] == [h["id"] for h in history]
    states = [e[1]["states"] for e in received if e[0] == "states"]
    assert {"Approve": "running"} in states
    assert states[-1] == {"Approve": "succeeded", "After": "succeeded"}
    assert received[-1][1]["status"] == "SUCCEEDED"

    # Resuming after the last event id sends nothing again, only the end.
    last = history[-1]["id"]
    with httpx2.stream(
        "GET",
        f"{api}/executions/{execution}/events/stream",
        headers={"Last-Event-ID": str(last)},
        timeout=30,
    ) as reply:
        again = list(read_events(reply))
    assert [e[0] for e in again if e[0] == "history"] == []
    assert again[-1][0] == "end"


def test_stack_stream_sends_events_and_ends(
    server: ApiServer, engine: Engine, tmp_path: Path
) -> None:
    template = (
        "Resources:\n  Note:\n    Type: Local::File\n    Properties:\n"
        f"      Path: {tmp_path / 'note.txt'}\n      Content: hi\n"
    )
    api = f"{server.url}/api/v1"
    assert httpx2.get(f"{api}/stacks/demo/events/stream").status_code == 404
    applied = httpx2.post(f"{api}/stacks/demo/apply", json={"template": template}, timeout=30)
    assert applied.json()["StackStatus"] == "CREATE_COMPLETE"
    with httpx2.stream("GET", f"{api}/stacks/demo/events/stream?follow=false", timeout=30) as reply:
        received = list(read_events(reply))
    stack_events = [e[1] for e in received if e[0] == "stack"]
    assert stack_events[-1]["ResourceStatus"] == "CREATE_COMPLETE"
    assert {"Note", "demo"} <= {e["LogicalResourceId"] for e in stack_events}
    assert ("status", {"StackName": "demo", "StackStatus": "CREATE_COMPLETE"}, None) in received
    assert received[-1][0] == "end"


def test_stop_ends_open_streams(engine: Engine) -> None:
    running = serve(engine, "127.0.0.1", 0)
    engine.deploy(APPROVAL, "approval")
    api = f"{running.url}/api/v1"
    execution = httpx2.post(f"{api}/executions", json={"workflow": "approval"}).json()["execution"]
    opened = threading.Event()
    finished = threading.Event()

    def listen() -> None:
        try:
            with httpx2.stream(
                "GET", f"{api}/executions/{execution}/events/stream", timeout=30
            ) as reply:
                for _event in read_events(reply):
                    opened.set()
        except httpx2.HTTPError:
            pass
        finished.set()

    threading.Thread(target=listen, daemon=True).start()
    wait_for(opened.is_set)
    started = time.monotonic()
    running.stop()
    assert finished.wait(10)
    assert time.monotonic() - started < 10
    assert not running.running
    engine.stop(execution)
