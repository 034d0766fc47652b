"""What an ASL ``Task`` state can call: the request, the handler type and the resource registry.

A Task's ``Resource`` string selects a *handler*: a plain function that takes a
:class:`TaskRequest` and returns the task result (any JSON value) or raises
:class:`stackflow.errors.WorkflowFailure` with a Step Functions error name and cause.

Built-in resources:

* ``python:MODULE:FUNCTION`` runs a Python function (see :mod:`.python_task`).
* ``stackflow:exec`` runs a command in its own process group (see :mod:`.exec_task`).
* ``arn:aws:states:::http:invoke`` is the Step Functions HTTP Task (see :mod:`.http_task`).

More kinds are added with :func:`register_resource`. A kind has a cheap syntax check used by
:func:`is_supported_resource` (the validator calls it, so it never imports user code) and a factory
used by :func:`resolve_task` that builds the handler (and may import modules).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from stackflow.errors import TaskResourceError
from stackflow.types import JSON


@dataclass(frozen=True)
class TaskRequest:
    """One invocation of a Task state's resource.

    Attributes:
        resource: The Task's ``Resource`` string, e.g. ``python:app.jobs:resize``.
        input: The effective parameters, after the interpreter's data flow (``Parameters`` or
            ``Arguments`` applied to the state input).
        context: The ``$$`` context object of the state when its definition refers to it
            (``$$`` or ``$states``), else None.
        timeout: Seconds the runtime waits for the result, or None for no limit.
        cancel: Set by the runtime when it stops waiting (timeout or abort). Handlers that run
            processes or do I/O watch it and stop early.
    """

    resource: str
    input: JSON
    context: JSON = None
    timeout: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


#: A task handler: takes the request, returns the result or raises WorkflowFailure.
TaskHandler = Callable[[TaskRequest], JSON]
#: Builds the handler of one resource string; raises TaskResourceError when it cannot.
HandlerFactory = Callable[[str], TaskHandler]
#: Tells, by syntax alone, whether a resource string is well formed for its kind.
SyntaxCheck = Callable[[str], bool]


@dataclass(frozen=True)
class ResourceKind:
    """A kind of Task resource known to stackflow.

    Attributes:
        key: The registry key: an exact resource (``stackflow:exec``) or a scheme prefix ending
            in a colon (``python:``).
        check: Syntax check of a full resource string (no imports, no I/O).
        factory: Builds the handler for a full resource string.
        description: One line shown in error messages listing the supported resources.
    """

    key: str
    check: SyntaxCheck
    factory: HandlerFactory
    description: str


_REGISTRY: dict[str, ResourceKind] = {}
_HANDLER_CACHE: dict[str, TaskHandler] = {}
_CACHE_LOCK = threading.Lock()


def register_resource(
    key: str, factory: HandlerFactory, check: SyntaxCheck | None = None, description: str = ""
) -> None:
    """Add (or replace) a kind of Task resource.

    Args:
        key: An exact resource string such as ``stackflow:exec``, or a scheme prefix ending with a
            colon such as ``python:`` that matches every resource starting with it.
        factory: Builds the handler of a resource; raises TaskResourceError when it cannot.
        check: Syntax check used by :func:`is_supported_resource`; by default an exact key
            accepts only itself and a prefix key accepts anything longer than the prefix.
        description: Short human text naming the resource form, e.g. ``python:MODULE:FUNCTION``.
    """
    if check is None:
        if key.endswith(":"):

            def check(resource: str) -> bool:
                return len(resource) > len(key)

        else:

            def check(resource: str) -> bool:
                return resource == key

    _REGISTRY[key] = ResourceKind(key, check, factory, description or key)
    with _CACHE_LOCK:
        _HANDLER_CACHE.clear()


def _find_kind(resource: str) -> ResourceKind | None:
    """Return the registered kind matching ``resource``: exact keys first, then the scheme."""
    kind = _REGISTRY.get(resource)
    if kind is not None:
        return kind
    colon = resource.find(":")
    if colon < 0:
        return None
    return _REGISTRY.get(resource[: colon + 1])


def is_supported_resource(resource: str) -> bool:
    """Tell whether a Task ``Resource`` names something stackflow can run, by syntax only.

    No module is imported and no I/O is done, so the validator can call this on any definition.

    Args:
        resource: The Task's ``Resource`` string.

    Returns:
        True when a registered kind matches and its syntax check accepts the string.
    """
    if not isinstance(resource, str):
        return False
    kind = _find_kind(resource)
    return kind is not None and kind.check(resource)


def supported_resource_forms() -> list[str]:
    """Return the human-readable forms of every registered resource kind, sorted."""
    return sorted(kind.description for kind in _REGISTRY.values())


def resolve_task(resource: str) -> TaskHandler:
    """Return the handler that runs a Task ``Resource``.

    Handlers are cached per resource string, so a Map over 10,000 items resolves once.

    Args:
        resource: The Task's ``Resource`` string.

    Returns:
        The handler to call with a :class:`TaskRequest`.

    Raises:
        TaskResourceError: The scheme is unknown, the string is malformed, or (for
            ``python:``) the target cannot be imported.
    """
    if not isinstance(resource, str):
        raise TaskResourceError(f"Task resource must be a string, got {type(resource).__name__}")
    handler = _HANDLER_CACHE.get(resource)
    if handler is not None:
        return handler
    kind = _find_kind(resource)
    if kind is None:
        forms = ", ".join(supported_resource_forms())
        raise TaskResourceError(
            f"Unsupported Task resource {resource!r}: stackflow can run {forms}"
        )
    if not kind.check(resource):
        raise TaskResourceError(
            f"Malformed Task resource {resource!r}: expected the form {kind.description}"
        )
    handler = kind.factory(resource)
    with _CACHE_LOCK:
        _HANDLER_CACHE.setdefault(resource, handler)
        return _HANDLER_CACHE[resource]


# --- built-in kinds ------------------------------------------------------------------------------
# Factories import their modules lazily, so importing this module stays cheap and cycle free.

PYTHON_RESOURCE_PREFIX = "python:"
EXEC_RESOURCE = "stackflow:exec"
HTTP_INVOKE_RESOURCE = "arn:aws:states:::http:invoke"

_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_PYTHON_RE = re.compile(rf"python:({_DOTTED}):({_DOTTED})")


def parse_python_resource(resource: str) -> tuple[str, str] | None:
    """Split ``python:MODULE:FUNCTION`` into (module, function), or return None if malformed.

    Args:
        resource: The resource string.

    Returns:
        The dotted module name and the (possibly dotted) attribute path of the function.
    """
    match = _PYTHON_RE.fullmatch(resource)
    if match is None:
        return None
    return match.group(1), match.group(2)


def _python_factory(resource: str) -> TaskHandler:
    from stackflow.workflow.tasks.python_task import make_python_handler

    return make_python_handler(resource)


def _exec_factory(resource: str) -> TaskHandler:
    from stackflow.workflow.tasks.exec_task import run_exec

    return run_exec


def _http_factory(resource: str) -> TaskHandler:
    from stackflow.workflow.tasks.http_task import http_invoke

    return http_invoke


register_resource(
    PYTHON_RESOURCE_PREFIX,
    _python_factory,
    check=lambda resource: parse_python_resource(resource) is not None,
    description="python:MODULE:FUNCTION",
)
register_resource(EXEC_RESOURCE, _exec_factory, description=EXEC_RESOURCE)
register_resource(HTTP_INVOKE_RESOURCE, _http_factory, description=HTTP_INVOKE_RESOURCE)
