"""A small TCP load balancer: spreads client connections over the READY replicas of a service.

The balancer runs an asyncio event loop in a dedicated thread, so the (synchronous) reconcile loop
can own one and update its backend set whenever replicas become ready or go away:

- new client connections go round robin over the current backend list; when a backend refuses the
  connection (or does not answer within ``connect_timeout``) the next one is tried, so a client only
  sees a failed connection when no backend is reachable at all;
- :meth:`TcpBalancer.set_backends` replaces the whole set atomically; connections already open to a
  backend that was removed keep working until either side closes them (draining);
- bytes are copied in both directions with backpressure (a slow reader slows the writer down
  instead of buffering without bound) and half-close is passed on (EOF from one side becomes a
  write shutdown on the other, the other direction keeps flowing);
- an error on either side closes both sides of that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Iterable

__all__ = ["Backend", "TcpBalancer"]

Backend = tuple[str, int]
"""A backend address: (host, port)."""

_log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_START_TIMEOUT = 10.0
_APPLY_TIMEOUT = 5.0


class TcpBalancer:
    """An asyncio TCP proxy, running in its own thread, in front of a changing set of backends.

    Args:
        host: Address to listen on (loopback by default).
        port: Port to listen on; 0 picks a free port (see :attr:`address`).
        connect_timeout: Seconds to wait for a backend to accept a connection before trying the
            next one.

    Attributes (statistics, read from any thread):
        connections_total: Client connections accepted so far.
        connection_failures: Client connections closed because no backend could be reached.
        backend_connect_failures: Individual backend connection attempts that failed (each one was
            followed by an attempt on the next backend, if any was left).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, connect_timeout: float = 2.0
    ) -> None:
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        self._host = host
        self._port = port
        self._connect_timeout = connect_timeout
        self._backends: tuple[Backend, ...] = ()
        self._next = 0
        self._active: dict[Backend, int] = {}
        self.connections_total = 0
        self.connection_failures = 0
        self.backend_connect_failures = 0
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._address: Backend | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._transports: weakref.WeakSet[asyncio.WriteTransport] = weakref.WeakSet()
        self._stopped = False

    # ----------------------------------------------------------------- public API (any thread)

    @property
    def address(self) -> Backend:
        """The (host, port) the balancer listens on; the real port when 0 was asked for.

        Raises:
            RuntimeError: If the balancer has not been started.
        """
        if self._address is None:
            raise RuntimeError("the balancer is not running")
        return self._address

    @property
    def backends(self) -> list[Backend]:
        """The backend list new connections are currently spread over."""
        return list(self._backends)

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stopped

    def start(self) -> None:
        """Bind the listening socket and start serving in a background thread.

        Returns once the socket is bound, so :attr:`address` is valid afterwards.

        Raises:
            OSError: If the address cannot be bound (e.g. the port is in use).
            RuntimeError: If the balancer was already started.
        """
        with self._state_lock:
            if self._thread is not None:
                raise RuntimeError("the balancer was already started")
            self._thread = threading.Thread(
                target=self._run, name=f"stackflow-balancer-{self._port}", daemon=True
            )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            self.stop()
            raise RuntimeError("the balancer did not start in time")
        if self._start_error is not None:
            self._thread.join()
            self._stopped = True
            raise self._start_error

    def stop(self) -> None:
        """Close the listener and every open connection, and join the thread (idempotent)."""
        with self._state_lock:
            thread, loop, event = self._thread, self._loop, self._stop_event
            self._stopped = True
        if thread is None:
            return
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(event.set)
        if thread is not threading.current_thread():
            thread.join()

    def set_backends(self, backends: Iterable[Backend]) -> None:
        """Atomically replace the set of READY backends.

        New connections use the new set once this returns; connections already open to a backend
        that is no longer in the set keep going until they are closed.

        Args:
            backends: (host, port) pairs, in the order round robin visits them. Duplicates are
                dropped.
        """
        new: tuple[Backend, ...] = tuple(dict.fromkeys((str(h), int(p)) for h, p in backends))
        loop = self._loop
        if loop is None or not self.running:
            self._apply_backends(new)
            return
        try:
            if asyncio.get_running_loop() is loop:
                self._apply_backends(new)
                return
        except RuntimeError:
            pass
        applied = threading.Event()

        def apply() -> None:
            self._apply_backends(new)
            applied.set()

        try:
            loop.call_soon_threadsafe(apply)
        except RuntimeError:  # the loop closed meanwhile: nothing is served any more
            self._apply_backends(new)
            return
        if not applied.wait(_APPLY_TIMEOUT):
            _log.warning("balancer %s: backend update not applied in time", self._address)

    def active_connections(self, backend: Backend | None = None) -> int:
        """Number of open proxied connections to ``backend`` (all backends when None)."""
        if backend is None:
            return sum(self._active.values())
        return self._active.get((backend[0], int(backend[1])), 0)

    # ------------------------------------------------------------------ event loop thread

    def _apply_backends(self, backends: tuple[Backend, ...]) -> None:
        self._backends = backends
        if backends:
            self._next %= len(backends)
        else:
            self._next = 0

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(loop))
        except BaseException as exc:  # reported to start() or logged
            if not self._ready.is_set():
                self._start_error = exc
            else:
                _log.exception("balancer %s failed", self._address)
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            with self._state_lock:
                self._loop = None
            loop.close()

    async def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        stop_event = asyncio.Event()
        server = await asyncio.start_server(
            self._handle_client, self._host, self._port, backlog=1024, reuse_address=True
        )
        sockname = server.sockets[0].getsockname()
        with self._state_lock:
            self._loop = loop
            self._stop_event = stop_event
            self._address = (str(sockname[0]), int(sockname[1]))
            stop_requested = self._stopped
        self._ready.set()
        try:
            if not stop_requested:
                await stop_event.wait()
        finally:
            server.close()
            # Connections accepted just now have handler tasks that have not run yet: let them
            # register themselves before cancelling (a task cancelled before its first step would
            # never close its connection).
            for _ in range(3):
                await asyncio.sleep(0)
            handlers = list(self._handlers)
            for task in handlers:
                task.cancel()
            if handlers:
                await asyncio.gather(*handlers, return_exceptions=True)
            for transport in list(self._transports):
                transport.abort()  # also ones still flushing after a graceful close
            # Aborted transports close their sockets in callbacks: let those run.
            for _ in range(3):
                await asyncio.sleep(0)
            await server.wait_closed()

    async def _handle_client(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self.connections_total += 1
        self._transports.add(client_writer.transport)
        backend_writer: asyncio.StreamWriter | None = None
        graceful = False
        try:
            picked = await self._connect_backend()
            if picked is None:
                self.connection_failures += 1
                return
            backend, backend_reader, backend_writer = picked
            self._transports.add(backend_writer.transport)
            self._active[backend] = self._active.get(backend, 0) + 1
            try:
                await self._splice(client_reader, client_writer, backend_reader, backend_writer)
                graceful = True
            finally:
                left = self._active.get(backend, 1) - 1
                if left > 0:
                    self._active[backend] = left
                else:
                    self._active.pop(backend, None)
        except asyncio.CancelledError:
            # Only stop() cancels handlers; ending quietly keeps asyncio from logging the task.
            graceful = False
        except Exception:  # one broken connection must not stop the balancer
            _log.debug("balancer %s: connection error", self._address, exc_info=True)
        finally:
            _close(client_writer, graceful=graceful)
            if backend_writer is not None:
                _close(backend_writer, graceful=graceful)
            if task is not None:
                self._handlers.discard(task)

    async def _connect_backend(
        self,
    ) -> tuple[Backend, asyncio.StreamReader, asyncio.StreamWriter] | None:
        backends = self._backends
        if not backends:
            return None
        start = self._next % len(backends)
        self._next = (start + 1) % len(backends)
        for backend in backends[start:] + backends[:start]:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(backend[0], backend[1], limit=_CHUNK),
                    self._connect_timeout,
                )
            except (TimeoutError, OSError) as exc:
                self.backend_connect_failures += 1
                _log.debug("balancer %s: backend %s:%s failed: %r", self._address, *backend, exc)
                continue
            return backend, reader, writer
        return None

    async def _splice(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        backend_reader: asyncio.StreamReader,
        backend_writer: asyncio.StreamWriter,
    ) -> None:
        upstream = asyncio.ensure_future(_copy(client_reader, backend_writer))
        downstream = asyncio.ensure_future(_copy(backend_reader, client_writer))
        try:
            pending: set[asyncio.Future[None]] = {upstream, downstream}
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    error = finished.exception()
                    if error is not None:
                        raise error
        finally:
            for future in (upstream, downstream):
                if not future.done():
                    future.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF with backpressure, then pass the EOF on as a write shutdown."""
    while True:
        data = await reader.read(_CHUNK)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof() and not writer.is_closing():
        with contextlib.suppress(OSError):
            writer.write_eof()


def _close(writer: asyncio.StreamWriter, *, graceful: bool) -> None:
    """Close one side of a proxied connection.

    After a clean end (EOF seen both ways) the transport is closed gracefully, so bytes still in
    its buffer are delivered first; after an error or on shutdown it is aborted at once.
    """
    transport = writer.transport
    if graceful:
        transport.close()
    else:
        transport.abort()
