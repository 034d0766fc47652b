"""What the in-memory stores of stacks, services, schedules, triggers and tokens share."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["LockedStore", "json_copy"]


def json_copy(value: Any) -> Any:
    """Return ``value`` as a fresh JSON tree (as a database round trip would)."""
    return json.loads(json.dumps(value))


class LockedStore:
    """Base of the in-memory sub-stores: one lock, and a check that the owning store is open.

    Args:
        check_open: Called (under the lock) before every operation; raises
            :class:`~stackflow.errors.StoreError` once the owning store is closed.
    """

    def __init__(self, check_open: Callable[[], None] | None = None) -> None:
        self._check_open = check_open
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock, having checked that the owning store is open."""
        with self._lock:
            if self._check_open is not None:
                self._check_open()
            yield
