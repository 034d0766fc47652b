"""The FastAPI application: routers under ``/api/v1``, error mapping, the OpenAPI document.

Errors come back as JSON ``{"error": NAME, "message": TEXT, "problems": [...]}`` with a status
that says what went wrong: 400 bad input (with every problem and its location), 404 unknown
execution, workflow, stack or task token, 409 a conflict (an execution name taken with another
input, a stack locked by another operation, a stale change set).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from stackflow.api import (
    routes_events,
    routes_executions,
    routes_schedules,
    routes_services,
    routes_stacks,
    routes_triggers,
    routes_workflows,
)
from stackflow.api.auth import AuthConfig, require
from stackflow.errors import (
    ChangeSetStaleError,
    ConflictError,
    InputError,
    NotFoundError,
    StackflowError,
    StackLockedError,
    StackNotFoundError,
    TaskTokenError,
)
from stackflow.views import problem_json

if TYPE_CHECKING:
    from stackflow.engine import Engine

__all__ = ["API_PREFIX", "create_app", "error_status"]

#: Where the API's routes live.
API_PREFIX = "/api/v1"


def error_status(exc: StackflowError) -> int:
    """Return the HTTP status of a stackflow error.

    Args:
        exc: The error a route raised.
    """
    if isinstance(exc, NotFoundError | StackNotFoundError | TaskTokenError):
        return 404
    if isinstance(exc, ConflictError | StackLockedError | ChangeSetStaleError):
        return 409
    return 400  # bad input (InputError, StackError) and any other refusal


async def _stackflow_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StackflowError)
    body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, InputError):
        body["problems"] = [problem_json(p) for p in exc.problems]
    return JSONResponse(body, status_code=error_status(exc))


def create_app(engine: Engine, *, auth: AuthConfig) -> FastAPI:
    """Return the HTTP API over an engine.

    Args:
        engine: The engine whose store, runtime and stacks the API serves; it drives the
            executions it starts.
        auth: Who may call (see :mod:`stackflow.api.auth`).

    Returns:
        The application; ``app.state.stopping`` (a :class:`threading.Event`) ends open event
        streams when set.
    """
    app = FastAPI(
        title="stackflow",
        version="1",
        description="Workflows (Amazon States Language), executions and stacks over HTTP.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.auth = auth
    app.state.stopping = threading.Event()
    app.add_exception_handler(StackflowError, _stackflow_error)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require("read"))])
    def openapi() -> dict[str, Any]:
        """The OpenAPI document of this API."""
        return app.openapi()

    @app.get(f"{API_PREFIX}/health", tags=["server"], dependencies=[Depends(require("read"))])
    def health() -> dict[str, Any]:
        """Tell that the server answers."""
        return {"status": "ok"}

    for module in (
        routes_workflows,
        routes_executions,
        routes_stacks,
        routes_events,
        routes_services,
        routes_schedules,
        routes_triggers,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(routes_triggers.hooks_router)  # own authentication, outside the API
    return app
