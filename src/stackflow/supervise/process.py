"""Spawning, identifying and stopping supervised processes (I/O, Linux only).

A replica runs in its own session and process group, with stdin from /dev/null and stdout/stderr
appended to log files opened ``O_APPEND`` by us, so it keeps running and logging when the
supervisor dies. A :class:`ProcessHandle` names a process by pid *and* start time, so a pid reused
by the kernel is never mistaken for the replica (:func:`is_same_process`). :func:`stop` signals the
whole group, waits, then kills the group. :class:`ExitWatcher` reports exits at once through
``pidfd_open(2)`` (Linux 5.3+), for our children and for adopted processes alike.

Our own children are kept in a registry of their :class:`subprocess.Popen` objects, so that only
this module reaps them (and records their exit codes) and ``subprocess`` never reaps them behind
our back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import selectors
import signal
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

_log = logging.getLogger(__name__)

#: Create times from psutil are rounded; two processes with one pid within this are the same.
_START_TIME_TOLERANCE = 0.01
#: Exit codes of reaped children remembered for a late :func:`stop` or :func:`exit_code_of`.
_MAX_REMEMBERED_EXITS = 4096


@dataclass(frozen=True)
class ProcessSpec:
    """What to run.

    Attributes:
        command: argv (no shell).
        env: The complete environment of the process.
        cwd: Working directory.
        stdout_path: File stdout is appended to (created with its directories).
        stderr_path: File stderr is appended to; may be the same as ``stdout_path``.
        rlimits: Resource limits by name without ``RLIMIT_`` (``NOFILE``: open files, ``AS``:
            address space in bytes, ``CPU``: seconds, or any other ``resource.RLIMIT_*``); both
            the soft and the hard limit are set.
        stop_signal: Signal name :func:`stop` sends first (``TERM``, ``INT``, ``SIGQUIT``...).
    """

    command: list[str]
    env: Mapping[str, str]
    cwd: Path
    stdout_path: Path
    stderr_path: Path
    rlimits: Mapping[str, int] = field(default_factory=dict)
    stop_signal: str = "TERM"


@dataclass(frozen=True)
class ProcessHandle:
    """A process named so that a reused pid is never mistaken for it.

    Attributes:
        pid: Process id.
        start_time: psutil ``create_time()`` of the process (seconds since the epoch).
        pgid: Process group id (the pid of the group leader; equal to ``pid`` for spawned
            replicas).
    """

    pid: int
    start_time: float
    pgid: int


@dataclass
class _Child:
    """A process we spawned and must reap."""

    popen: subprocess.Popen[bytes]
    handle: ProcessHandle


_children: dict[int, _Child] = {}
_exits: OrderedDict[tuple[int, float], int] = OrderedDict()
_registry_lock = threading.Lock()


def parse_signal(name: str | int) -> signal.Signals:
    """Return the signal named ``name`` (``TERM``, ``SIGTERM``, ``term`` or a number).

    Raises:
        ValueError: Not a signal of this platform.
    """
    if isinstance(name, int) and not isinstance(name, bool):
        try:
            return signal.Signals(name)
        except ValueError:
            raise ValueError(f"unknown signal number {name}") from None
    text = str(name).strip().upper()
    if text.isdigit():
        return parse_signal(int(text))
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return signal.Signals[text]
    except KeyError:
        raise ValueError(f"unknown signal {name!r} (expected a name such as TERM or INT)") from None


def _rlimit_settings(rlimits: Mapping[str, int]) -> list[tuple[int, int]]:
    """Validate ``rlimits`` in the parent and return ``(resource, value)`` pairs to apply."""
    settings: list[tuple[int, int]] = []
    for name, value in rlimits.items():
        key = name.upper().removeprefix("RLIMIT_")
        number = getattr(resource, "RLIMIT_" + key, None)
        if number is None:
            raise ValueError(f"rlimits: unknown resource limit {name!r} (e.g. NOFILE, AS, CPU)")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"rlimits.{name}: expected a non-negative integer, got {value!r}")
        _soft, hard = resource.getrlimit(number)
        if hard != resource.RLIM_INFINITY and value > hard:
            raise ValueError(f"rlimits.{name}: {value} is above the hard limit {hard}")
        settings.append((number, value))
    return settings


def _open_append(path: Path) -> int:
    """Open ``path`` for appending (creating it and its directories) and return the fd."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


