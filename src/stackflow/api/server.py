"""Run the HTTP API with uvicorn in a background thread: :func:`serve`.

``stackflow server`` calls :func:`serve` and keeps the returned :class:`ApiServer` until it
stops; tests use it to talk to a real server on a free port.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from stackflow.api.app import create_app
from stackflow.api.auth import AuthConfig
from stackflow.errors import StackflowError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from stackflow.engine import Engine

__all__ = ["ApiServer", "serve"]


class ApiServer:
    """A uvicorn server running the API in a daemon thread.

    Args:
        app: The application.
        host: Bind address.
        port: Port (0 picks a free one; :attr:`port` tells which).
        log_level: uvicorn's log level.
    """

    def __init__(self, app: FastAPI, host: str, port: int, *, log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="stackflow-api", daemon=True)
        self.port = port

    def start(self, timeout: float = 10.0) -> ApiServer:
        """Start serving and wait until the socket listens.

        Args:
            timeout: Seconds to wait for the server to start.

        Returns:
            This server.

        Raises:
            StackflowError: It did not start (the port is taken, the address is wrong...).
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise StackflowError(f"the API server could not listen on {self.host}:{self.port}")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    @property
    def url(self) -> str:
        """The server's base URL (``http://HOST:PORT``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server thread runs."""
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stopped (or ``timeout`` passed); return True when stopped.

        Args:
            timeout: Seconds to wait, or None for as long as it runs.
        """
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Close open event streams, stop accepting requests and wait for the thread.

        Args:
            timeout: Seconds to wait for the server to stop.
        """
        self.app.state.stopping.set()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)


def serve(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 8080,
    auth: AuthConfig | None = None,
    *,
    log_level: str = "warning",
    ui: bool = True,
) -> ApiServer:
    """Serve the API for ``engine`` on ``host:port`` in a background thread.

    Args:
        engine: The engine to serve.
        host: Bind address (default loopback, which needs no token).
        port: Port; 0 picks a free one (see :attr:`ApiServer.port`).
        auth: Who may call (default: :meth:`AuthConfig.for_bind` with the store's tokens, so
            any bind other than loopback requires a token).
        log_level: uvicorn's log level.
        ui: Also serve the web UI at ``/`` (its files need no token; its API calls do).

    Returns:
        The running server; call :meth:`ApiServer.stop` to stop it.

    Raises:
        StackflowError: The server could not start.
    """
    if auth is None:
        auth = AuthConfig.for_bind(host, engine.store.tokens)
    app = create_app(engine, auth=auth)
    if ui:
        from stackflow.api.ui import mount_ui

        mount_ui(app)
    return ApiServer(app, host, port, log_level=log_level).start()
