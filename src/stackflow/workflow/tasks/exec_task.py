"""The ``stackflow:exec`` Task resource: run a command.

Input fields (the Task's effective parameters):

* ``Command`` (required): a list of strings run as is (no shell), or a string run through
  ``/bin/sh -c``. Numbers and booleans in the list are turned into strings.
* ``Env`` (optional object): variables merged over the worker's ``os.environ``; a ``null`` value
  removes the variable. Non-string values are turned into strings (JSON for objects and arrays).
* ``Cwd`` (optional string): the working directory.
* ``Stdin`` (optional string): text written to the command's standard input (otherwise stdin
  is ``/dev/null``).

Result: ``{"ExitCode": int, "Stdout": str, "Stderr": str}`` (output decoded as UTF-8, invalid
bytes replaced).

The command runs in its own session and process group. When ``TaskRequest.cancel`` is set or
``TaskRequest.timeout`` passes, the whole group gets SIGTERM and, after a short grace
(:data:`KILL_GRACE_SECONDS`), SIGKILL.

Errors:

* ``Exec.InvalidInput``: the input is not an object, ``Command`` is missing or empty, or a field
  has the wrong type.
* ``Exec.StartFailed``: the command could not be started (not found, not executable, bad ``Cwd``).
* ``Exec.NonZeroExit``: the command exited with a non-zero status (or was killed by a signal: the
  exit code is then negative, ``-signal``). The cause is a JSON string with ``ExitCode`` and the
  last :data:`TAIL_CHARS` characters of ``Stdout`` and ``Stderr``.
* ``States.Timeout``: ``TaskRequest.timeout`` passed and the command was stopped.
* ``Exec.Cancelled``: ``TaskRequest.cancel`` was set and the command was stopped (the runtime has
  stopped waiting by then, so this is for the record only).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from typing import Any

from stackflow.errors import STATES_TIMEOUT, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.tasks.base import TaskRequest

EXEC_INVALID_INPUT = "Exec.InvalidInput"
EXEC_START_FAILED = "Exec.StartFailed"
EXEC_NON_ZERO_EXIT = "Exec.NonZeroExit"
EXEC_CANCELLED = "Exec.Cancelled"

#: Seconds between SIGTERM and SIGKILL when a command is stopped.
KILL_GRACE_SECONDS = 2.0
#: How many trailing characters of Stdout and Stderr go into a failure's cause.
TAIL_CHARS = 4096
#: Longest wait between two checks of the cancel event, in seconds.
POLL_SECONDS = 0.05


def _invalid(message: str) -> WorkflowFailure:
    return WorkflowFailure(EXEC_INVALID_INPUT, message)


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _parse_command(value: Any) -> str | list[str]:
    if isinstance(value, str):
        if not value.strip():
            raise _invalid("Command must not be empty")
        return value
    if isinstance(value, list):
        if not value:
            raise _invalid("Command must not be an empty list")
        args: list[str] = []
        for item in value:
            if isinstance(item, str):
                args.append(item)
            elif isinstance(item, int | float) and not isinstance(item, bool):
                args.append(str(item))
            else:
                raise _invalid(
                    f"Command list items must be strings or numbers, got {type(item).__name__}"
                )
        return args
    if value is None:
        raise _invalid("Command is required (a list of arguments, or a shell command string)")
    raise _invalid(f"Command must be a list or a string, got {type(value).__name__}")


def _parse_env(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(f"Env must be an object, got {type(value).__name__}")
    env = dict(os.environ)
    for key, item in value.items():
        if item is None:
            env.pop(key, None)
        else:
            env[key] = _env_value(item)
    return env


def _optional_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{name} must be a string, got {type(value).__name__}")
    return value


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """SIGTERM the process group, SIGKILL it after the grace, and collect what was written."""
    pgid = proc.pid  # start_new_session makes the child the leader of its own group
    _signal_group(pgid, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        out, err = b"", b""
    # Stragglers that ignored SIGTERM (or kept running after the leader exited).
    _signal_group(pgid, signal.SIGKILL)
    if proc.returncode is None:
        try:
            out, err = proc.communicate(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            # Someone outside the group holds the pipes: give up on the output.
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            proc.wait()
    return out or b"", err or b""


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _tail(text: str) -> str:
    return text[-TAIL_CHARS:]


def run_exec(request: TaskRequest) -> JSON:
    """Run the command described by the request input (the ``stackflow:exec`` handler).

    Args:
        request: The task request; ``request.input`` holds Command, Env, Cwd and Stdin.

    Returns:
        ``{"ExitCode": 0, "Stdout": ..., "Stderr": ...}``.

    Raises:
        WorkflowFailure: ``Exec.InvalidInput``, ``Exec.StartFailed``, ``Exec.NonZeroExit``,
            ``States.Timeout`` or ``Exec.Cancelled`` (see the module docstring).
    """
    params = request.input
    if not isinstance(params, dict):
        raise _invalid(f"stackflow:exec input must be an object, got {type(params).__name__}")
    command = _parse_command(params.get("Command"))
    env = _parse_env(params.get("Env"))
    cwd = _optional_str(params, "Cwd")
    stdin_text = _optional_str(params, "Stdin")
    stdin_data = stdin_text.encode("utf-8") if stdin_text is not None else None

    if request.cancel.is_set():
        raise WorkflowFailure(EXEC_CANCELLED, "The task was cancelled before the command started")
    try:
        proc = subprocess.Popen(
            command,
            shell=isinstance(command, str),
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise WorkflowFailure(
            EXEC_START_FAILED, f"Cannot start {command!r}: {type(exc).__name__}: {exc}"
        ) from exc

    deadline = None if request.timeout is None else time.monotonic() + request.timeout
    stop_reason: str | None = None
    pending_input = stdin_data  # given to the first communicate() only; it keeps writing it
    try:
        while True:
            wait = POLL_SECONDS
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                out, err = proc.communicate(input=pending_input, timeout=wait)
                break
            except subprocess.TimeoutExpired:
                pending_input = None
            if request.cancel.is_set():
                stop_reason = EXEC_CANCELLED
            elif deadline is not None and time.monotonic() >= deadline:
                stop_reason = STATES_TIMEOUT
            if stop_reason is not None:
                out, err = _stop(proc)
                break
    except BaseException:
        _stop(proc)
        raise

    stdout, stderr = _decode(out), _decode(err)
    exit_code = proc.returncode
    if stop_reason == STATES_TIMEOUT:
        raise WorkflowFailure(
            STATES_TIMEOUT, f"The command did not finish within {request.timeout} seconds"
        )
    if stop_reason == EXEC_CANCELLED:
        raise WorkflowFailure(EXEC_CANCELLED, "The task was cancelled and the command stopped")
    if exit_code != 0:
        cause = json.dumps(
            {"ExitCode": exit_code, "Stdout": _tail(stdout), "Stderr": _tail(stderr)}
        )
        raise WorkflowFailure(EXEC_NON_ZERO_EXIT, cause)
    return {"ExitCode": exit_code, "Stdout": stdout, "Stderr": stderr}
