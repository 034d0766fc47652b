"""Running a provider handler to completion, as CloudFormation drives the provider protocol."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from stackflow.errors import ProviderError
from stackflow.providers.base import (
    HandlerErrorCode,
    HandlerStatus,
    ProgressEvent,
    ProviderContext,
    ResourceRequest,
)

Handler = Callable[[ResourceRequest, ProviderContext], ProgressEvent]


def _call(fn: Handler, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
    try:
        event = fn(request, context)
    except ProviderError as exc:
        return ProgressEvent.failed(exc.message, exc.code)
    except Exception as exc:
        return ProgressEvent.failed(
            f"{type(exc).__name__}: {exc}", HandlerErrorCode.InternalFailure
        )
    if not isinstance(event, ProgressEvent):
        return ProgressEvent.failed(
            f"The handler returned {type(event).__name__}, not a ProgressEvent",
            HandlerErrorCode.InternalFailure,
        )
    return event


def run_handler(
    fn: Handler,
    request: ResourceRequest,
    context: ProviderContext,
    *,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ProgressEvent:
    """Call a handler until it is done.

    While the handler returns ``IN_PROGRESS``, wait its ``callback_delay_seconds`` and call it
    again with the returned ``callback_context``. A :class:`~stackflow.errors.ProviderError`
    becomes ``FAILED`` with its code; any other exception ``FAILED`` with ``InternalFailure``
    and the exception text.

    Args:
        fn: A bound handler such as ``provider.create``.
        request: The request of the first call.
        context: The provider context.
        sleep: Waits the given seconds (injectable for tests).
        timeout: Seconds the whole action may take; defaults to ``request.timeout_seconds``.
            Once passed, a handler still in progress yields ``FAILED`` with code ``Timeout``.
        clock: Monotonic clock in seconds (injectable for tests, with ``sleep``).

    Returns:
        The final SUCCESS or FAILED event.
    """
    limit = timeout if timeout is not None else request.timeout_seconds
    deadline = None if limit is None else clock() + limit
    while True:
        event = _call(fn, request, context)
        if event.status != HandlerStatus.IN_PROGRESS:
            return event
        if event.message:
            context.report(event.message)
        delay = max(0.0, float(event.callback_delay_seconds or 0.0))
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0 or delay > remaining:
                if remaining > 0:
                    sleep(remaining)
                return ProgressEvent.failed(
                    f"The handler did not finish within {limit:g} seconds",
                    HandlerErrorCode.Timeout,
                )
        if delay:
            sleep(delay)
        request = dataclasses.replace(request, callback_context=event.callback_context)
