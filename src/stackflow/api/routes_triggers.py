"""HTTP triggers (``Stackflow::HttpTrigger``): ``POST /hooks/{name}`` starts a workflow.

The hook lives outside ``/api/v1`` and is not behind API tokens: each trigger has its own
authentication (none, a token, or an HMAC-SHA256 signature of the raw body; see
:mod:`stackflow.providers.http_trigger`). A failed check answers ``401`` without telling
what was expected. The JSON request body is the execution input (an empty body is ``{}``);
a body that is not JSON answers ``400`` naming where parsing failed.

The answer is ``202`` with the execution (``{"execution", "name", "workflow", "status",
...}``). With ``?wait=SECONDS`` (or the header ``Prefer: wait=SECONDS``) the server waits up to
that long for the execution to end and answers ``200`` with its ``status`` and ``output`` (or
``error`` and ``cause``); still running at the deadline, it answers ``202`` as without waiting.

``GET /api/v1/triggers`` (read) lists the triggers, never their secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from stackflow.api.common import READ, engine_of, start_deployed
from stackflow.errors import InputError, NotFoundError, Problem, SourceLocation
from stackflow.providers.http_trigger import hook_path, token_digest
from stackflow.views import record_json

if TYPE_CHECKING:
    from stackflow.engine import Engine
    from stackflow.store.base import ExecutionRecord
    from stackflow.store.triggers import TriggerRecord

__all__ = [
    "MAX_WAIT",
    "check_request",
    "hooks_router",
    "requested_wait",
    "router",
    "sign",
    "trigger_json",
]

#: Routes under ``/api/v1``.
router = APIRouter(tags=["triggers"])
#: The hooks themselves, at the server's root.
hooks_router = APIRouter(tags=["triggers"])

#: Longest wait for a result, in seconds.
MAX_WAIT = 300.0
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)
_TOKEN_HEADER = "X-Stackflow-Token"


def sign(secret: str, body: bytes) -> str:
    """Return the HMAC-SHA256 of a body in hex (what a caller puts in the signature header).

    Args:
        secret: The trigger's ``Auth.Secret``.
        body: The raw request body.
    """
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    """Compare two strings in constant time (any characters)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


def check_request(record: TriggerRecord, headers: Any, body: bytes) -> str | None:
    """Check a hook request's authentication.

    Args:
        record: The trigger.
        headers: The request headers (case-insensitive mapping).
        body: The raw request body.

    Returns:
        None when the request may start the workflow, else why not (for a 401; it never
        holds the expected token or signature).
    """
    if record.auth_type == "None":
        return None
    secret = record.secret or ""
    if record.auth_type == "Token":
        given = headers.get(_TOKEN_HEADER)
        if given is None:
            scheme, _, value = (headers.get("authorization") or "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" and value.strip() else None
        if given is None:
            return f"this hook needs a token (Authorization: Bearer TOKEN or {_TOKEN_HEADER})"
        return None if _same(secret, token_digest(given.strip())) else "the token is not valid"
    given = headers.get(record.header)
    if not given:
        return f"this hook needs an HMAC-SHA256 signature of the body in the {record.header} header"
    text = given.strip()
    if text[:7].lower() == "sha256=":
        text = text[7:]
    if _same(sign(secret, body), text.strip().lower()):
        return None
    return f"the {record.header} signature does not match the body"


def requested_wait(query: float | None, prefer: str | None) -> float:
    """Return how long to wait for the result: ``?wait=``, else ``Prefer: wait=N``, else 0.

    Args:
        query: The ``wait`` query parameter.
        prefer: The ``Prefer`` header.
    """
    if query is not None:
        return min(query, MAX_WAIT)
    match = _PREFER_WAIT.search(prefer or "")
    return min(float(match.group(1)), MAX_WAIT) if match else 0.0


def _input(body: bytes) -> Any:
    """Parse the body as JSON (empty: ``{}``), or raise InputError naming the problem."""
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        where = SourceLocation("request body", exc.lineno, exc.colno, "")
        message = f"the request body is not JSON: {exc.msg}"
    except ValueError:
        where = SourceLocation("request body", None, None, "")
        message = "the request body is not JSON: it is not UTF-8 text"
    raise InputError([Problem(where, message, "INVALID_JSON")], "the request body is not JSON")


def _start(engine: Engine, record: TriggerRecord, payload: Any) -> ExecutionRecord:
    """Start the trigger's workflow with ``payload``."""
    name, _, version = record.workflow.partition(":")
    return start_deployed(engine, name, int(version) if version.isdigit() else None, payload)


def _result(record: ExecutionRecord) -> dict[str, Any]:
    data = record_json(record)
    data["status_url"] = f"/api/v1/executions/{record.execution_id}"
    return data


_ANY_JSON_BODY = {
    "requestBody": {
        "required": False,
        "description": "The execution input (any JSON; empty: {}). Signed as sent.",
        "content": {"application/json": {"schema": {}}},
    }
}


@hooks_router.post("/hooks/{name}", status_code=202, openapi_extra=_ANY_JSON_BODY)
async def call_hook(
    name: str,
    request: Request,
    wait: float | None = Query(
        None, ge=0, le=MAX_WAIT, description="Seconds to wait for the execution to end."
    ),
) -> JSONResponse:
    """Start the trigger's workflow with the JSON request body as input.

    Answers 202 with the execution, or (waiting) 200 with its status and output.
    """
    engine = engine_of(request)
    record = await run_in_threadpool(engine.store.triggers.find_trigger, name)
    if record is None:
        raise NotFoundError(f"no HTTP trigger named {name!r}")
    body = await request.body()
    problem = check_request(record, request.headers, body)
    if problem is not None:
        scheme = "Bearer" if record.auth_type == "Token" else "Signature"
        raise HTTPException(401, detail=problem, headers={"WWW-Authenticate": scheme})
    payload = _input(body)
    started = await run_in_threadpool(_start, engine, record, payload)
    seconds = requested_wait(wait, request.headers.get("prefer"))
    if seconds <= 0:
        return JSONResponse(_result(started), status_code=202)
    try:
        done = await run_in_threadpool(engine.wait, started.execution_id, seconds)
    except TimeoutError:
        current = await run_in_threadpool(engine.describe, started.execution_id)
        return JSONResponse(
            _result(current), status_code=202, headers={"Preference-Applied": f"wait={seconds:g}"}
        )
    data = _result(done)
    data["output"] = done.output
    return JSONResponse(data, status_code=200, headers={"Preference-Applied": f"wait={seconds:g}"})


def trigger_json(record: TriggerRecord) -> dict[str, Any]:
    """Return a trigger as JSON, without its secret.

    Args:
        record: The trigger.
    """
    return {
        "name": record.name,
        "url": hook_path(record.name),
        "workflow": record.workflow,
        "auth": record.auth_type,
        "header": record.header if record.auth_type == "Hmac" else None,
        "stack": record.stack_name,
        "logical_id": record.logical_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


@router.get("/triggers", dependencies=READ)
def list_triggers(
    request: Request, stack: str | None = Query(None, description="Only this stack's triggers.")
) -> list[dict[str, Any]]:
    """List HTTP triggers: name, hook path, workflow and kind of authentication."""
    records = engine_of(request).store.triggers.list_triggers(stack_name=stack)
    return [trigger_json(r) for r in records]
