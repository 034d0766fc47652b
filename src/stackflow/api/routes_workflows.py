"""Workflow routes: list and deploy workflows, their versions and their laid-out graphs.

Deploying a definition is an ``admin`` action (a definition's tasks run code on the server).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from stackflow.api.common import ADMIN, READ, engine_of
from stackflow.graph.asl_graph import definition_graph
from stackflow.store.base import WorkflowVersion
from stackflow.views import parsed_definition

__all__ = ["DeployRequest", "router", "version_json"]

router = APIRouter(tags=["workflows"])


class DeployRequest(BaseModel):
    """Body of ``POST /workflows``."""

    name: str | None = Field(None, description="Workflow name (default: 'workflow').")
    definition: dict[str, Any] | str = Field(
        ..., description="The ASL definition: a JSON object, or JSON/YAML text."
    )


def version_json(version: WorkflowVersion, *, definition: bool = False) -> dict[str, Any]:
    """Return a deployed workflow version as JSON.

    Args:
        version: The version.
        definition: Include the parsed definition.

    Returns:
        ``{"name", "version", "created"}`` plus ``definition`` when asked.
    """
    data: dict[str, Any] = {
        "name": version.name,
        "version": version.version,
        "created": version.created,
    }
    if definition:
        data["definition"] = parsed_definition(version.definition)
    return data


@router.get("/workflows", dependencies=READ)
def list_workflows(request: Request) -> list[dict[str, Any]]:
    """List deployed workflows (the latest version of each), by name."""
    return [version_json(v) for v in engine_of(request).store.list_workflows()]


@router.post("/workflows", status_code=201, dependencies=ADMIN)
def deploy_workflow(body: DeployRequest, request: Request) -> dict[str, Any]:
    """Validate a definition and deploy it as the next version of its workflow.

    Deploying the same definition as the latest version again returns that version.
    """
    from stackflow.workflow.asl.loader import from_object, load_definition

    if isinstance(body.definition, str):
        loaded = load_definition(body.definition)
    else:
        loaded = from_object(body.definition)
    deployed = engine_of(request).deploy(loaded, body.name or "workflow")
    return version_json(deployed, definition=True)


@router.get("/workflows/{name}", dependencies=READ)
def get_workflow(
    name: str, request: Request, version: int | None = Query(None, ge=1)
) -> dict[str, Any]:
    """Return a workflow version (the latest by default) with its definition."""
    deployed = engine_of(request).store.get_workflow(name, version)
    return version_json(deployed, definition=True)


@router.get("/workflows/{name}/versions", dependencies=READ)
def list_versions(name: str, request: Request) -> list[dict[str, Any]]:
    """List every deployed version of a workflow, oldest first."""
    store = engine_of(request).store
    latest = store.get_workflow(name)
    versions = [store.get_workflow(name, number) for number in range(1, latest.version)]
    return [version_json(v) for v in [*versions, latest]]


@router.get("/workflows/{name}/graph", dependencies=READ)
def workflow_graph(
    name: str, request: Request, version: int | None = Query(None, ge=1)
) -> dict[str, Any]:
    """Return a workflow version's definition as a laid-out graph (boxes and polylines).

    See ``docs/api.md`` for the node and edge fields.
    """
    deployed = engine_of(request).store.get_workflow(name, version)
    document = json.loads(deployed.definition)
    return {
        "workflow": deployed.name,
        "version": deployed.version,
        "graph": definition_graph(document if isinstance(document, dict) else {}),
    }
