"""The default executor: a bounded pool of threads in this process."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from stackflow.executors.base import Executor

T = TypeVar("T")


def default_max_workers() -> int:
    """Return the default pool size: ``min(32, cpu_count * 4)``."""
    return min(32, (os.cpu_count() or 1) * 4)


class LocalExecutor(Executor):
    """Runs callables on at most ``max_workers`` threads of this process.

    Submitting never blocks: work beyond the bound waits in an unbounded in-memory queue, in
    submission order. After :meth:`shutdown`, :meth:`submit` raises ``RuntimeError``.

    Args:
        max_workers: Most callables running at once; defaults to :func:`default_max_workers`.
        thread_name_prefix: Prefix of the worker threads' names.
    """

    def __init__(
        self, max_workers: int | None = None, thread_name_prefix: str = "stackflow-task"
    ) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers or default_max_workers()
        self._pool = ThreadPoolExecutor(
            max_workers=self.max_workers, thread_name_prefix=thread_name_prefix
        )

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Schedule ``fn`` on the pool.

        Args:
            fn: A zero-argument callable.

        Returns:
            A future completed with ``fn``'s return value or the exception it raised.

        Raises:
            RuntimeError: The executor was shut down.
        """
        return self._pool.submit(fn)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work.

        Args:
            wait: True to let running and queued callables finish before returning; False to
                cancel the queued ones (their futures are cancelled) and return at once.
        """
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
