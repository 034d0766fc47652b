"""Error matching for Retry and Catch, and retry delays, with Step Functions' rules."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from stackflow.errors import (
    STATES_ALL,
    STATES_TASK_FAILED,
    STATES_TIMEOUT,
    UNCATCHABLE_ERRORS,
)


def error_matches(error_equals: Sequence[str], error: str) -> bool:
    """Return True if an ``ErrorEquals`` list matches ``error``.

    ``States.ALL`` matches every error except the terminal ones (``States.Runtime``,
    ``States.DataLimitExceeded``); ``States.TaskFailed`` matches every error except
    ``States.Timeout`` and the terminal ones.
    """
    if error in UNCATCHABLE_ERRORS:
        return False
    for name in error_equals:
        if name in (error, STATES_ALL):
            return True
        if name == STATES_TASK_FAILED and error != STATES_TIMEOUT:
            return True
    return False


def find_retrier(retriers: Sequence[Any], error: str) -> int | None:
    """Return the index of the first retrier matching ``error``, or None."""
    for i, retrier in enumerate(retriers):
        if isinstance(retrier, dict) and error_matches(retrier.get("ErrorEquals") or [], error):
            return i
    return None


def find_catcher(catchers: Sequence[Any], error: str) -> dict[str, Any] | None:
    """Return the first catcher matching ``error``, or None."""
    for catcher in catchers:
        if isinstance(catcher, dict) and error_matches(catcher.get("ErrorEquals") or [], error):
            return catcher
    return None


def retry_delay(retrier: dict[str, Any], attempt: int, seed: str) -> float | None:
    """Return the delay before retry number ``attempt`` (0-based), or None when exhausted.

    Args:
        retrier: The Retry entry (IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds,
            JitterStrategy).
        attempt: How many retries this retrier already made.
        seed: Deterministic seed for FULL jitter (so a replayed decision gives the same delay).
    """
    max_attempts = retrier.get("MaxAttempts", 3)
    if attempt >= max_attempts:
        return None
    interval = float(retrier.get("IntervalSeconds", 1))
    backoff = float(retrier.get("BackoffRate", 2.0))
    delay = interval * (backoff**attempt)
    max_delay = retrier.get("MaxDelaySeconds")
    if isinstance(max_delay, (int, float)):
        delay = min(delay, float(max_delay))
    if retrier.get("JitterStrategy") == "FULL":
        delay = random.Random(f"{seed}:{attempt}").uniform(0, delay)
    return delay
