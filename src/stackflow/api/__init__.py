"""stackflow's HTTP API (FastAPI): workflows, executions, stacks and live event streams.

Needs the ``server`` extra (``fastapi``, ``uvicorn``). Build the app with :func:`create_app`
or run it with :func:`serve`; see ``docs/api.md``.
"""

from stackflow.api.app import create_app
from stackflow.api.auth import AuthConfig
from stackflow.api.server import ApiServer, serve

__all__ = ["ApiServer", "AuthConfig", "create_app", "serve"]
