"""``@workflow`` and ``@step``: durable workflows written as plain Python functions.

A workflow is an ordinary function of one JSON argument that calls steps. Each step's result (or
error) is checkpointed in the store before the workflow goes on; after a crash the function runs
again and completed steps return their recorded results without running again.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stackflow.errors import TaskResourceError

#: Registered workflows by name.
_WORKFLOWS: dict[str, WorkflowFunction] = {}


@dataclass(frozen=True)
class RetryPolicy:
    """How a step is retried.

    Attributes:
        max_attempts: Attempts in all (1 = no retry).
        interval: Seconds before the first retry.
        backoff: Factor applied to the interval after each retry.
        max_interval: Longest wait between attempts.
        jitter: Wait a random time between 0 and the computed interval (AWS's FULL jitter).
        no_retry: Exception types that are never retried.
    """

    max_attempts: int = 1
    interval: float = 1.0
    backoff: float = 2.0
    max_interval: float | None = None
    jitter: bool = False
    no_retry: tuple[type[BaseException], ...] = ()

    def delay(self, retry: int, seed: str) -> float:
        """Return the wait before retry number ``retry`` (0-based)."""
        import random

        wait = self.interval * (self.backoff**retry)
        if self.max_interval is not None:
            wait = min(wait, self.max_interval)
        if self.jitter:
            wait = random.Random(f"{seed}:{retry}").uniform(0, wait)
        return wait


@dataclass(eq=False)
class StepFunction:
    """A function decorated with :func:`step`; calling it inside a workflow checkpoints it.

    Outside a running workflow it is a plain call (handy in unit tests of the step itself).
    """

    fn: Callable[..., Any]
    name: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from stackflow.workflow.code.context import current_run, in_step

        run = current_run()
        if run is None or in_step():  # outside a workflow, or inside another step: a plain call
            return self.fn(*args, **kwargs)
        if inspect.iscoroutinefunction(self.fn):
            return run.call_step_async(self, args, kwargs)
        return run.call_step(self, args, kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Start the step in the background and return a future of its result."""
        from stackflow.workflow.code.context import require_run

        return require_run().submit_step(self, args, kwargs)

    def map(self, items: Iterable[Any], *, concurrency: int | None = None) -> list[Any]:
        """Run the step once per item, concurrently (at most ``concurrency`` at once)."""
        from stackflow.workflow.code.context import require_run

        return require_run().map_step(self, list(items), concurrency)


@dataclass(eq=False)
class WorkflowFunction:
    """A function decorated with :func:`workflow`.

    Attributes:
        fn: The function (one JSON argument; its return value is the execution's output).
        name: Workflow name (default: the function's name).
        ref: ``module:qualname``, how a runtime in another process finds it.
    """

    fn: Callable[..., Any]
    name: str
    ref: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (no durability), e.g. in a unit test."""
        return self.fn(*args, **kwargs)


def _retry(
    retries: int,
    interval: float,
    backoff: float,
    max_interval: float | None,
    jitter: bool,
    no_retry: Iterable[type[BaseException]],
) -> RetryPolicy:
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    return RetryPolicy(retries + 1, interval, backoff, max_interval, jitter, tuple(no_retry))


def step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retries: int = 0,
    interval: float = 1.0,
    backoff: float = 2.0,
    max_interval: float | None = None,
    jitter: bool = False,
    no_retry: Iterable[type[BaseException]] = (),
    timeout: float | None = None,
) -> Any:
    """Make a function a durable step (usable bare, ``@step``, or with arguments).

    Args:
        fn: The function (when used bare).
        name: Step name in the history (default: the function's name).
        retries: Retries after a failure (0 = run once).
        interval: Seconds before the first retry.
        backoff: Factor applied to the interval after each retry.
        max_interval: Longest wait between retries.
        jitter: Randomize each wait between 0 and its computed value.
        no_retry: Exception types that fail the step at once.
        timeout: Seconds a step attempt may take; a slower attempt fails with ``TimeoutError``
            (the function itself cannot be interrupted and finishes in the background).
    """

    def decorate(func: Callable[..., Any]) -> StepFunction:
        policy = _retry(retries, interval, backoff, max_interval, jitter, no_retry)
        wrapped = StepFunction(func, name or func.__name__, policy, timeout)
        functools.update_wrapper(wrapped, func)  # type: ignore[arg-type]
        return wrapped

    return decorate(fn) if fn is not None else decorate


def workflow(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Make a function a durable workflow (usable bare, ``@workflow``, or with ``name=``).

    The function takes the execution's JSON input as its one argument and returns its output.
    """

    def decorate(func: Callable[..., Any]) -> WorkflowFunction:
        ref = f"{func.__module__}:{func.__qualname__}"
        wrapped = WorkflowFunction(func, name or func.__name__, ref)
        functools.update_wrapper(wrapped, func)  # type: ignore[arg-type]
        _WORKFLOWS[wrapped.name] = wrapped
        return wrapped

    return decorate(fn) if fn is not None else decorate


def resolve_workflow(ref: str) -> WorkflowFunction:
    """Return the workflow ``module:function`` names (importing the module).

    Raises:
        TaskResourceError: The module cannot be imported or the name is not a ``@workflow``.
    """
    module_name, _, attribute = ref.partition(":")
    if not module_name or not attribute:
        raise TaskResourceError(f"{ref!r} is not MODULE:FUNCTION")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskResourceError(f"cannot import module {module_name!r} for {ref!r}: {exc}")
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise TaskResourceError(f"module {module_name!r} has no {attribute!r} (from {ref!r})")
    if not isinstance(target, WorkflowFunction):
        raise TaskResourceError(f"{ref!r} is not decorated with @stackflow.workflow")
    return target


def is_workflow_ref(ref: str) -> bool:
    """Return True if ``module:function`` names a ``@workflow`` (imports the module)."""
    try:
        resolve_workflow(ref)
    except TaskResourceError:
        return False
    return True
