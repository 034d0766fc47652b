"""TcpBalancer with real sockets: small HTTP backends in threads, clients through the balancer."""

from __future__ import annotations

import contextlib
import http.client
import os
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stackflow.supervise.balancer import Backend, TcpBalancer

DEADLINE = 15.0


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(0.01)


class NamedServer(ThreadingHTTPServer):
    """An HTTP/1.1 server answering GET with its name and echoing POST bodies."""

    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.name = name
        self.hits = 0
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def backend(self) -> Backend:
        return ("127.0.0.1", int(self.server_address[1]))

    def count(self) -> None:
        with self._lock:
            self.hits += 1

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: NamedServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.server.name)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.count()
        self._send(self.server.name.encode())

    def do_POST(self) -> None:
        self.server.count()
        length = int(self.headers["Content-Length"])
        self._send(self.rfile.read(length))


@pytest.fixture
def servers() -> Iterator[Callable[[str], NamedServer]]:
    started: list[NamedServer] = []

    def make(name: str) -> NamedServer:
        server = NamedServer(name)
        started.append(server)
        return server

    yield make
    for server in started:
        if server.thread.is_alive():
            server.stop()


@pytest.fixture
def balancer() -> Iterator[TcpBalancer]:
    lb = TcpBalancer("127.0.0.1", 0, connect_timeout=1.0)
    lb.start()
    yield lb
    lb.stop()


def get(address: Backend, timeout: float = 10.0) -> str:
    """One GET on a new connection; returns the body (the backend's name)."""
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        conn.close()


def closed_port() -> Backend:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return ("127.0.0.1", port)


def test_address_is_bound_port_on_loopback(balancer: TcpBalancer) -> None:
    host, port = balancer.address
    assert host == "127.0.0.1"
    assert port > 0
    with socket.create_connection(balancer.address, timeout=5):
        pass


def test_requests_spread_round_robin_over_all_backends(
    balancer: TcpBalancer, servers: Callable[[str], NamedServer]
) -> None:
    backends = [servers(name) for name in ("a", "b", "c")]
    balancer.set_backends([s.backend for s in backends])
    answers = Counter(get(balancer.address) for _ in range(30))
    assert answers == {"a": 10, "b": 10, "c": 10}
    assert balancer.connections_total == 30
    assert balancer.connection_failures == 0
    assert balancer.backends == [s.backend for s in backends]


def test_removed_backend_gets_no_new_connections_but_drains(
    balancer: TcpBalancer, servers: Callable[[str], NamedServer]
) -> None:
    by_name = {name: servers(name) for name in ("a", "b", "c")}
    balancer.set_backends([s.backend for s in by_name.values()])
    keep_alive = http.client.HTTPConnection(*balancer.address, timeout=10)
    keep_alive.request("GET", "/")
    first = keep_alive.getresponse()
    pinned = first.read().decode()
    assert pinned in by_name
    removed = by_name[pinned]
    assert balancer.active_connections(removed.backend) == 1

    balancer.set_backends([s.backend for n, s in by_name.items() if n != pinned])
    hits_before = removed.hits
    answers = {get(balancer.address) for _ in range(20)}
    assert pinned not in answers
    assert answers == set(by_name) - {pinned}
    assert removed.hits == hits_before

    # The open keep-alive connection still reaches the removed backend (draining).
    for _ in range(3):
        keep_alive.request("GET", "/")
        response = keep_alive.getresponse()
        assert response.read().decode() == pinned
    assert removed.hits == hits_before + 3
    assert balancer.active_connections(removed.backend) == 1
    keep_alive.close()
    wait_for(lambda: balancer.active_connections(removed.backend) == 0, "drained connection")
    assert balancer.active_connections() == 0


def test_down_backend_in_list_never_fails_a_client(
    balancer: TcpBalancer, servers: Callable[[str], NamedServer]
) -> None:
    a, b = servers("a"), servers("b")
    balancer.set_backends([closed_port(), a.backend, closed_port(), b.backend, closed_port()])
    answers = Counter(get(balancer.address) for _ in range(40))
    assert set(answers) == {"a", "b"}
    assert sum(answers.values()) == 40
    assert balancer.connection_failures == 0
    assert balancer.backend_connect_failures > 0


