"""Shared definitions and helpers of the HTTP API tests (imported by name: ``api_support``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: A workflow that runs a task, retries it, catches its failure, and runs Parallel and Map.
TASKS_MODULE = """
import os

def ok(event):
    return {"ok": True, "got": event}

def boom(event):
    raise ValueError("boom")

def flaky(event):
    if not os.path.exists(os.environ["API_TEST_FLAG"]):
        raise RuntimeError("not yet")
    return {"fine": True}
"""

DEMO = {
    "Comment": "API test workflow",
    "StartAt": "First",
    "States": {
        "First": {"Type": "Pass", "Next": "Both"},
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                {
                    "StartAt": "Right",
                    "States": {
                        "Right": {"Type": "Task", "Resource": "python:api_tasks:ok", "End": True}
                    },
                },
            ],
            "ResultPath": None,
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "ResultPath": "$.items",
            "Next": "Risky",
        },
        "Risky": {
            "Type": "Task",
            "Resource": "python:api_tasks:boom",
            "Retry": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "IntervalSeconds": 1,
                    "MaxAttempts": 1,
                    "BackoffRate": 1.0,
                }
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}],
            "Next": "Done",
        },
        "Handle": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}

#: A workflow whose only task waits for an external worker (an activity).
APPROVAL = {
    "StartAt": "Approve",
    "States": {
        "Approve": {
            "Type": "Task",
            "Resource": "arn:aws:states:local:000000000000:activity:approve",
            "Next": "After",
        },
        "After": {"Type": "Pass", "End": True},
    },
}


def wait_for(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Call ``check`` until it returns something truthy (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}