def spawn(spec: ProcessSpec) -> ProcessHandle:
    """Start a process in a new session and process group.

    stdin is /dev/null; stdout and stderr are appended to the spec's files; rlimits are applied in
    the child before exec.

    Args:
        spec: What to run.

    Returns:
        The handle of the started process.

    Raises:
        ValueError: A bad rlimit.
        OSError: The command could not be started (missing executable, bad cwd...).
    """
    settings = _rlimit_settings(spec.rlimits)
    preexec: Callable[[], None] | None = None
    if settings:

        def preexec() -> None:
            for number, value in settings:
                resource.setrlimit(number, (value, value))

    out_fd = _open_append(spec.stdout_path)
    try:
        same = Path(spec.stderr_path) == Path(spec.stdout_path)
        err_fd = out_fd if same else _open_append(spec.stderr_path)
        try:
            with _registry_lock:
                popen = subprocess.Popen(
                    list(spec.command),
                    cwd=spec.cwd,
                    env=dict(spec.env),
                    stdin=subprocess.DEVNULL,
                    stdout=out_fd,
                    stderr=err_fd,
                    start_new_session=True,
                    close_fds=True,
                    preexec_fn=preexec,
                )
                handle = ProcessHandle(
                    pid=popen.pid, start_time=_create_time(popen.pid) or time.time(), pgid=popen.pid
                )
                _children[popen.pid] = _Child(popen, handle)
        finally:
            if err_fd != out_fd:
                os.close(err_fd)
    finally:
        os.close(out_fd)
    return handle


