"""Tests of the python:MODULE:FUNCTION Task resource and the resource registry."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest

from stackflow.errors import STATES_RUNTIME, TaskResourceError, WorkflowFailure
from stackflow.workflow.tasks import (
    TaskRequest,
    is_supported_resource,
    register_resource,
    resolve_task,
)
from stackflow.workflow.tasks import base as tasks_base

USER_MODULE = """
import asyncio

from stackflow.errors import WorkflowFailure


def double(event):
    return {"value": event["value"] * 2}


def fail(event):
    raise ValueError("bad value: " + str(event["value"]))


class PaymentDeclined(Exception):
    pass


def decline(event):
    raise PaymentDeclined("card refused")


async def slow_double(event):
    await asyncio.sleep(0)
    return event["value"] * 2


def returns_set(event):
    return {"items": {1, 2}}


def returns_tuple(event):
    return {"pair": (1, (2, 3))}


def returns_nan(event):
    return float("nan")


def explicit(event):
    raise WorkflowFailure("Custom.Error", "told so")


class Jobs:
    @staticmethod
    def echo(event):
        return event


NOT_CALLABLE = 3
"""


@pytest.fixture()
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Write a uniquely named user module to a temp dir on sys.path and return its name."""
    name = f"user_tasks_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def call(resource: str, payload: object) -> object:
    return resolve_task(resource)(TaskRequest(resource=resource, input=payload, context={}))


def test_success_returns_function_result(module: str) -> None:
    assert call(f"python:{module}:double", {"value": 21}) == {"value": 42}


def test_handler_is_cached_per_resource(module: str) -> None:
    resource = f"python:{module}:double"
    assert resolve_task(resource) is resolve_task(resource)


def test_exception_gives_class_name_and_lambda_shaped_cause(module: str) -> None:
    with pytest.raises(WorkflowFailure) as info:
        call(f"python:{module}:fail", {"value": 7})
    failure = info.value
    assert failure.error == "ValueError"
    assert failure.cause is not None
    cause = json.loads(failure.cause)
    assert set(cause) == {"errorMessage", "errorType", "stackTrace"}
    assert cause["errorMessage"] == "bad value: 7"
    assert cause["errorType"] == "ValueError"
    assert isinstance(cause["stackTrace"], list) and cause["stackTrace"]
    assert all(isinstance(line, str) for line in cause["stackTrace"])
    # The trace starts at the user's function, not inside stackflow.
    assert module in cause["stackTrace"][0]
    assert "in fail" in cause["stackTrace"][-1]


def test_custom_exception_class_name_is_the_error(module: str) -> None:
    with pytest.raises(WorkflowFailure) as info:
        call(f"python:{module}:decline", {})
    assert info.value.error == "PaymentDeclined"
    assert json.loads(info.value.cause or "")["errorMessage"] == "card refused"


def test_workflow_failure_from_user_code_passes_through(module: str) -> None:
    with pytest.raises(WorkflowFailure) as info:
        call(f"python:{module}:explicit", {})
    assert (info.value.error, info.value.cause) == ("Custom.Error", "told so")


def test_async_function_is_run(module: str) -> None:
    assert call(f"python:{module}:slow_double", {"value": 5}) == 10


def test_async_exception_trace_starts_in_user_code(tmp_path: Path, module: str) -> None:
    (tmp_path / f"{module}_async.py").write_text(
        "async def boom(event):\n    raise KeyError('k')\n"
    )
    with pytest.raises(WorkflowFailure) as info:
        call(f"python:{module}_async:boom", {})
    assert info.value.error == "KeyError"
    trace = json.loads(info.value.cause or "")["stackTrace"]
    assert len(trace) == 1 and "in boom" in trace[0]


def test_non_json_result_fails_naming_the_type(module: str) -> None:
    with pytest.raises(WorkflowFailure) as info:
        call(f"python:{module}:returns_set", {})
    assert info.value.error == STATES_RUNTIME
    assert "set" in (info.value.cause or "")


def test_nan_result_is_not_json(module: str) -> None:
    with pytest.raises(WorkflowFailure) as info:
        call(f"python:{module}:returns_nan", {})
    assert info.value.error == STATES_RUNTIME
    assert "nan" in (info.value.cause or "")


def test_tuples_become_lists(module: str) -> None:
    assert call(f"python:{module}:returns_tuple", {}) == {"pair": [1, [2, 3]]}


def test_dotted_function_path(module: str) -> None:
    assert call(f"python:{module}:Jobs.echo", {"a": [1]}) == {"a": [1]}


def test_unknown_module_raises_resource_error() -> None:
    with pytest.raises(TaskResourceError, match="cannot import module 'no_such_module_xyz'"):
        resolve_task("python:no_such_module_xyz:run")


def test_missing_function_raises_resource_error(module: str) -> None:
    with pytest.raises(TaskResourceError, match="has no attribute 'missing'"):
        resolve_task(f"python:{module}:missing")


def test_not_callable_raises_resource_error(module: str) -> None:
    with pytest.raises(TaskResourceError, match="not a function"):
        resolve_task(f"python:{module}:NOT_CALLABLE")


@pytest.mark.parametrize(
    "resource",
    ["python:mod.sub:fn", "python:m:C.method", "stackflow:exec", "arn:aws:states:::http:invoke"],
)
def test_supported_resources(resource: str) -> None:
    assert is_supported_resource(resource)


@pytest.mark.parametrize(
    "resource",
    [
        "python:mod.fn",
        "python:mod:",
        "python::fn",
        "python:1mod:fn",
        "python:mod:fn:extra",
        "stackflow:exec2",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "unknown",
        "",
    ],
)
def test_unsupported_resources(resource: str) -> None:
    assert not is_supported_resource(resource)


def test_is_supported_does_not_import() -> None:
    # Syntax only: a module that does not exist is still well formed.
    assert is_supported_resource("python:surely_not_installed_module:fn")


def test_unknown_scheme_lists_supported_forms() -> None:
    with pytest.raises(TaskResourceError) as info:
        resolve_task("arn:aws:states:::lambda:invoke")
    message = str(info.value)
    assert "Unsupported Task resource" in message
    assert "python:MODULE:FUNCTION" in message and "stackflow:exec" in message


def test_malformed_python_resource_is_rejected() -> None:
    with pytest.raises(TaskResourceError, match="python:MODULE:FUNCTION"):
        resolve_task("python:module.function")


def test_register_resource_adds_a_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks_base, "_REGISTRY", dict(tasks_base._REGISTRY))
    monkeypatch.setattr(tasks_base, "_HANDLER_CACHE", {})

    def factory(resource: str):  # type: ignore[no-untyped-def]
        return lambda request: {"echo": request.input, "resource": resource}

    register_resource("testecho:", factory, description="testecho:NAME")
    assert is_supported_resource("testecho:abc")
    assert not is_supported_resource("testecho:")
    handler = resolve_task("testecho:abc")
    assert handler(TaskRequest("testecho:abc", 5)) == {"echo": 5, "resource": "testecho:abc"}
