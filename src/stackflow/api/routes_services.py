"""Service routes (``Local::Service``): status, replicas, recent log lines, scale and restart.

Reading needs the ``read`` role; scaling and restarting need ``operate``. The answers are the
shapes of ``stackflow service list|status|logs|scale|restart --json``. Like the CLI, the routes
only change the services store: the controller of ``stackflow server`` carries the change out.
NoEcho values of the owning stack (a secret in a service's ``Environment``, or printed by the
service into its log) come back masked.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from stackflow.api.common import OPERATE, READ, engine_of, stack_secrets
from stackflow.errors import NotFoundError
from stackflow.stacks.changes import mask_secrets
from stackflow.views import log_files, service_json, service_summary_json, supervisor_text

if TYPE_CHECKING:
    from stackflow.engine import Engine
    from stackflow.store.services import ServiceRecord

__all__ = ["router"]

router = APIRouter(tags=["services"])

#: Most log lines one request returns per replica.
MAX_LOG_LINES = 10_000


class ScaleRequest(BaseModel):
    """Body of ``POST /services/{name}/scale``."""

    replicas: int = Field(..., ge=0, le=1000, description="The desired number of replicas.")


def _live_service(engine: Engine, name: str) -> ServiceRecord:
    """Return a service that is not being deleted, or raise NotFoundError naming the known ones."""
    store = engine.store.services
    record = store.find_service(name)
    if record is None or record.deleted:
        known = [r.name for r in store.list_services() if not r.deleted]
        hint = f" Known services: {', '.join(known)}." if known else " There are no services."
        raise NotFoundError(f"no service named {name!r}.{hint}")
    return record


def _masked(engine: Engine, stack_name: str, data: Any) -> Any:
    """Mask the NoEcho values of the service's stack in ``data``."""
    return mask_secrets(data, stack_secrets(engine, stack_name))


@router.get("/services", dependencies=READ)
def list_services(
    request: Request, stack: str | None = Query(None, description="Only this stack's services.")
) -> list[dict[str, Any]]:
    """List services: revision, desired and ready replicas, rollout and load balancer."""
    store = engine_of(request).store.services
    return [
        service_summary_json(record, store.list_replicas(record.name))
        for record in store.list_services(stack_name=stack)
    ]


@router.get("/services/{name}", dependencies=READ)
def describe_service(name: str, request: Request) -> dict[str, Any]:
    """Return a service with its spec, rollout, supervisor and every replica's record."""
    engine = engine_of(request)
    record = _live_service(engine, name)
    store = engine.store.services
    now = time.time()
    data = service_json(record, store.list_replicas(name))
    data["supervisor"] = supervisor_text(record, store.live_controllers(now), now)
    masked: dict[str, Any] = _masked(engine, record.stack_name, data)
    return masked


@router.get("/services/{name}/logs", dependencies=READ)
def service_logs(
    name: str,
    request: Request,
    lines: int = Query(50, ge=0, le=MAX_LOG_LINES, description="Last lines of each log."),
    replica: int | None = Query(None, ge=0, description="Only the replica in this slot."),
) -> list[dict[str, Any]]:
    """Return the last lines of each replica's log: ``[{"slot", "path", "lines"}]``."""
    from stackflow.engine import default_home
    from stackflow.supervise.logs import tail

    engine = engine_of(request)
    record = _live_service(engine, name)
    files = log_files(
        engine.home or default_home(), record, engine.store.services.list_replicas(name)
    )
    if replica is not None:
        files = [(slot, path) for slot, path in files if slot == replica]
        if not files:
            raise NotFoundError(f"service {name!r} has no log of a replica in slot {replica}")
    data = [{"slot": slot, "path": str(path), "lines": tail(path, lines)} for slot, path in files]
    masked: list[dict[str, Any]] = _masked(engine, record.stack_name, data)
    return masked


@router.post("/services/{name}/scale", dependencies=OPERATE)
def scale_service(name: str, body: ScaleRequest, request: Request) -> dict[str, Any]:
    """Set the number of replicas (no new revision; the stack's drift shows the change)."""
    engine = engine_of(request)
    record = _live_service(engine, name)
    updated = engine.store.services.update_service(
        name, replicas=body.replicas, updated_at=time.time()
    )
    return {"name": name, "replicas": updated.replicas, "previous": record.replicas}


@router.post("/services/{name}/restart", dependencies=OPERATE)
def restart_service(name: str, request: Request) -> dict[str, Any]:
    """Replace every replica, one by one as a rolling update does."""
    engine = engine_of(request)
    _live_service(engine, name)
    now = time.time()
    engine.store.services.update_service(name, restart_requested_at=now, updated_at=now)
    return {"name": name, "restart_requested_at": now}
