"""Where task code runs: the executor protocol.

An executor takes zero-argument callables and runs them somewhere (threads in this process, a
store-backed queue, a dask cluster), returning a :class:`concurrent.futures.Future` that completes
with the callable's return value or exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


class Executor(ABC):
    """Runs task callables and reports their outcome through futures."""

    @abstractmethod
    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Schedule ``fn`` to run; never blocks the caller waiting for capacity.

        Args:
            fn: A zero-argument callable.

        Returns:
            A future completed with ``fn``'s return value or the exception it raised.
        """

    def run(
        self, fn: Callable[[], T], on_done: Callable[[T | None, BaseException | None], None]
    ) -> None:
        """Schedule ``fn`` and call ``on_done(result, error)`` when it ends (on any thread).

        The runtime's hot path: no future is kept. The default goes through :meth:`submit`;
        executors override it when they can do it more cheaply.

        Args:
            fn: A zero-argument callable.
            on_done: Called with ``(result, None)`` or ``(None, exception)``.
        """

        def report(future: Future[T]) -> None:
            error = future.exception()
            on_done(None if error is not None else future.result(), error)

        self.submit(fn).add_done_callback(report)

    @abstractmethod
    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work and release resources.

        Args:
            wait: Wait for running and queued callables to finish before returning.
        """

    def __enter__(self) -> Executor:
        """Return the executor itself, for ``with`` blocks."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Shut the executor down, waiting for submitted work."""
        self.shutdown(wait=True)
