"""Running a probe once against a replica (I/O).

Kubernetes' rules: an HTTP probe succeeds when ``200 <= status < 400`` (redirects are not
followed; a 3xx counts as success), a TCP probe when a connection opens, an exec probe when the
command exits 0 within the timeout (on timeout its whole process group is killed).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
from collections.abc import Mapping
from pathlib import Path

from stackflow.supervise.probe_state import MAX_OUTPUT_CHARS, ProbeResult, ProbeSpec

__all__ = ["ProbeResult", "run_probe"]

#: Body bytes of an HTTP probe's response kept in its output.
_BODY_BYTES = 1024


def run_probe(
    spec: ProbeSpec,
    *,
    host: str,
    port: int | None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ProbeResult:
    """Run ``spec`` once and report the outcome (never raises for a failing target).

    Args:
        spec: The probe.
        host: Host of the replica (http and tcp).
        port: The replica's port, used when the probe names none.
        cwd: Working directory of an exec probe (the replica's).
        env: Complete environment of an exec probe (the replica's); None inherits ours.

    Returns:
        The result; ``output`` says what happened.
    """
    if spec.kind == "exec":
        return _run_exec(spec, cwd, env)
    target = spec.port if spec.port is not None else port
    if target is None:
        return ProbeResult(False, f"{spec.kind} probe has no port (the replica has none)")
    if spec.kind == "tcp":
        return _run_tcp(spec, host, target)
    if spec.kind == "http":
        return _run_http(spec, host, target)
    return ProbeResult(False, f"unknown probe kind {spec.kind!r}")


def _run_tcp(spec: ProbeSpec, host: str, port: int) -> ProbeResult:
    """Open and close a TCP connection."""
    try:
        with socket.create_connection((host, port), timeout=spec.timeout_seconds):
            return ProbeResult(True, f"connected to {host}:{port}")
    except OSError as exc:
        return ProbeResult(False, f"tcp {host}:{port}: {_describe(exc)}")


def _run_http(spec: ProbeSpec, host: str, port: int) -> ProbeResult:
    """GET the probe's path; 200 <= status < 400 succeeds."""
    conn: http.client.HTTPConnection
    if spec.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            host, port, timeout=spec.timeout_seconds, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=spec.timeout_seconds)
    url = f"{spec.scheme}://{host}:{port}{spec.path}"
    try:
        headers = {"User-Agent": "stackflow-probe", "Accept": "*/*", **spec.headers}
        conn.request("GET", spec.path, headers=headers)
        response = conn.getresponse()
        body = response.read(_BODY_BYTES).decode("utf-8", errors="replace")
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return ProbeResult(False, f"GET {url}: {_describe(exc)}")
    finally:
        conn.close()
    ok = 200 <= status < 400
    output = f"GET {url}: HTTP {status} {response.reason}"
    if body:
        output += f"\n{body}"
    return ProbeResult(ok, output[:MAX_OUTPUT_CHARS])


def _run_exec(spec: ProbeSpec, cwd: Path | None, env: Mapping[str, str] | None) -> ProbeResult:
    """Run the command; exit 0 within the timeout succeeds."""
    if not spec.command:
        return ProbeResult(False, "exec probe has no command")
    try:
        proc = subprocess.Popen(
            list(spec.command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return ProbeResult(False, f"exec {spec.command[0]}: {_describe(exc)}")
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=spec.timeout_seconds)
    except subprocess.TimeoutExpired:
        # The command may have exited while a background child still holds the output pipe.
        timed_out = proc.poll() is None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:  # pragma: no cover - defensive (an exception above)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = out.decode("utf-8", errors="replace")[-MAX_OUTPUT_CHARS:] if out else ""
    if timed_out:
        message = f"exec probe timed out after {spec.timeout_seconds:g}s"
        return ProbeResult(False, f"{message}\n{text}" if text else message)
    code = proc.returncode
    if code == 0:
        return ProbeResult(True, text)
    reason = f"exit code {code}" if code > 0 else f"killed by signal {-code}"
    message = f"exec probe failed ({reason})"
    return ProbeResult(False, f"{message}\n{text}" if text else message)


def _describe(exc: BaseException) -> str:
    """Return a short description of a connection error."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__
