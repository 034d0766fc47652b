"""Each state type end to end through the interpreter and runtime (in-memory store, fake clock)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackflow.errors import DefinitionError
from stackflow.testing import run_workflow


def chain(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """Build a definition from (name, state) pairs, linking each to the next."""
    names = [name for name, _ in states]
    body: dict[str, Any] = {}
    for i, (name, state) in enumerate(states):
        state = dict(state)
        if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state:
            if i + 1 < len(names):
                state["Next"] = names[i + 1]
            else:
                state["End"] = True
        body[name] = state
    return {"StartAt": names[0], "States": body, **top}


def types(result: Any) -> list[str]:
    return [e.type for e in result.events]


# ------------------------------------------------------------------------------------ Pass


def test_pass_data_flow_fields() -> None:
    definition = chain(
        (
            "P",
            {
                "Type": "Pass",
                "InputPath": "$.in",
                "Parameters": {"v.$": "$.value", "const": 1},
                "ResultPath": "$.in.out",
                "OutputPath": "$.in",
            },
        )
    )
    result = run_workflow(definition, {"in": {"value": 7}, "other": True})
    assert result.status == "SUCCEEDED"
    assert result.output == {"value": 7, "out": {"v": 7, "const": 1}}
    assert types(result) == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


def test_pass_result_and_variables() -> None:
    definition = chain(
        ("A", {"Type": "Pass", "Result": {"n": 3}, "Assign": {"n.$": "$.n", "k": "lit"}}),
        ("B", {"Type": "Pass", "Parameters": {"n.$": "$n", "k.$": "$k"}}),
    )
    result = run_workflow(definition, {})
    assert result.output == {"n": 3, "k": "lit"}


def test_missing_input_path_is_states_runtime_with_aws_cause() -> None:
    definition = chain(("P", {"Type": "Pass", "InputPath": "$.nope"}))
    result = run_workflow(definition, {"a": 1})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause == (
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "Invalid path '$.nope' : No results for path: $['nope']"
    )


# ------------------------------------------------------------------------------------ Choice


def test_choice_rules_default_and_no_match() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                    {
                        "And": [
                            {"Variable": "$.s", "IsPresent": True},
                            {"Variable": "$.s", "StringMatches": "a*z"},
                        ],
                        "Next": "Az",
                    },
                ],
            },
            "Big": {"Type": "Pass", "Result": "big", "End": True},
            "Az": {"Type": "Pass", "Result": "az", "End": True},
        },
    }
    assert run_workflow(definition, {"n": 11}).output == "big"
    assert run_workflow(definition, {"n": 1, "s": "abcz"}).output == "az"
    failed = run_workflow(definition, {"n": 1})
    assert failed.status == "FAILED"
    assert failed.error == "States.NoChoiceMatched"
    definition["States"]["C"]["Default"] = "Big"
    assert run_workflow(definition, {"n": 1}).output == "big"


# ------------------------------------------------------------------------------------ Wait


def test_wait_skips_time_on_fake_clock() -> None:
    definition = chain(("W", {"Type": "Wait", "Seconds": 3600}))
    result = run_workflow(definition, {"x": 1})
    assert result.status == "SUCCEEDED"
    assert result.output == {"x": 1}
    entered = next(e for e in result.events if e.type == "WaitStateEntered")
    exited = next(e for e in result.events if e.type == "WaitStateExited")
    assert exited.timestamp - entered.timestamp == pytest.approx(3600, abs=1)


def test_wait_timestamp_path_and_bad_seconds_path() -> None:
    ok = chain(("W", {"Type": "Wait", "TimestampPath": "$.t"}))
    assert run_workflow(ok, {"t": "2020-01-01T00:00:00Z"}).status == "SUCCEEDED"
    bad = chain(("W", {"Type": "Wait", "SecondsPath": "$.s"}))
    result = run_workflow(bad, {"s": -1})
    assert result.error == "States.Runtime"
    assert result.cause is not None
    assert result.cause.endswith("The SecondsPath parameter references a negative value: $.s == -1")


# ------------------------------------------------------------------------------------ Succeed, Fail


def test_succeed_and_fail_paths() -> None:
    assert run_workflow(chain(("S", {"Type": "Succeed"})), {"a": 1}).output == {"a": 1}
    fail = chain(("F", {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}))
    result = run_workflow(fail, {"e": "MyError", "c": "because"})
    assert (result.status, result.error, result.cause) == ("FAILED", "MyError", "because")
    assert types(result)[-2:] == ["FailStateEntered", "ExecutionFailed"]


# ------------------------------------------------------------------------------------ Task


def test_python_task_and_lambda_like_errors(task_module: str) -> None:
    ok = chain(("T", {"Type": "Task", "Resource": f"python:{task_module}:double"}))
    result = run_workflow(ok, 21)
    assert (result.status, result.output) == ("SUCCEEDED", 42)
    assert types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    caught = chain(
        (
            "T",
            {
                "Type": "Task",
                "Resource": f"python:{task_module}:boom",
                "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.err", "Next": "H"}],
            },
        ),
        ("H", {"Type": "Pass"}),
    )
    result = run_workflow(caught, {"k": 1})
    assert result.status == "SUCCEEDED"
    assert result.output["k"] == 1
    assert result.output["err"]["Error"] == "ValueError"
    cause = json.loads(result.output["err"]["Cause"])
    assert cause["errorType"] == "ValueError"
    assert "bad input" in cause["errorMessage"]


def test_retry_backoff_then_success(task_module: str, tmp_path: Path) -> None:
    definition = chain(
        (
            "T",
            {
                "Type": "Task",
                "Resource": f"python:{task_module}:flaky",
                "Retry": [
                    {
                        "ErrorEquals": ["ConnectionError"],
                        "IntervalSeconds": 10,
                        "BackoffRate": 3,
                        "MaxAttempts": 5,
                    }
                ],
            },
        )
    )
    counter = tmp_path / "count"
    result = run_workflow(definition, {"counter": str(counter), "succeed_on": 3})
    assert result.status == "SUCCEEDED"
    assert result.output == {"attempts": 3}
    scheduled = [e.timestamp for e in result.events if e.type == "TaskScheduled"]
    assert len(scheduled) == 3
    assert scheduled[1] - scheduled[0] == pytest.approx(10, abs=1)
    assert scheduled[2] - scheduled[1] == pytest.approx(30, abs=1)


def test_retry_exhausted_fails_with_task_error(task_module: str, tmp_path: Path) -> None:
    definition = chain(
        (
            "T",
            {
                "Type": "Task",
                "Resource": f"python:{task_module}:flaky",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
            },
        )
    )
    result = run_workflow(definition, {"counter": str(tmp_path / "c"), "succeed_on": 5})
    assert (result.status, result.error) == ("FAILED", "ConnectionError")
    assert types(result).count("TaskFailed") == 2


def test_task_timeout_stops_waiting(task_module: str) -> None:
    definition = chain(
        (
            "T",
            {
                "Type": "Task",
                "Resource": f"python:{task_module}:slow",
                "TimeoutSeconds": 1,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}],
            },
        ),
        ("Late", {"Type": "Pass", "Result": "timed out"}),
    )
    result = run_workflow(definition, {"seconds": 2}, time_skipping=False, timeout=10)
    assert result.status == "SUCCEEDED"
    assert result.output == "timed out"
    assert "TaskTimedOut" in types(result)


def test_async_task_and_jsonata_arguments(task_module: str) -> None:
    definition = chain(
        (
            "T",
            {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": f"python:{task_module}:async_add",
                "Arguments": {"a": "{% $states.input.x %}", "b": 2},
                "Output": "{% {'sum': $states.result} %}",
            },
        )
    )
    assert run_workflow(definition, {"x": 40}).output == {"sum": 42}


# ------------------------------------------------------------------------------------ Parallel


def test_parallel_branches_and_failure() -> None:
    branches = [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 2, "End": True}}},
    ]
    ok = chain(("P", {"Type": "Parallel", "Branches": branches}))
    assert run_workflow(ok, {}).output == [1, 2]
    failing = [
        *branches,
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}},
    ]
    result = run_workflow(chain(("P", {"Type": "Parallel", "Branches": failing})), {})
    assert (result.status, result.error, result.cause) == ("FAILED", "E", "c")
    assert "ParallelStateFailed" in types(result)


# ------------------------------------------------------------------------------------ Map


def test_inline_map_item_selector_and_concurrency(task_module: str) -> None:
    definition = chain(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {
                        "T": {
                            "Type": "Task",
                            "Resource": f"python:{task_module}:echo",
                            "End": True,
                        }
                    },
                },
            },
        )
    )
    result = run_workflow(definition, {"items": ["a", "b", "c"]})
    assert result.output == [{"v": "a", "i": 0}, {"v": "b", "i": 1}, {"v": "c", "i": 2}]
    assert types(result).count("MapIterationSucceeded") == 3


def test_map_iteration_failure_fails_map() -> None:
    definition = chain(
        (
            "M",
            {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                            "Default": "S",
                        },
                        "F": {"Type": "Fail", "Error": "Two"},
                        "S": {"Type": "Succeed"},
                    },
                },
            },
        )
    )
    result = run_workflow(definition, [1, 2, 3])
    assert (result.status, result.error) == ("FAILED", "Two")
    assert "MapIterationFailed" in types(result)
    assert "MapStateFailed" in types(result)


def test_distributed_map_runs_child_executions() -> None:
    definition = chain(
        (
            "M",
            {
                "Type": "Map",
                "ToleratedFailureCount": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                            "Default": "S",
                        },
                        "F": {"Type": "Fail", "Error": "Two", "Cause": "two"},
                        "S": {"Type": "Succeed"},
                    },
                },
            },
        )
    )
    result = run_workflow(definition, [1, 2, 3])
    assert result.status == "SUCCEEDED"
    assert result.output == [1, {"Error": "Two", "Cause": "two"}, 3]
    assert "MapRunStarted" in types(result) and "MapRunSucceeded" in types(result)
    assert "MapIterationStarted" not in types(result)
    too_many = run_workflow(definition, [2, 2, 3])
    assert too_many.error == "States.ExceedToleratedFailureThreshold"


# ------------------------------------------------------------------------------------ JSONata


def test_jsonata_pass_choice_and_variables() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"limit": 5}, "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $states.input.n > $limit %}",
                        "Output": {"big": "{% $states.input.n %}"},
                        "Next": "Done",
                    }
                ],
                "Default": "Done",
                "Output": {"small": True},
            },
            "Done": {"Type": "Succeed"},
        },
    }
    assert run_workflow(definition, {"n": 9}).output == {"big": 9}
    assert run_workflow(definition, {"n": 1}).output == {"small": True}


def test_jsonata_undefined_output_fails_with_query_evaluation_error() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% $nothing %}", "End": True}},
    }
    result = run_workflow(definition, {})
    assert result.error == "States.QueryEvaluationError"
    assert "EvaluationFailed" in types(result)


# ------------------------------------------------------------------------------------ whole run


def test_execution_timeout_seconds() -> None:
    definition = chain(("W", {"Type": "Wait", "Seconds": 100}), TimeoutSeconds=10)
    result = run_workflow(definition, {})
    assert result.status == "TIMED_OUT"
    assert types(result)[-1] == "ExecutionTimedOut"


def test_invalid_definition_is_rejected_before_running() -> None:
    with pytest.raises(DefinitionError) as info:
        run_workflow({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}})
    assert "Missing" in str(info.value)


def test_event_ids_are_consecutive_and_linked() -> None:
    result = run_workflow(chain(("A", {"Type": "Pass"}), ("B", {"Type": "Pass"})), {})
    assert [e.id for e in result.events] == list(range(1, len(result.events) + 1))
    assert all(e.previous_event_id == e.id - 1 for e in result.events)
