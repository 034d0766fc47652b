"""Tests of the AWS-flavoured JSONPath adapter."""

from __future__ import annotations

import copy

import pytest

from stackflow.errors import PathNotFoundError, WorkflowFailure
from stackflow.workflow.asl.jsonpath import (
    evaluate_path,
    is_definite,
    is_path,
    set_path,
    validate_path,
)

DATA = {
    "a": {"b": [1, 2, {"c": 3}]},
    "users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}],
    "delivery-partner": "UQS",
    "items": [{"itemValue": i} for i in range(11)],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b[2].c", 3),
        ("$.a.b[0]", 1),
        ("$.a.b[-1]", {"c": 3}),
        ("$['a']['b'][1]", 2),
        ('$["a"].b[1]', 2),
        ("$.delivery-partner", "UQS"),
        ("$.items[10]", {"itemValue": 10}),
        ("$.a.b.length()", 3),
    ],
)
def test_definite_paths_return_the_value(path: str, expected: object) -> None:
    assert evaluate_path(path, DATA) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.users[?(@.status == 0)]", [{"year": 1997, "status": 0}]),
        ("$.users[?(@.year > 1997)].status", [1]),
        ("$.users[*].year", [1997, 1998]),
        ("$.a.b[1:]", [2, {"c": 3}]),
        ("$.a.b[:1]", [1]),
        ("$.items[1:3].itemValue", [1, 2]),
        ("$..c", [3]),
        ("$..status", [0, 1]),
        ("$.a.b[0,1]", [1, 2]),
        ("$['a','delivery-partner']", [DATA["a"], "UQS"]),
        ("$.users.*.status", [0, 1]),
        ("$..status.length()", 2),
    ],
)
def test_indefinite_paths_return_a_list(path: str, expected: object) -> None:
    assert evaluate_path(path, DATA) == expected


@pytest.mark.parametrize(
    "path",
    ["$[*]", "$.items[*]", "$.items[1:]", "$.item.items[:1]", "$.items[*].itemValue"],
)
def test_indefinite_paths_on_missing_data_are_empty(path: str) -> None:
    # Recorded AWS behaviour: wildcards/slices over missing input give [] (no failure).
    assert evaluate_path(path, {}) == []


def test_missing_definite_path_raises_with_aws_canonical_form() -> None:
    with pytest.raises(PathNotFoundError) as info:
        evaluate_path("$.NoSuchInputPath", DATA)
    assert info.value.path == "$.NoSuchInputPath"
    assert info.value.canonical == "$['NoSuchInputPath']"
    assert str(info.value) == (
        "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
    )


@pytest.mark.parametrize("path", ["$.a.b[3]", "$.a.b.c", "$.a[0]", "$.a.b[-4]", "$.a.x.y"])
def test_missing_steps_raise(path: str) -> None:
    with pytest.raises(PathNotFoundError):
        evaluate_path(path, DATA)


def test_canonical_form_of_nested_index() -> None:
    with pytest.raises(PathNotFoundError) as info:
        evaluate_path("$.a.b[7]", DATA)
    assert info.value.canonical == "$['a']['b'][7]"


def test_quoted_name_with_backslash_and_quotes_matches_literally() -> None:
    # Recorded AWS case ESCAPE_SEQUENCES_JSONPATH: the key is Test\""Name"
    data = {'Test\\""Name"': 'Value"\\'}
    assert evaluate_path('$[\'Test\\""Name"\']', data) == 'Value"\\'


def test_context_and_variable_roots() -> None:
    context = {"Execution": {"Id": "arn:x", "Input": {"k": [5, 6]}}}
    assert evaluate_path("$$.Execution.Id", None, context=context) == "arn:x"
    assert evaluate_path("$$", None, context=context) == context
    assert evaluate_path("$$.Execution.Input.k[1]", None, context=context) == 6
    variables = {"x": {"a": [7]}, "items": [1, 2]}
    assert evaluate_path("$x.a[0]", {}, variables=variables) == 7
    assert evaluate_path("$items", {}, variables=variables) == [1, 2]
    assert evaluate_path("$items[*]", {}, variables=variables) == [1, 2]


def test_unknown_variable_raises_path_not_found() -> None:
    with pytest.raises(PathNotFoundError):
        evaluate_path("$noSuchVar", {}, variables={"x": 1})
    with pytest.raises(PathNotFoundError):
        evaluate_path("$noSuchVar.noSuchMember", {})


def test_null_values_are_found() -> None:
    assert evaluate_path("$.a", {"a": None}) is None


def test_invalid_syntax_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Invalid JSONPath"):
        evaluate_path("$.a[", {})


def test_is_path_and_is_definite() -> None:
    assert is_path("$.x") and is_path("$$") and is_path("$v")
    assert not is_path("x") and not is_path(3) and not is_path(None)
    assert is_definite("$.a[0].b")
    assert not is_definite("$.a[*]")
    assert not is_definite("$..a")


@pytest.mark.parametrize(
    "path", ["$", "$.a", "$.a.b[0]", "$['a b']", "$$.Execution.Input", "$var.x", "$.a[?(@.x > 1)]"]
)
def test_validate_path_accepts_valid_paths(path: str) -> None:
    assert validate_path(path) is None


@pytest.mark.parametrize(
    "path", ["", "a.b", "$.a[", "$.a..", "$.[x]", "$.a[?(@.x >)]", "$.a[1:2:0]"]
)
def test_validate_path_rejects_invalid_paths(path: str) -> None:
    message = validate_path(path)
    assert message is not None and "not a valid" in message


def test_validate_path_reference_and_scope_options() -> None:
    assert validate_path("$.a[0].b", reference_only=True) is None
    for path in ["$.a[*]", "$..a", "$.a[1:]", "$.a[?(@.x)]", "$.a.length()", "$$.Execution"]:
        assert validate_path(path, reference_only=True) is not None, path
    assert validate_path("$$.Execution", allow_context=False) is not None
    assert validate_path("$x", allow_variables=False) is not None


def test_set_path_root_replaces_data() -> None:
    assert set_path({"a": 1}, "$", [1]) == [1]


def test_set_path_creates_missing_objects_without_mutating_input() -> None:
    data = {"a": {"keep": 1}, "other": {"x": 1}}
    before = copy.deepcopy(data)
    result = set_path(data, "$.a.b.c", 5)
    assert result == {"a": {"keep": 1, "b": {"c": 5}}, "other": {"x": 1}}
    assert data == before
    assert result["other"] is data["other"]  # copied only along the path


def test_set_path_overwrites_and_indexes() -> None:
    assert set_path({"a": 1}, "$.a", {"n": 2}) == {"a": {"n": 2}}
    data = {"l": [{"x": 1}, {"x": 2}]}
    assert set_path(data, "$.l[1].x", 9) == {"l": [{"x": 1}, {"x": 9}]}
    assert data == {"l": [{"x": 1}, {"x": 2}]}


def test_set_path_on_non_object_intermediate_fails() -> None:
    with pytest.raises(WorkflowFailure) as info:
        set_path({"a": "x"}, "$.a.b", 1)
    assert info.value.error == "States.ResultPathMatchFailure"
    assert info.value.cause == 'Unable to apply ReferencePath $.a.b to input "{\\"a\\":\\"x\\"}"'
    with pytest.raises(WorkflowFailure):
        set_path([1, 2], "$.a", 1)
    with pytest.raises(WorkflowFailure):
        set_path({"l": [1]}, "$.l[3]", 1)


def test_set_path_rejects_non_reference_paths() -> None:
    with pytest.raises(ValueError):
        set_path({}, "$.a[*]", 1)
