"""Serve the web UI: static files at ``/`` and ``index.html`` for every UI path.

The UI is a handful of static files (``src/stackflow/ui``: HTML, ES modules, CSS; no build step)
that talk to the API under ``/api/v1``. :func:`mount_ui` adds one catch-all ``GET`` route after
the API's routes, so it must be called once the API routers are included (``create_app`` has
returned): a path naming a UI file serves it, any other path (``/executions/ID``...) serves
``index.html`` and the UI's router shows the page. Paths under ``/api/`` and ``/openapi.json``
never reach the UI (unknown API paths stay JSON 404s).

The static files hold no data, so they are served without a token; every API call the UI makes
carries the token the user entered (needed when the server is not bound to loopback).
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

from fastapi import HTTPException
from fastapi.responses import Response

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["CONTENT_TYPES", "UI_HEADERS", "mount_ui", "ui_files"]

#: Media types of the files the UI consists of.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
}

#: Headers of every UI response: no inline scripts or foreign origins, always revalidate.
UI_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

#: Path prefixes that belong to the API, never to the UI.
_API_PATHS = ("api/", "openapi.json")


def ui_files() -> dict[str, Traversable]:
    """Return the UI's static files by name (``index.html``, ``app.js``...).

    Returns:
        File name to its resource, for every file with a known media type.
    """
    folder = resources.files("stackflow") / "ui"
    found: dict[str, Traversable] = {}
    if folder.is_dir():
        for item in folder.iterdir():
            suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
            if item.is_file() and suffix in CONTENT_TYPES:
                found[item.name] = item
    return found


def _response(item: Traversable) -> Response:
    suffix = "." + item.name.rsplit(".", 1)[-1]
    return Response(item.read_bytes(), media_type=CONTENT_TYPES[suffix], headers=UI_HEADERS)


def mount_ui(app: FastAPI) -> None:
    """Serve the web UI from ``app``: its files at ``/NAME`` and ``index.html`` elsewhere.

    Call it after every API router is included (it adds a catch-all route, which must come
    last): ``app = create_app(engine, auth=auth); mount_ui(app)``.

    Args:
        app: The API application (:func:`stackflow.api.app.create_app`).

    Raises:
        RuntimeError: The UI files are not installed with the package.
    """
    files = ui_files()
    if "index.html" not in files:
        raise RuntimeError("the web UI files (stackflow/ui/index.html) are not installed")

    @app.get("/{path:path}", include_in_schema=False)
    def web_ui(path: str) -> Response:
        """Serve a UI file, or the UI's page for any other path."""
        if path == "api" or path.startswith(_API_PATHS):
            raise HTTPException(404, detail=f"no route /{path}")
        item = files.get(path) if "/" not in path else None
        return _response(item if item is not None else files["index.html"])
