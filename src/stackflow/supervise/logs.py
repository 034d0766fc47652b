"""Replica log files: copy-truncate rotation, tail and follow (I/O).

Replicas write their stdout/stderr to files opened ``O_APPEND`` (see
:func:`stackflow.supervise.process.spawn`), and keep them open for their whole life, even across a
supervisor restart. Renaming such a file would leave the replica writing to the renamed file, so
rotation copies the file to ``path.1`` and truncates it in place (logrotate's ``copytruncate``):
``O_APPEND`` writers then simply continue at the new end. As with logrotate, a line written in the
instant between the final copy and the truncation can be lost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_BLOCK = 64 * 1024


def rotated_paths(path: Path, keep: int) -> list[Path]:
    """Return ``path.1 ... path.keep`` (newest first), whether or not they exist."""
    return [path.with_name(f"{path.name}.{index}") for index in range(1, keep + 1)]


class LogRotator:
    """Rotates log files by copy and truncate (safe with ``O_APPEND`` writers).

    One rotator may be shared by threads; rotations are serialised.
    """

    def __init__(self) -> None:
        """Create a rotator."""
        self._lock = threading.Lock()

    def rotate(self, path: Path, max_bytes: int, keep: int) -> bool:
        """Rotate ``path`` if it has reached ``max_bytes``.

        ``path.(keep-1)`` becomes ``path.keep`` (the oldest is dropped), ..., ``path.1`` becomes
        ``path.2``, a copy of ``path`` becomes ``path.1``, and ``path`` is truncated to zero.

        Args:
            path: The live log file.
            max_bytes: Size at which to rotate (0 rotates any non-empty file).
            keep: Rotated copies to keep (0 only truncates).

        Returns:
            True when the file was rotated.
        """
        path = Path(path)
        with self._lock:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return False
            if size == 0 or size < max_bytes:
                return False
            olds = rotated_paths(path, keep)
            if olds:
                with contextlib.suppress(FileNotFoundError):
                    olds[-1].unlink()
                for older, newer in zip(reversed(olds[:-1]), reversed(olds[1:]), strict=True):
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(older, newer)
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            try:
                with os.fdopen(fd, "r+b", closefd=False) as src:
                    if olds:
                        partial = olds[0].with_name(olds[0].name + ".tmp")
                        with open(partial, "wb") as dst:
                            shutil.copyfileobj(src, dst, _BLOCK)
                            # Take what was appended during the copy, as late as possible.
                            tail = src.read()
                            dst.write(tail)
                            os.ftruncate(fd, 0)
                        os.replace(partial, olds[0])
                    else:
                        os.ftruncate(fd, 0)
            finally:
                os.close(fd)
            return True


def tail(path: Path, lines: int) -> list[str]:
    """Return the last ``lines`` lines of ``path`` (without newlines; [] if it is missing).

    Reads backwards from the end, so a large file costs only what is returned.
    """
    if lines <= 0:
        return []
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return []
    with f:
        end = f.seek(0, os.SEEK_END)
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= lines:
            step = min(_BLOCK, position)
            position -= step
            f.seek(position)
            data = f.read(step) + data
    if data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        return []
    parts = data.split(b"\n")[-lines:]
    return [part.decode("utf-8", errors="replace") for part in parts]


def follow(
    path: Path,
    *,
    from_start: bool = False,
    poll_seconds: float = 0.1,
    stop: threading.Event | None = None,
) -> Iterator[str]:
    """Yield lines appended to ``path`` as they come (``tail -F``; for ``service logs -f``).

    Survives truncation (copy-truncate rotation) and replacement of the file (it starts again
    from the beginning of the new content) and waits for a missing file to appear. A final line
    without a newline is held back until its newline arrives (or the file is truncated).

    The starting position is taken when ``follow`` is called (not at the first ``next``), so
    nothing appended in between is missed.

    Args:
        path: The log file.
        from_start: Yield the existing content first; by default only what is appended after
            the call.
        poll_seconds: How often to look for new content when there is none.
        stop: When set, the iterator ends once no new content is waiting.

    Returns:
        An iterator of lines without their newline.
    """
    path = Path(path)
    position = 0
    inode: int | None = None
    if not from_start:
        with contextlib.suppress(FileNotFoundError):
            first = path.stat()
            position, inode = first.st_size, first.st_ino
    return _follow(path, position, inode, poll_seconds, stop)


def _follow(
    path: Path,
    position: int,
    inode: int | None,
    poll_seconds: float,
    stop: threading.Event | None,
) -> Iterator[str]:
    """The generator of :func:`follow`, starting at ``position`` of file ``inode``."""
    pending = b""
    while True:
        st: os.stat_result | None
        try:
            st = path.stat()
        except FileNotFoundError:
            st = None
        if st is not None:
            if (inode is not None and st.st_ino != inode) or st.st_size < position:
                if pending:
                    yield pending.decode("utf-8", errors="replace")
                    pending = b""
                position = 0
            inode = st.st_ino
            if st.st_size > position:
                try:
                    with open(path, "rb") as f:
                        f.seek(position)
                        data = f.read(st.st_size - position)
                except FileNotFoundError:
                    data = b""
                position += len(data)
                pending += data
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line.decode("utf-8", errors="replace")
                continue
        if stop is not None:
            if stop.wait(poll_seconds):
                return
        else:
            time.sleep(poll_seconds)
