"""Stack routes: plan, apply, delete, list, describe, events and drift.

Planning needs ``operate``; applying and deleting need ``admin``, and so does naming a template
by its path on the server (``template_path``). NoEcho parameters and outputs come back masked
(the stack service masks them; results of plan, apply, delete and drift are masked here
too, outputs that echo a NoEcho value included).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from stackflow.api.auth import authenticate
from stackflow.api.common import ADMIN, OPERATE, READ, engine_of, stack_secrets
from stackflow.errors import StackNotFoundError
from stackflow.stacks.changes import mask_secrets
from stackflow.store.tokens import role_allows
from stackflow.views import change_set_record_json, stack_event_json, stack_summary_json

__all__ = ["router", "template_source"]

router = APIRouter(tags=["stacks"])


class TemplateRequest(BaseModel):
    """The template and parameters of a plan or an apply."""

    template: str | None = Field(None, description="The template text (YAML or JSON).")
    template_path: str | None = Field(
        None, description="Path of a template file on the server (admin only)."
    )
    parameters: dict[str, str] = Field(default_factory=dict, description="Parameter values.")


class PlanRequest(TemplateRequest):
    """Body of ``POST /stacks/{name}/plan``."""

    save: bool = Field(False, description="Keep the change set for a later apply.")


class ApplyRequest(TemplateRequest):
    """Body of ``POST /stacks/{name}/apply``."""

    change_set_id: str | None = Field(None, description="Execute this saved change set.")
    rollback: bool = Field(True, description="Roll back on failure.")
    parallelism: int = Field(10, ge=1, le=100)


def template_source(
    body: TemplateRequest, request: Request, *, required: bool = True
) -> str | None:
    """Return what the stack service reads: the template text or a path.

    A one-line text gets a newline at its end, so that it is never taken for a path.

    Args:
        body: The request body.
        request: The request (naming a server path needs the admin role).
        required: Refuse a body without a template.

    Raises:
        HTTPException: Both or neither given (422), a path without the admin role (403).
    """
    if body.template is not None and body.template_path is not None:
        raise HTTPException(422, detail="give either 'template' or 'template_path', not both")
    if body.template_path is not None:
        if not role_allows(authenticate(request).role, "admin"):
            raise HTTPException(403, detail="'template_path' needs the admin role")
        return body.template_path
    if body.template is None:
        if required:
            raise HTTPException(422, detail="give 'template' (the text) or 'template_path'")
        return None
    return body.template if "\n" in body.template else body.template + "\n"


def _secrets(request: Request, name: str) -> list[str]:
    """Return the NoEcho values recorded for a stack (none when it does not exist)."""
    return stack_secrets(engine_of(request), name)


def _masked(data: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    """Return a result with every NoEcho value masked (outputs that echo them included)."""
    masked: dict[str, Any] = mask_secrets(data, secrets)
    return masked


@router.get("/stacks", dependencies=READ)
def list_stacks(
    request: Request, all: bool = Query(False, description="Include deleted stacks.")
) -> list[dict[str, Any]]:
    """List stacks with their status."""
    return [stack_summary_json(r) for r in engine_of(request).stacks.list(include_deleted=all)]


@router.get("/stacks/{name}", dependencies=READ)
def describe_stack(name: str, request: Request) -> dict[str, Any]:
    """Return a stack: status, parameters (NoEcho masked), outputs and resources."""
    return _masked(engine_of(request).stacks.describe(name).to_json(), _secrets(request, name))


@router.get("/stacks/{name}/events", dependencies=READ)
def stack_events(
    name: str,
    request: Request,
    after: int = Query(0, ge=0, description="Only events with a higher EventId."),
    limit: int | None = Query(None, ge=1, description="Only the last N events."),
) -> list[dict[str, Any]]:
    """Return a stack's events, oldest first."""
    items = engine_of(request).stacks.events(name, after=after)
    if limit is not None:
        items = items[-limit:]
    return [stack_event_json(e) for e in items]


@router.get("/stacks/{name}/change-sets", dependencies=READ)
def stack_change_sets(
    name: str,
    request: Request,
    limit: int | None = Query(None, ge=1, description="Only the newest N change sets."),
) -> list[dict[str, Any]]:
    """Return the change sets of a stack, newest first: saved plans and applied changes.

    Each is the plan's change set (before/after values, NoEcho masked) with its ``Status``
    (``CREATE_COMPLETE`` for a saved plan not executed, ``EXECUTE_COMPLETE``,
    ``EXECUTE_FAILED``...) and ``CreationTime``.
    """
    stacks = engine_of(request).stacks.store
    records = stacks.list_change_sets(name)
    if not records and stacks.find_stack(name) is None:
        raise StackNotFoundError(f"stack {name!r} does not exist")
    records.reverse()
    if limit is not None:
        records = records[:limit]
    secrets = _secrets(request, name)
    return [_masked(change_set_record_json(r), secrets) for r in records]


@router.get("/stacks/{name}/drift", dependencies=READ)
def stack_drift(name: str, request: Request) -> dict[str, Any]:
    """Read every resource's actual state and report differences from the recorded one."""
    return _masked(engine_of(request).stacks.drift(name).to_json(), _secrets(request, name))


@router.post("/stacks/{name}/plan", dependencies=OPERATE)
def plan_stack(name: str, body: PlanRequest, request: Request) -> dict[str, Any]:
    """Compute the change set of applying a template (nothing changes unless ``save``)."""
    source = template_source(body, request)
    assert source is not None
    change_set = engine_of(request).stacks.plan(source, name, body.parameters, save=body.save)
    return _masked(change_set.to_json(), _secrets(request, name))


@router.post("/stacks/{name}/apply", dependencies=ADMIN)
def apply_stack(name: str, body: ApplyRequest, request: Request) -> dict[str, Any]:
    """Create or update a stack (or execute a saved change set) and wait until it is done.

    The answer is 200 with the result whether the stack operation succeeded or rolled back;
    look at ``StackStatus`` and ``RootCauses``. Follow the progress with
    ``GET /stacks/{name}/events/stream``.
    """
    source = template_source(body, request, required=body.change_set_id is None)
    result = engine_of(request).stacks.apply(
        source,
        name,
        body.parameters or None,
        change_set_id=body.change_set_id,
        rollback=body.rollback,
        parallelism=body.parallelism,
    )
    return _masked(result.to_json(), _secrets(request, name))


@router.delete("/stacks/{name}", dependencies=ADMIN)
def delete_stack(name: str, request: Request) -> dict[str, Any]:
    """Delete a stack's resources (dependents first, Retain kept) and the stack."""
    secrets = _secrets(request, name)
    return _masked(engine_of(request).stacks.delete(name).to_json(), secrets)
