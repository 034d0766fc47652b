"""The stack lock: one owner at a time, with a lease renewed by a heartbeat thread.

An owner id is ``host:pid:random``. A lock whose owner is a process of this host that no longer
runs is broken at once (a killed apply does not block the next command until its lease expires);
any other owner's lock is respected until its lease expires.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid

from stackflow.errors import StackLockedError
from stackflow.store.stacks import StackStore

#: Default lease of a stack lock, in seconds.
DEFAULT_LEASE_SECONDS = 30.0


def new_owner_id() -> str:
    """Return a new lock owner id: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def pid_alive(pid: int) -> bool:
    """Tell whether a process with this pid runs on this host.

    Args:
        pid: A process id.

    Returns:
        False when no such process exists (or it is a zombie), else True.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        import psutil

        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except Exception:  # psutil missing or the process vanished meanwhile
        return True


def dead_local_owner(owner: str) -> bool:
    """Tell whether ``owner`` is a process of this host that is not running any more.

    Args:
        owner: A lock owner id (``host:pid:random``).

    Returns:
        True only for an owner on this host whose pid is dead; False when unsure.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    return not pid_alive(pid)


class StackLock:
    """A held (or wanted) lock on one stack.

    Args:
        store: The stack store.
        stack_id: The stack.
        owner: This owner's id.
        lease_seconds: Lease length; the heartbeat renews it every third of it.
    """

    def __init__(
        self,
        store: StackStore,
        stack_id: str,
        owner: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.stack_id = stack_id
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free, expired, ours, or held by a dead local process."""
        return self.store.acquire_lock(
            self.stack_id,
            self.owner,
            self.lease_seconds,
            time.time(),
            break_if=dead_local_owner,
        )

    def acquire(self, stack_name: str) -> None:
        """Take the lock and start the heartbeat.

        Raises:
            StackLockedError: Another live owner holds it.
        """
        if not self.try_acquire():
            record = self.store.get_stack(self.stack_id)
            raise StackLockedError(
                f"stack {stack_name!r} is locked by {record.lock_owner} "
                f"(an operation is running; the lease ends at {record.lock_expires})"
            )
        self.start_heartbeat()

    def start_heartbeat(self) -> None:
        """Renew the lease in a daemon thread until :meth:`release`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._beat, name=f"stack-lock-{self.stack_id[-8:]}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        interval = max(self.lease_seconds / 3.0, 0.05)
        while not self._stop.wait(interval):
            try:
                renewed = self.store.renew_lock(
                    self.stack_id, self.owner, self.lease_seconds, time.time()
                )
            except Exception:  # the store is closing; the lease will simply expire
                renewed = False
            if not renewed:
                self.lost.set()
                return

    def release(self) -> None:
        """Stop the heartbeat and release the lock (if still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with contextlib.suppress(Exception):
            self.store.release_lock(self.stack_id, self.owner)
