"""Where task code runs: the :class:`Executor` protocol and its implementations."""

from stackflow.executors.base import Executor
from stackflow.executors.local import LocalExecutor, default_max_workers

__all__ = ["Executor", "LocalExecutor", "default_max_workers"]
