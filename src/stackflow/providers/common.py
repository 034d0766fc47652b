"""Helpers shared by the built-in providers: paths, modes, atomic writes, JSON output lines."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackflow.errors import ProviderError
from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    ProviderContext,
    ResourceRequest,
)

#: JSON schema fragment of a Unix mode given as an octal string.
MODE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": "^0?[0-7]{3}$|^0o[0-7]{3}$",
    "description": 'Permission bits as an octal string, e.g. "0644" or "0755".',
}


def invalid(message: str) -> ProviderError:
    """Build a ProviderError with code InvalidRequest.

    Args:
        message: What is wrong with the request.

    Returns:
        The error (to raise).
    """
    return ProviderError(message, HandlerErrorCode.InvalidRequest)


def stack_resource_name(request: ResourceRequest) -> str:
    """Return a named resource's name: ``Name``, the physical id, or ``<stack>-<logical id>``.

    Args:
        request: The request.
    """
    name = request.properties.get("Name") or request.physical_id
    return str(name or f"{request.stack_name}-{request.logical_id}")


def whole_store(context: ProviderContext, type_name: str) -> Any:
    """Return the engine's whole store reachable from the context, or fail clearly.

    Args:
        context: The provider context.
        type_name: The resource type asking (for the message).

    Raises:
        ProviderError: InternalFailure when the stacks engine passed no store.
    """
    store = context.store or getattr(context.workflows, "store", None)
    if store is None:
        raise ProviderError(
            f"{type_name} needs the store, but the stacks engine passed none "
            "(ProviderContext.store)",
            HandlerErrorCode.InternalFailure,
        )
    return store


def name_taken(
    existing: Any, request: ResourceRequest, what: str, name: str
) -> ProgressEvent | None:
    """Fail a create whose name another resource (or no stack) holds already.

    Args:
        existing: The stored record of that name (with ``stack_name`` and ``logical_id``), or
            None.
        request: The create request.
        what: The kind with its article, e.g. ``a schedule``.
        name: The name.

    Returns:
        A FAILED ``AlreadyExists`` event, or None when the name is free or this resource's own.
    """
    if existing is None or (existing.stack_name, existing.logical_id) == (
        request.stack_name,
        request.logical_id,
    ):
        return None
    owner = (
        f"{existing.logical_id} of stack {existing.stack_name}"
        if existing.stack_name
        else "not from a stack"
    )
    return ProgressEvent.failed(
        f"{what} named {name!r} exists already ({owner})",
        HandlerErrorCode.AlreadyExists,
    )


def resolve_path(request: ResourceRequest, value: Any, name: str = "Path") -> Path:
    """Resolve a path property against the template's folder.

    Args:
        request: The request (its ``base_dir`` anchors relative paths).
        value: The property value.
        name: The property name, for errors.

    Returns:
        An absolute, normalised path (``~`` expanded, symlinks not resolved).

    Raises:
        ProviderError: InvalidRequest when the value is not a non-empty string.
    """
    if not isinstance(value, str) or not value:
        raise invalid(f"{name} must be a non-empty string")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path(request.base_dir) / path
    return Path(os.path.normpath(os.path.abspath(path)))


def physical_path(request: ResourceRequest) -> Path:
    """Return the path a file-like resource lives at: its physical id, else its ``Path``.

    Args:
        request: The request.
    """
    if request.physical_id:
        return Path(request.physical_id)
    return resolve_path(request, request.properties.get("Path"))


def parse_mode(value: Any, name: str = "Mode") -> int | None:
    """Parse an octal mode string such as ``"0644"``.

    Args:
        value: The property value, or None.
        name: The property name, for errors.

    Returns:
        The mode bits, or None when not given.

    Raises:
        ProviderError: InvalidRequest for anything but an octal string of 3 digits.
    """
    if value is None:
        return None
    text = str(value)
    if text.startswith("0o"):
        text = text[2:]
    try:
        mode = int(text, 8)
    except ValueError:
        raise invalid(f'{name} must be an octal string such as "0644", got {value!r}') from None
    if not isinstance(value, str) or mode < 0 or mode > 0o777:
        raise invalid(f'{name} must be an octal string such as "0644", got {value!r}')
    return mode


def show_mode(actual: int, recorded: Any) -> str:
    """Format an actual mode as the user wrote the recorded one when they are equal.

    Args:
        actual: The file's permission bits.
        recorded: The Mode property as applied.

    Returns:
        ``recorded`` if it denotes ``actual``, else ``actual`` as a 4-digit octal string.
    """
    try:
        if parse_mode(recorded) == actual:
            return str(recorded)
    except ProviderError:
        pass
    return f"{actual:04o}"


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write a file atomically: a temporary file in the same folder, then a rename.

    Args:
        path: Target path; missing parent folders are created.
        data: The bytes to write.
        mode: Permission bits to set, or None to keep the existing file's (or the default).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None and path.exists():
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def last_json_object(text: str) -> dict[str, Any] | None:
    """Return the last line of ``text`` that parses as a JSON object, or None.

    Args:
        text: Command output.

    Returns:
        The parsed object.
    """
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def tail_lines(text: str, count: int = 10, limit: int = 2000) -> str:
    """Return the last ``count`` non-empty lines of ``text`` (at most ``limit`` characters).

    Args:
        text: Output text.
        count: How many lines.
        limit: Most characters returned.

    Returns:
        The tail, lines joined with newlines.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])[-limit:]