def test_no_reachable_backend_closes_the_client(balancer: TcpBalancer) -> None:
    for backends in ([], [closed_port(), closed_port()]):
        expected = balancer.connection_failures + 1
        balancer.set_backends(backends)
        with socket.create_connection(balancer.address, timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                data = sock.recv(100)
            except ConnectionResetError:
                data = b""
        assert data == b""
        wait_for(partial(lambda n: balancer.connection_failures == n, expected), "failure counted")


def test_swap_v1_to_v2_under_steady_traffic_loses_nothing(
    balancer: TcpBalancer, servers: Callable[[str], NamedServer]
) -> None:
    v1 = [servers("v1-a"), servers("v1-b")]
    v2 = [servers("v2-a"), servers("v2-b")]
    balancer.set_backends([s.backend for s in v1])
    answers: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                answers.append(get(balancer.address))
            except BaseException as exc:
                failures.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(answers) >= 50, "traffic to v1")
        # A rolling update: surge one v2 in, swap v1-a for v2-b, then drop v1 entirely.
        steps = [
            [v1[0].backend, v1[1].backend, v2[0].backend],
            [v1[1].backend, v2[0].backend, v2[1].backend],
            [s.backend for s in v2],
        ]
        for step in steps:
            mark = len(answers)
            balancer.set_backends(step)
            wait_for(partial(lambda n: len(answers) >= n, mark + 30), "traffic after a step")
        for old in v1:
            wait_for(partial(lambda b: balancer.active_connections(b) == 0, old.backend), "drain")
            old.stop()
        mark = len(answers)
        wait_for(lambda: len(answers) >= mark + 100, "traffic to v2")
    finally:
        done.set()
        thread.join(DEADLINE)
    assert not thread.is_alive()
    assert failures == []
    assert {"v1-a", "v1-b"} <= set(answers)
    assert set(answers[mark:]) == {"v2-a", "v2-b"}
    assert balancer.connection_failures == 0


def test_large_payload_passes_intact_both_ways(
    balancer: TcpBalancer, servers: Callable[[str], NamedServer]
) -> None:
    echo = servers("echo")
    balancer.set_backends([echo.backend])
    payload = os.urandom(6 * 1024 * 1024)
    conn = http.client.HTTPConnection(*balancer.address, timeout=30)
    try:
        conn.request("POST", "/", body=payload, headers={"Content-Length": str(len(payload))})
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("X-Backend") == "echo"
        body = response.read()
    finally:
        conn.close()
    assert len(body) == len(payload)
    assert body == payload


class RawServer:
    """A one-connection TCP server running ``serve(conn)`` in a thread."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.backend: Backend = ("127.0.0.1", int(self.sock.getsockname()[1]))
        self.release = threading.Event()

        def run() -> None:
            conn, _ = self.sock.accept()
            with conn:
                serve(conn)
                self.release.wait(DEADLINE)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.thread.join(DEADLINE)
        self.sock.close()


def test_half_close_is_passed_on(balancer: TcpBalancer) -> None:
    def reverse_after_eof(conn: socket.socket) -> None:
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        conn.sendall(b"".join(chunks)[::-1])
        conn.shutdown(socket.SHUT_WR)

    server = RawServer(reverse_after_eof)
    try:
        balancer.set_backends([server.backend])
        with socket.create_connection(balancer.address, timeout=10) as sock:
            sock.sendall(b"hello, balancer")
            sock.shutdown(socket.SHUT_WR)  # the backend answers only after seeing EOF
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        assert received == b"recnalab ,olleh"
    finally:
        server.close()


def test_backpressure_bounds_buffering_when_backend_does_not_read(balancer: TcpBalancer) -> None:
    stalled = threading.Event()

    def never_read(conn: socket.socket) -> None:
        stalled.wait(DEADLINE)

    server = RawServer(never_read)
    limit = 128 * 1024 * 1024
    try:
        balancer.set_backends([server.backend])
        with socket.create_connection(balancer.address, timeout=10) as sock:
            sock.setblocking(False)
            chunk = b"x" * 65536
            sent = 0
            while sent < limit:
                try:
                    sent += sock.send(chunk)
                except BlockingIOError:
                    _, writable, _ = select.select([], [sock], [], 0.5)
                    if not writable:
                        break  # nobody drains: the balancer stopped reading from us
        assert 0 < sent < limit // 2
    finally:
        stalled.set()
        server.close()


def test_stop_closes_everything_and_joins_the_thread(servers: Callable[[str], NamedServer]) -> None:
    a = servers("a")
    lb = TcpBalancer(connect_timeout=1.0)
    lb.start()
    assert lb.running
    lb.set_backends([a.backend])
    assert get(lb.address) == "a"
    wait_for(lambda: lb.active_connections(a.backend) == 0, "first connection closed")
    open_conn = socket.create_connection(lb.address, timeout=10)
    wait_for(lambda: lb.active_connections(a.backend) == 1, "connection open")
    address = lb.address
    lb.stop()
    try:
        assert not lb.running
        assert not any(t.name.startswith("stackflow-balancer") for t in threading.enumerate())
        with contextlib.suppress(ConnectionResetError):  # reset or EOF: closed by the balancer
            assert open_conn.recv(10) == b""
    finally:
        open_conn.close()
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=2).close()
    lb.stop()  # idempotent


def test_start_on_port_in_use_raises() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        lb = TcpBalancer("127.0.0.1", port)
        with pytest.raises(OSError):
            lb.start()
        assert not lb.running
        lb.stop()
    assert not any(t.name.startswith("stackflow-balancer") for t in threading.enumerate())
