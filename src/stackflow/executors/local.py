"""The default executor: a bounded pool of threads in this process."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any, TypeVar

from stackflow.executors.base import Executor

T = TypeVar("T")

#: What a worker takes from the queue: the callable and its completion callback (None = stop).
_Job = tuple[Callable[[], Any], Callable[[Any, BaseException | None], None]] | None


def default_max_workers() -> int:
    """Return the default pool size: ``min(32, cpu_count * 4)``."""
    return min(32, (os.cpu_count() or 1) * 4)


class LocalExecutor(Executor):
    """Runs callables on at most ``max_workers`` threads of this process.

    Submitting never blocks: work beyond the bound waits in an unbounded in-memory queue, in
    submission order. A thread starts with each submission until the bound is reached; idle
    threads wait on the queue. After :meth:`shutdown`,
    :meth:`submit` and :meth:`run` raise ``RuntimeError``.

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
        self._prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Schedule ``fn`` on the pool.

        Args:
            fn: A zero-argument callable.

        Returns:
            A future completed with ``fn``'s return value or the exception it raised.

        Raises:
            RuntimeError: The executor was shut down.
        """
        future: Future[T] = Future()

        def done(result: Any, error: BaseException | None) -> None:
            if isinstance(error, CancelledError):
                future.cancel()
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        self.run(fn, done)
        return future

    def run(
        self, fn: Callable[[], T], on_done: Callable[[T | None, BaseException | None], None]
    ) -> None:
        """Schedule ``fn``; ``on_done(result, error)`` is called on the worker thread.

        Raises:
            RuntimeError: The executor was shut down.
        """
        if self._closed:
            raise RuntimeError("cannot schedule new work after shutdown")
        if len(self._threads) < self.max_workers:
            with self._lock:
                if len(self._threads) < self.max_workers and not self._closed:
                    self._start_worker()
        self._queue.put((fn, on_done))

    def _start_worker(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._prefix}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        get = self._queue.get
        while True:
            job = get()
            if job is None:
                return
            fn, on_done = job
            try:
                result = fn()
            except BaseException as exc:
                on_done(None, exc)
            else:
                on_done(result, None)
            job = None

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work.

        Args:
            wait: True to let running and queued callables finish before returning; False to
                cancel the queued ones (their callbacks get ``CancelledError``, their futures are
                cancelled) and return at once.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        if not wait:
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[1](None, CancelledError())
        for _ in threads:
            self._queue.put(None)
        if wait:
            current = threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()