#: Seconds between SIGTERM and SIGKILL when a timed-out command is stopped.
KILL_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class ProcessResult:
    """How a command ended.

    Attributes:
        exit_code: The exit status (negative: killed by that signal); None when timed out.
        stdout: Standard output, decoded as UTF-8 (invalid bytes replaced).
        stderr: Standard error, decoded likewise.
        timed_out: True when the command was killed for running too long.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_process(
    command: str | list[Any],
    *,
    env: dict[str, Any] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
) -> ProcessResult:
    """Run a command in its own process group; kill the whole group on timeout.

    Standard input, output and error go through temporary files, so a command producing much
    output cannot block and no reader threads are needed.

    Args:
        command: A string run by ``/bin/sh -c`` or an argv list (numbers turned into strings).
        env: Variables added to ``os.environ`` (non-strings: JSON, booleans ``true``/``false``).
        cwd: The working directory.
        stdin: Text for standard input (otherwise ``/dev/null``).
        timeout: Seconds before the process group gets SIGTERM, then SIGKILL.

    Returns:
        The result.

    Raises:
        ProviderError: InvalidRequest when the command cannot be started.
    """
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if isinstance(value, bool):
            full_env[key] = "true" if value else "false"
        elif isinstance(value, str):
            full_env[key] = value
        elif isinstance(value, int | float):
            full_env[key] = str(value)
        else:
            full_env[key] = json.dumps(value)
    args: str | list[str] = command if isinstance(command, str) else [str(a) for a in command]
    with (
        tempfile.TemporaryFile() as in_file,
        tempfile.TemporaryFile() as out_file,
        tempfile.TemporaryFile() as err_file,
    ):
        if stdin is not None:
            in_file.write(stdin.encode("utf-8"))
            in_file.seek(0)
        try:
            proc = subprocess.Popen(
                args,
                shell=isinstance(args, str),
                env=full_env,
                cwd=cwd,
                stdin=in_file if stdin is not None else subprocess.DEVNULL,
                stdout=out_file,
                stderr=err_file,
                start_new_session=True,
            )
        except OSError as exc:
            raise invalid(f"Cannot start {command!r}: {exc.strerror or exc}") from None
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=KILL_GRACE_SECONDS)
        finally:
            # Stragglers left in the group (background jobs) go too.
            if timed_out or proc.returncode is None:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        out_file.seek(0)
        err_file.seek(0)
        stdout = out_file.read().decode("utf-8", errors="replace")
        stderr = err_file.read().decode("utf-8", errors="replace")
    return ProcessResult(None if timed_out else proc.returncode, stdout, stderr, timed_out)
