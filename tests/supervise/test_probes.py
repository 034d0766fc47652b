"""Running http, tcp and exec probes against real servers and processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from stackflow.supervise.probe_state import ProbeSpec
from stackflow.supervise.probes import run_probe

HOST = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    """Tiny test server: /ok, /redirect, /fail, /slow, /header."""

    release: threading.Event

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._reply(200, b"fine")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/fail":
            self._reply(500, b"broken")
        elif self.path == "/slow":
            self.server.release.wait(10)  # type: ignore[attr-defined]
            self._reply(200, b"late")
        elif self.path == "/header":
            good = self.headers.get("X-Probe") == "secret"
            self._reply(200 if good else 403, b"header")
        else:
            self._reply(404, b"nope")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer((HOST, 0), _Handler)
    httpd.daemon_threads = True
    httpd.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.release.set()  # type: ignore[attr-defined]
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind((HOST, 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def test_http_success_and_redirect(server: int) -> None:
    result = run_probe(ProbeSpec(kind="http", path="/ok"), host=HOST, port=server)
    assert result.ok
    assert "HTTP 200" in result.output
    assert "fine" in result.output
    assert run_probe(ProbeSpec(kind="http", path="/redirect"), host=HOST, port=server).ok


def test_http_failure_status_reports_body(server: int) -> None:
    result = run_probe(ProbeSpec(kind="http", path="/fail"), host=HOST, port=server)
    assert not result.ok
    assert "HTTP 500" in result.output
    assert "broken" in result.output
    assert not run_probe(ProbeSpec(kind="http", path="/missing"), host=HOST, port=server).ok


def test_http_headers_are_sent(server: int) -> None:
    spec = ProbeSpec(kind="http", path="/header", headers={"X-Probe": "secret"})
    assert run_probe(spec, host=HOST, port=server).ok
    assert not run_probe(ProbeSpec(kind="http", path="/header"), host=HOST, port=server).ok


def test_probe_port_overrides_replica_port(server: int, closed_port: int) -> None:
    spec = ProbeSpec(kind="http", path="/ok", port=server)
    assert run_probe(spec, host=HOST, port=closed_port).ok


def test_http_refused_and_timeout(server: int, closed_port: int) -> None:
    refused = run_probe(ProbeSpec(kind="http"), host=HOST, port=closed_port)
    assert not refused.ok
    assert "connection refused" in refused.output
    started = time.monotonic()
    slow = run_probe(
        ProbeSpec(kind="http", path="/slow", timeout_seconds=0.3), host=HOST, port=server
    )
    assert not slow.ok
    assert "timed out" in slow.output
    assert time.monotonic() - started < 5


def test_missing_port_fails() -> None:
    result = run_probe(ProbeSpec(kind="tcp"), host=HOST, port=None)
    assert not result.ok
    assert "no port" in result.output


def test_tcp_probe(server: int, closed_port: int) -> None:
    assert run_probe(ProbeSpec(kind="tcp"), host=HOST, port=server).ok
    result = run_probe(ProbeSpec(kind="tcp"), host=HOST, port=closed_port)
    assert not result.ok
    assert str(closed_port) in result.output


def test_exec_exit_codes_output_env_and_cwd(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "FOO": "bar"}
    ok = run_probe(
        ProbeSpec(kind="exec", command=["sh", "-c", "echo $FOO; pwd"]),
        host=HOST,
        port=None,
        cwd=tmp_path,
        env=env,
    )
    assert ok.ok
    assert ok.output.split() == ["bar", str(tmp_path)]
    failed = run_probe(
        ProbeSpec(kind="exec", command=["sh", "-c", "echo sick; exit 1"]), host=HOST, port=None
    )
    assert not failed.ok
    assert "exit code 1" in failed.output
    assert "sick" in failed.output
    missing = run_probe(
        ProbeSpec(kind="exec", command=["/nonexistent/probe"]), host=HOST, port=None
    )
    assert not missing.ok
    assert "/nonexistent/probe" in missing.output


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_exec_timeout_kills_the_probe_group() -> None:
    started = time.monotonic()
    result = run_probe(
        ProbeSpec(
            kind="exec",
            command=["sh", "-c", "sleep 60 & echo child=$!; wait"],
            timeout_seconds=0.5,
        ),
        host=HOST,
        port=None,
    )
    assert time.monotonic() - started < 10
    assert not result.ok
    assert "timed out after 0.5s" in result.output
    child = int(result.output.split("child=")[1].split()[0])
    try:
        deadline = time.monotonic() + 5
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _gone(child)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
