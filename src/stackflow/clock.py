"""Clocks: the one source of time for the engine, so tests can skip time.

The pure core never reads a clock; the runtime passes times in. :class:`SystemClock` is real time;
:class:`FakeClock` only moves when told to (or, with ``auto_advance``, jumps straight to the next
timer when every execution is waiting, which is how ``time_skipping`` works in tests).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Source of wall-clock time in seconds since the epoch (float)."""

    def now(self) -> float:
        """Return the current time in seconds since the epoch."""
        ...

    def sleep_until(self, deadline: float, wake: threading.Event) -> None:
        """Block until ``deadline`` or until ``wake`` is set, whichever comes first."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        """Return ``time.time()``."""
        return time.time()

    def sleep_until(self, deadline: float, wake: threading.Event) -> None:
        """Wait on ``wake`` until ``deadline`` (real seconds)."""
        delay = deadline - time.time()
        if delay > 0:
            wake.wait(delay)


class FakeClock:
    """A clock that moves only when advanced; sleeping jumps to the deadline at once.

    Args:
        start: Initial time in seconds since the epoch.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the fake current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        """Move the clock to ``when`` if that is later than now."""
        with self._lock:
            self._now = max(self._now, when)

    def sleep_until(self, deadline: float, wake: threading.Event) -> None:
        """Skip time: jump to ``deadline`` unless woken first (checked without blocking)."""
        if wake.is_set():
            return
        self.set(deadline)
