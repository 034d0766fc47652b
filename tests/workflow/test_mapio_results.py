"""Tests for ResultWriter entries and transformations (stackflow.workflow.mapio_results)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from stackflow.workflow.mapio_results import (
    aws_timestamp,
    encode_results,
    make_map_run_arn,
    result_entry,
    transform_results,
)

PARENT = "arn:aws:states:eu-west-2:111122223333:execution:sm:exec-1"


def test_map_run_arn_from_execution_arn() -> None:
    assert make_map_run_arn(PARENT, "Map", "abc") == (
        "arn:aws:states:eu-west-2:111122223333:mapRun:sm/Map:abc"
    )


def test_aws_timestamp_forms() -> None:
    assert aws_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert aws_timestamp(1.5) == "1970-01-01T00:00:01.500Z"
    plus_two = timezone(timedelta(hours=2))
    assert aws_timestamp(datetime(2025, 1, 9, 20, 13, 1, 189000, tzinfo=plus_two)) == (
        "2025-01-09T18:13:01.189Z"
    )
    assert aws_timestamp(None) is None


def test_failed_entry_shape_matches_aws() -> None:
    entry = result_entry(
        {
            "name": "c1",
            "execution_arn": "arn:aws:states:eu-west-2:111122223333:execution:sm/Map:c1",
            "input": {"é": 1},
            "status": "FAILED",
            "error": "States.Runtime",
            "cause": "bad",
            "start_time": 0,
            "stop_time": 1,
        },
        PARENT,
    )
    assert list(entry) == [
        "Cause",
        "Error",
        "ExecutionArn",
        "Input",
        "InputDetails",
        "Name",
        "OutputDetails",
        "RedriveCount",
        "RedriveStatus",
        "StartDate",
        "StateMachineArn",
        "Status",
        "StopDate",
    ]
    assert entry["Input"] == '{"é":1}'
    assert entry["RedriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    assert entry["StateMachineArn"] == "arn:aws:states:eu-west-2:111122223333:stateMachine:sm/Map"


def test_transformations_keep_failed_children_whole() -> None:
    results = [
        {"status": "SUCCEEDED", "output": [1, 2], "execution_arn": "x"},
        {"status": "FAILED", "error": "E", "execution_arn": "y", "name": "y"},
        {"status": "SUCCEEDED", "output": {"k": 3}, "execution_arn": "z"},
    ]
    flat = transform_results(results, "FLATTEN", PARENT)
    assert flat[:2] == [1, 2]
    assert flat[2]["Status"] == "FAILED"
    assert flat[3] == {"k": 3}
    compact = transform_results(results, "COMPACT", PARENT)
    assert compact[0] == [1, 2]
    none = transform_results(results, "NONE", PARENT)
    assert [e["Status"] for e in none] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]


def test_encode_results() -> None:
    assert encode_results([1, {"a": "é"}], "JSON") == '[1,{"a":"é"}]'.encode()
    assert encode_results([1, 2], "JSONL") == b"1\n2\n"