def _create_time(pid: int) -> float | None:
    """Return psutil's create time of ``pid``, or None when there is no such process."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def handle_for_pid(pid: int) -> ProcessHandle:
    """Return a handle naming the process running now as ``pid`` (to record or adopt it).

    Raises:
        ProcessLookupError: No such process.
    """
    try:
        proc = psutil.Process(pid)
        return ProcessHandle(pid=pid, start_time=float(proc.create_time()), pgid=os.getpgid(pid))
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        raise ProcessLookupError(f"no process {pid}") from None


def is_same_process(handle: ProcessHandle) -> bool:
    """Return True when ``handle``'s process is alive (not a zombie) and is the same process.

    A pid reused by another process has a different start time and returns False.
    """
    try:
        proc = psutil.Process(handle.pid)
        if not _same_start(float(proc.create_time()), handle.start_time):
            return False
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def is_own_child(pid: int) -> bool:
    """Return True when ``pid`` was spawned by this process and is not reaped yet."""
    with _registry_lock:
        return pid in _children


def _reap(handle: ProcessHandle, *, timeout: float | None) -> tuple[bool, int | None]:
    """Reap ``handle`` if it is our child.

    Args:
        handle: The process.
        timeout: 0 to only check, None to wait, or seconds to wait at most.

    Returns:
        ``(exited, exit_code)``: exited is False while our child still runs; for a process that is
        not our child, ``(not alive, remembered exit code or None)``. Exit codes follow
        :mod:`subprocess`: negative for a signal.
    """
    with _registry_lock:
        child = _children.get(handle.pid)
        if child is not None and not _same_start(child.handle.start_time, handle.start_time):
            child = None
        remembered = _exits.get((handle.pid, handle.start_time))
    if child is None:
        if remembered is not None:
            return True, remembered
        return not is_same_process(handle), None
    try:
        if timeout == 0:
            code = child.popen.poll()
        else:
            code = child.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, None
    if code is None:
        return False, None
    with _registry_lock:
        if _children.get(handle.pid) is child:
            del _children[handle.pid]
            _exits[(handle.pid, handle.start_time)] = code
            while len(_exits) > _MAX_REMEMBERED_EXITS:
                _exits.popitem(last=False)
    return True, code


def exit_code_of(handle: ProcessHandle) -> int | None:
    """Return the exit code of an exited child of ours (reaping it), else None."""
    exited, code = _reap(handle, timeout=0)
    return code if exited else None


def _group_members(pgid: int) -> list[int]:
    """Return the pids of live (non-zombie) processes in process group ``pgid``."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] not in (b"Z", b"X") and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _group_alive(pgid: int) -> bool:
    """Return True while any live process remains in group ``pgid`` (zombies don't count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(_group_members(pgid))


def _group_is_ours(handle: ProcessHandle) -> bool:
    """Return True when signalling ``handle.pgid`` can only reach the replica's processes.

    While the leader lives (same start time) the group is its. Once the leader is gone, a
    group that still has members pins the pgid, so the kernel cannot hand it to a new process;
    a live process *with* the leader's pid but another start time means the pid was reused
    after the group emptied, and we leave it alone.
    """
    if is_same_process(handle):
        return True
    start = _create_time(handle.pid)
    return start is None or _same_start(start, handle.start_time)


def _same_start(a: float, b: float) -> bool:
    """Return True when two create times name the same process."""
    return abs(a - b) <= _START_TIME_TOLERANCE


def _gone(handle: ProcessHandle, group: bool) -> bool:
    """Reap the process if ours; True when it (and, with ``group``, its whole group) is gone."""
    leader_gone, _ = _reap(handle, timeout=0)
    return leader_gone and not (group and _group_alive(handle.pgid))


def _wait_gone(handle: ProcessHandle, group: bool, deadline: float) -> bool:
    """Wait until :func:`_gone` or ``deadline``; return whether it is gone."""
    delay = 0.005
    while not _gone(handle, group):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        with _registry_lock:
            child = _children.get(handle.pid)
        if child is not None:
            # Our child: block in wait() (reaped by _gone on the next turn).
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(timeout=min(remaining, 0.1))
            continue
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
    return True


def _send(handle: ProcessHandle, sig: signal.Signals, group: bool) -> None:
    """Send ``sig`` to the group (or to the process alone), ignoring what is already gone."""
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(handle.pgid, sig)
        elif is_same_process(handle):
            os.kill(handle.pid, sig)


def stop(
    handle: ProcessHandle, *, signal_name: str = "TERM", grace_seconds: float = 10.0
) -> int | None:
    """Stop a process and its whole process group.

    Sends ``signal_name`` (then SIGCONT, so a stopped process sees it) to the group, waits up to
    ``grace_seconds`` for every live process of the group to exit, then sends SIGKILL to the
    group and waits for it to die. Only a group led by the handle's process (as made by
    :func:`spawn`) is signalled, never the caller's own group; another process is signalled
    alone.

    Args:
        handle: The process, normally a group leader made by :func:`spawn`.
        signal_name: The first signal (see :func:`parse_signal`).
        grace_seconds: Time allowed for a graceful exit.

    Returns:
        The exit code when known (our own child; negative for a signal), else None.
    """
    sig = parse_signal(signal_name)
    group = handle.pgid == handle.pid and handle.pgid != os.getpgrp() and _group_is_ours(handle)
    if not _gone(handle, group):
        _send(handle, sig, group)
        _send(handle, signal.SIGCONT, group)
        if not _wait_gone(handle, group, time.monotonic() + grace_seconds):
            _send(handle, signal.SIGKILL, group)
            if not _wait_gone(handle, group, time.monotonic() + 10.0):
                _log.warning("process %s (group %s) survived SIGKILL", handle.pid, handle.pgid)
    exited, code = _reap(handle, timeout=0)
    return code if exited else None


ExitCallback = Callable[[ProcessHandle, "int | None"], None]


class ExitWatcher:
    """Calls back as soon as a watched process exits (one thread, ``pidfd_open`` + epoll).

    Works for our own children (which it also reaps, to report the exit code) and for adopted
    processes that are not our children (exit code None). Callbacks run on the watcher's
    thread and must not block for long; an exception in a callback is logged. There is no
    polling: the thread sleeps in ``epoll_wait`` until a process exits or the watch set changes.
    """

    def __init__(self) -> None:
        """Start the watcher thread."""
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._watches: dict[int, tuple[int, ProcessHandle, ExitCallback]] = {}
        self._pending: list[tuple[ProcessHandle, ExitCallback]] = []
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="stackflow-exit-watcher", daemon=True
        )
        self._thread.start()

    def watch(self, handle: ProcessHandle, callback: ExitCallback) -> None:
        """Call ``callback(handle, exit_code)`` once when ``handle``'s process exits.

        A process that is already gone is reported at once (from the watcher thread). Watching
        a pid again replaces the earlier watch.
        """
        try:
            pidfd: int | None = os.pidfd_open(handle.pid)
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            # The pid could have been reused between the caller's check and pidfd_open; the
            # pidfd now pins one process, so compare that one with the handle.
            start = _create_time(handle.pid)
            if start is None:
                reused = not is_own_child(handle.pid)
            else:
                reused = not _same_start(start, handle.start_time)
            if reused:
                os.close(pidfd)
                pidfd = None
        with self._lock:
            if self._closed:
                if pidfd is not None:
                    os.close(pidfd)
                raise RuntimeError("ExitWatcher is closed")
            self._drop(handle.pid)
            if pidfd is None:
                self._pending.append((handle, callback))
            else:
                self._watches[handle.pid] = (pidfd, handle, callback)
                self._selector.register(pidfd, selectors.EVENT_READ, handle.pid)
            self._wake()

    def unwatch(self, pid: int) -> None:
        """Stop watching ``pid`` (no callback will follow); unknown pids are ignored."""
        with self._lock:
            self._drop(pid)
            self._pending = [p for p in self._pending if p[0].pid != pid]

    def watched(self) -> list[int]:
        """Return the pids being watched."""
        with self._lock:
            return sorted(self._watches)

    def close(self) -> None:
        """Stop the thread and release every pidfd; pending callbacks are not called."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> ExitWatcher:
        """Return self."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the watcher."""
        self.close()

    def _drop(self, pid: int) -> None:
        """Forget the watch of ``pid`` (lock held)."""
        entry = self._watches.pop(pid, None)
        if entry is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(entry[0])
            os.close(entry[0])

    def _wake(self) -> None:
        """Wake the thread so it sees a changed watch set or pending reports (lock held)."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        """The thread: wait for exits and report them."""
        try:
            while True:
                events = self._selector.select()
                fired: list[tuple[ProcessHandle, ExitCallback]] = []
                with self._lock:
                    if self._closed:
                        break
                    for key, _mask in events:
                        if key.data is None:
                            with contextlib.suppress(BlockingIOError):
                                while os.read(self._wake_r, 4096):
                                    pass
                            continue
                        entry = self._watches.get(key.data)
                        if entry is not None and entry[0] == key.fd:
                            self._drop(key.data)
                            fired.append((entry[1], entry[2]))
                    fired.extend(self._pending)
                    self._pending = []
                for handle, callback in fired:
                    self._report(handle, callback)
        finally:
            with self._lock:
                for pid in list(self._watches):
                    self._drop(pid)
                self._selector.close()
                os.close(self._wake_r)
                os.close(self._wake_w)

    @staticmethod
    def _report(handle: ProcessHandle, callback: ExitCallback) -> None:
        """Reap (if ours) and call back."""
        try:
            _exited, code = _reap(handle, timeout=5.0 if is_own_child(handle.pid) else 0)
        except Exception:  # pragma: no cover - defensive
            _log.exception("reaping %s failed", handle.pid)
            code = None
        try:
            callback(handle, code)
        except Exception:
            _log.exception("exit callback for pid %s failed", handle.pid)
