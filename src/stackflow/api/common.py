"""What every route module shares: the engine of the app and the role dependencies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, Request

from stackflow.api.auth import require

if TYPE_CHECKING:
    from stackflow.engine import Engine

__all__ = ["ADMIN", "OPERATE", "READ", "engine_of"]

#: Route dependencies: the least role a route needs.
READ = [Depends(require("read"))]
OPERATE = [Depends(require("operate"))]
ADMIN = [Depends(require("admin"))]


def engine_of(request: Request) -> Engine:
    """Return the engine the app serves.

    Args:
        request: The current request.
    """
    engine: Engine = request.app.state.engine
    return engine
