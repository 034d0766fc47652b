"""The ``python:MODULE:FUNCTION`` Task resource: call a Python function.

The module is imported once (``importlib``; the handler is cached by resource). The function is
called with the effective task input as its single argument and its return value is the task
result. An ``async def`` function (or one returning a coroutine) is run with ``asyncio.run`` in the
worker thread.

Errors, shaped as AWS Lambda shapes them so ``ErrorEquals: ["ValueError"]`` works:

* The function raises ``exc``: the task fails with error ``type(exc).__name__`` and cause
  ``{"errorMessage": str(exc), "errorType": <class name>, "stackTrace": [<traceback lines>]}``
  (a JSON string). A :class:`~stackflow.errors.WorkflowFailure` raised by the function passes
  through unchanged, so user code can choose its own error name and cause.
* The result is not JSON (a set, an object, NaN...): ``States.Runtime`` naming the type.
* The module cannot be imported, or has no such callable:
  :class:`~stackflow.errors.TaskResourceError` when the handler is resolved.

A Python call cannot be interrupted, so ``TaskRequest.cancel`` is not watched: the runtime stops
waiting and the thread finishes on its own.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import math
import os
import traceback
from collections.abc import Callable
from typing import Any

from stackflow.errors import STATES_RUNTIME, TaskResourceError, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.tasks.base import TaskHandler, TaskRequest, parse_python_resource

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep


def load_function(resource: str) -> Callable[[Any], Any]:
    """Import the callable named by a ``python:MODULE:FUNCTION`` resource.

    Args:
        resource: The resource string; FUNCTION may be a dotted path such as ``Class.method``.

    Returns:
        The callable.

    Raises:
        TaskResourceError: The string is malformed, the module cannot be imported, or the
            attribute is missing or not callable.
    """
    parts = parse_python_resource(resource)
    if parts is None:
        raise TaskResourceError(
            f"Malformed Task resource {resource!r}: expected python:MODULE:FUNCTION"
        )
    module_name, attr_path = parts
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise TaskResourceError(
            f"Task resource {resource!r}: cannot import module {module_name!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    for attr in attr_path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError as exc:
            raise TaskResourceError(
                f"Task resource {resource!r}: module {module_name!r} has no attribute {attr_path!r}"
            ) from exc
    if not callable(target):
        raise TaskResourceError(
            f"Task resource {resource!r}: {module_name}.{attr_path} is a "
            f"{type(target).__name__}, not a function"
        )
    return target  # type: ignore[no-any-return]


def make_python_handler(resource: str) -> TaskHandler:
    """Build the handler of a ``python:MODULE:FUNCTION`` resource (imports the module now).

    Args:
        resource: The resource string.

    Returns:
        A handler calling the function with the request input.

    Raises:
        TaskResourceError: The target cannot be imported (see :func:`load_function`).
    """
    function = load_function(resource)
    is_async = inspect.iscoroutinefunction(function)

    def handle(request: TaskRequest) -> JSON:
        try:
            if is_async:
                result = asyncio.run(function(request.input))
            else:
                result = function(request.input)
                if inspect.iscoroutine(result):
                    result = asyncio.run(result)
        except WorkflowFailure:
            raise
        except Exception as exc:
            raise exception_failure(exc) from exc
        return ensure_json(result, resource)

    handle.__name__ = f"python_task[{resource}]"
    handle.__qualname__ = handle.__name__
    return handle


def exception_failure(exc: BaseException) -> WorkflowFailure:
    """Turn an exception raised by task code into a failure shaped like AWS Lambda's.

    Args:
        exc: The exception, with its traceback.

    Returns:
        A failure whose error is the exception's class name and whose cause is a JSON string with
        ``errorMessage``, ``errorType`` and ``stackTrace``.
    """
    name = type(exc).__name__
    frames = list(traceback.extract_tb(exc.__traceback__))
    # Drop the leading frames of stackflow's handler and of asyncio.run: show the user's code.
    skip = 0
    while skip < len(frames) and (
        frames[skip].filename == __file__ or frames[skip].filename.startswith(_ASYNCIO_DIR)
    ):
        skip += 1
    cause = json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": name,
            "stackTrace": traceback.format_list(frames[skip:]),
        }
    )
    return WorkflowFailure(name, cause)


_PLAIN_SCALARS = (str, int, bool, type(None))


def _scan(value: Any) -> tuple[str | None, bool]:
    """Walk a value; return (type name of the first non-JSON part or None, whether tuples seen)."""
    stack = [value]
    saw_tuple = False
    while stack:
        item = stack.pop()
        if isinstance(item, _PLAIN_SCALARS):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"float ({item})", saw_tuple
            continue
        if isinstance(item, list | tuple):
            saw_tuple = saw_tuple or isinstance(item, tuple)
            stack.extend(item)
            continue
        if isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    return f"{type(key).__name__} (as an object key)", saw_tuple
                stack.append(sub)
            continue
        return type(item).__name__, saw_tuple
    return None, saw_tuple


def ensure_json(result: Any, resource: str) -> JSON:
    """Check that a task result is a JSON value; tuples are turned into lists.

    Args:
        result: What the function returned.
        resource: The resource, named in the error.

    Returns:
        The result (a JSON copy when tuples had to be turned into lists).

    Raises:
        WorkflowFailure: ``States.Runtime`` naming the type that is not JSON serializable.
    """
    bad, saw_tuple = _scan(result)
    if bad is not None:
        raise WorkflowFailure(
            STATES_RUNTIME,
            f"The result of {resource} is not JSON serializable: it contains a value of type {bad}",
        )
    if saw_tuple:
        return json.loads(json.dumps(result))
    return result
