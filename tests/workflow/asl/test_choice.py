"""Tests for stackflow.workflow.asl.choice: Choice rules in JSONPath mode, checked against AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackflow.errors import STATES_RUNTIME, WorkflowFailure
from stackflow.workflow.asl.choice import (
    COMPARISON_OPERATORS,
    choose_next,
    evaluate_rule,
    match_choice,
)

CASES_FILE = Path(__file__).resolve().parents[3].parent / "shared/conformance/asl/cases.json"


def _conformance_rules() -> list[Any]:
    """(rule, input, expected) for every recorded single-Choice case whose branch is observable."""
    if not CASES_FILE.exists():
        return []
    params = []
    for case in json.loads(CASES_FILE.read_text()):
        definition = case["definition"]
        states = definition.get("States", {})
        if case["query_language"] != "JSONPath" or case["expected"]["status"] != "SUCCEEDED":
            continue
        start = states.get(definition.get("StartAt"), {})
        if start.get("Type") != "Choice" or len(start.get("Choices", [])) != 1:
            continue
        rule = start["Choices"][0]
        branches = {rule["Next"]: True, start.get("Default"): False}
        taken = [
            matched
            for name, matched in branches.items()
            if states.get(name, {}).get("Type") == "Pass"
            and "Result" in states[name]
            and states[name]["Result"] == case["expected"]["output"]
        ]
        if len(taken) == 1:
            params.append(pytest.param(rule, case["input"], taken[0], id=case["id"]))
    return params


CONFORMANCE = _conformance_rules()


@pytest.mark.skipif(not CONFORMANCE, reason="conformance cases not available")
def test_conformance_cases_are_found() -> None:
    assert len(CONFORMANCE) >= 490


@pytest.mark.parametrize(("rule", "data", "expected"), CONFORMANCE)
def test_conformance(rule: dict[str, Any], data: Any, expected: bool) -> None:
    assert evaluate_rule(rule, data) is expected
    assert choose_next([rule], "Default", data) == (rule["Next"] if expected else "Default")


# Hand-extracted tuples covering every edge the recorded cases cover (they also run without the
# conformance file), plus documented behaviour the cases do not record.
SAMPLES: list[Any] = [None, 0, 0.0, 1, 1.1, "", " ", "HelloWorld", "2012-10-09T19:00:55",
                      "2012-10-09T19:00:55Z", "2012-10-09T19:00:55+01:00", "2023-02-24", [], [""],
                      {}, {"A": 0}, True, False]  # fmt: skip


def _types(value: Any) -> dict[str, bool]:
    is_bool = isinstance(value, bool)
    return {
        "IsNull": value is None,
        "IsNumeric": isinstance(value, int | float) and not is_bool,
        "IsString": isinstance(value, str),
        "IsBoolean": is_bool,
        "IsTimestamp": value in ("2012-10-09T19:00:55Z", "2012-10-09T19:00:55+01:00"),
        "IsPresent": True,
    }


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
@pytest.mark.parametrize(
    "operator", ["IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp", "IsPresent"]
)
def test_type_tests(operator: str, value: Any) -> None:
    holds = _types(value)[operator]
    assert evaluate_rule({"Variable": "$.v", operator: True}, {"v": value}) is holds
    assert evaluate_rule({"Variable": "$.v", operator: False}, {"v": value}) is (not holds)


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_boolean_equals_only_matches_booleans(value: Any) -> None:
    for operand in (True, False):
        expected = isinstance(value, bool) and value is operand
        data = {"v": value, "o": operand}
        assert evaluate_rule({"Variable": "$.v", "BooleanEquals": operand}, data) is expected
        assert evaluate_rule({"Variable": "$.v", "BooleanEqualsPath": "$.o"}, data) is expected


@pytest.mark.parametrize(
    ("value", "operand", "expected"),
    [
        (0, 0, True),
        (0.0, 0, True),
        (0, 0.0, True),
        (1, 1.0, True),
        (2.22, 2.22, True),
        (1.1, 1, False),
        (-0.0, 0, True),
        (-0.0, 0.0, True),
        (10**20, 10**20, True),
        (10**20, 1e20, True),
        (2**53 + 1, 2**53, False),
        (1e308, 1e308, True),
        (True, 1, False),
        (False, 0, False),
        ("0", 0, False),
        ("42", 42, False),
        ("1.0", 1, False),
        (None, 0, False),
        ([], 0, False),
        ([0], 0, False),
        ({}, 1, False),
        ({"A": 0}, 0, False),
    ],
)
def test_numeric_equals(value: Any, operand: Any, expected: bool) -> None:
    data = {"v": value, "o": operand}
    assert evaluate_rule({"Variable": "$.v", "NumericEquals": operand}, data) is expected
    assert evaluate_rule({"Variable": "$.v", "NumericEqualsPath": "$.o"}, data) is expected


NUMERIC_ORDER = [
    # (value, operand, less, greater)
    (0, 0, False, False),
    (0.0, 0, False, False),
    (0, 1, True, False),
    (1, 1, False, False),
    (1, 0, False, True),
    (-1.5, -1, True, False),
    (10**30, 10**30 + 1, True, False),
    (-0.0, 0, False, False),
]


@pytest.mark.parametrize(("value", "operand", "less", "greater"), NUMERIC_ORDER)
def test_numeric_order(value: Any, operand: Any, less: bool, greater: bool) -> None:
    data = {"v": value, "o": operand}
    equal = not less and not greater
    expected = {
        "NumericLessThan": less,
        "NumericGreaterThan": greater,
        "NumericLessThanEquals": less or equal,
        "NumericGreaterThanEquals": greater or equal,
    }
    for operator, result in expected.items():
        assert evaluate_rule({"Variable": "$.v", operator: operand}, data) is result
        assert evaluate_rule({"Variable": "$.v", operator + "Path": "$.o"}, data) is result


@pytest.mark.parametrize("operator", ["NumericLessThan", "NumericGreaterThanEquals"])
@pytest.mark.parametrize("value", ["1", True, None, [1], {"a": 1}])
def test_numeric_order_type_mismatch(operator: str, value: Any) -> None:
    assert evaluate_rule({"Variable": "$.v", operator: 0}, {"v": value}) is False
    assert (
        evaluate_rule({"Variable": "$.o", operator + "Path": "$.v"}, {"v": value, "o": 0}) is False
    )


STRING_ORDER = [
    # (value, operand, less, greater) -- recorded cases first.
    ("", "", False, False),
    ("A", "A ", True, False),
    ("A", "A\t\n\r", True, False),
    ("AB", "ABC", True, False),
    ("A", "AB", True, False),
    ("AB", "A", False, True),
    ("Hello", "Hello", False, False),
    ("a", "B", False, True),
    ("é", "z", False, True),
    # Java compares UTF-16 code units: U+FFFD sorts after the surrogate pair of U+1F600.
    ("\ufffd", "\U0001f600", False, True),
    ("\U0001f600", "\ufffd", True, False),
    ("\u00ff", "\u0100", True, False),
]


@pytest.mark.parametrize(("value", "operand", "less", "greater"), STRING_ORDER)
def test_string_order(value: str, operand: str, less: bool, greater: bool) -> None:
    data = {"v": value, "o": operand}
    equal = not less and not greater
    expected = {
        "StringEquals": equal,
        "StringLessThan": less,
        "StringGreaterThan": greater,
        "StringLessThanEquals": less or equal,
        "StringGreaterThanEquals": greater or equal,
    }
    for operator, result in expected.items():
        assert evaluate_rule({"Variable": "$.v", operator: operand}, data) is result, operator
        assert evaluate_rule({"Variable": "$.v", operator + "Path": "$.o"}, data) is result


@pytest.mark.parametrize(("value", "operand"), [(" ", "     "), ("\t\n", "\t\r\n")])
def test_string_equals_is_exact(value: str, operand: str) -> None:
    data = {"v": value, "o": operand}
    assert evaluate_rule({"Variable": "$.v", "StringEquals": operand}, data) is False
    assert evaluate_rule({"Variable": "$.v", "StringEqualsPath": "$.o"}, data) is False


@pytest.mark.parametrize("value", [None, 0, 0.0, 1, 1.1, [], [""], {}, {"A": 0}, False, True])
def test_string_operators_need_strings(value: Any) -> None:
    for operator in ("StringEquals", "StringLessThan", "StringGreaterThanEquals", "StringMatches"):
        assert evaluate_rule({"Variable": "$.v", operator: "HelloWorld"}, {"v": value}) is False
    assert (
        evaluate_rule({"Variable": "$.v", "StringEqualsPath": "$.o"}, {"v": "1", "o": 1}) is False
    )


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-1.txt.bak", False),
        ("*", "", True),
        ("*", "anything\nat all", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "acb", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
        ("exact", "Exact", False),
        ("a.c", "abc", False),
        ("a.c", "a.c", True),
        ("(x)+[y]?$^", "(x)+[y]?$^", True),
        ("a\\*", "a*", True),
        ("a\\*", "ab", False),
        ("a\\\\*", "a\\xyz", True),
        ("a\\\\", "a\\", True),
        ("*\\**", "x*y", True),
        ("*\\**", "xy", False),
        ("", "", True),
        ("", "a", False),
    ],
)
def test_string_matches(pattern: str, value: str, expected: bool) -> None:
    assert evaluate_rule({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) is expected


TS = "2012-10-09T19:00:55Z"
TS_LATER = "2012-10-09T19:00:56Z"


@pytest.mark.parametrize(
    ("value", "operand", "less", "greater"),
    [
        (TS, TS, False, False),
        (TS, TS_LATER, True, False),
        (TS_LATER, TS, False, True),
        ("2012-10-09T20:00:55+01:00", TS, False, False),
        ("2012-10-09T19:00:55.000Z", TS, False, False),
        ("2012-10-09T19:00:55.0000001Z", TS, False, True),
        ("2012-10-09T19:00:55.999999999Z", TS_LATER, True, False),
    ],
)
def test_timestamp_order(value: str, operand: str, less: bool, greater: bool) -> None:
    data = {"v": value, "o": operand}
    equal = not less and not greater
    expected = {
        "TimestampEquals": equal,
        "TimestampLessThan": less,
        "TimestampGreaterThan": greater,
        "TimestampLessThanEquals": less or equal,
        "TimestampGreaterThanEquals": greater or equal,
    }
    for operator, result in expected.items():
        assert evaluate_rule({"Variable": "$.v", operator: operand}, data) is result, operator
        assert evaluate_rule({"Variable": "$.v", operator + "Path": "$.o"}, data) is result


@pytest.mark.parametrize(
    "value",
    [None, 0, 0.0, 1, 1.1, "", " ", "2023-02-24 12:15:56.832957", "2012-10-09T19:00:55",
     "2012-10-09 19:00:55Z", [], [""], {}, {"A": 0}, False, True],
)  # fmt: skip
def test_timestamp_operators_need_valid_timestamps(value: Any) -> None:
    for operator in ("TimestampEquals", "TimestampLessThanEquals", "TimestampGreaterThanEquals"):
        assert evaluate_rule({"Variable": "$.v", operator: TS}, {"v": value}) is False
        data = {"v": TS, "o": value}
        assert evaluate_rule({"Variable": "$.v", operator + "Path": "$.o"}, data) is False


def test_nested_paths_context_and_variables() -> None:
    data = {"a": {"b": [{"c": 5}, {"c": "x"}]}, "weird key": True}
    assert evaluate_rule({"Variable": "$.a.b[0].c", "NumericEquals": 5}, data) is True
    assert evaluate_rule({"Variable": "$.a.b[1].c", "StringEquals": "x"}, data) is True
    assert evaluate_rule({"Variable": "$['weird key']", "BooleanEquals": True}, data) is True
    assert evaluate_rule({"Variable": "$", "IsPresent": True}, "just a string") is True
    assert evaluate_rule({"Variable": "$", "StringEquals": "No messages"}, "No messages") is True
    context = {"Execution": {"Input": {"input-value": 0}}}
    rule = {"Variable": "$$.Execution.Input.input-value", "NumericLessThanEquals": 0}
    assert evaluate_rule(rule, {}, context=context) is True
    variables = {"guess": "42", "answer": "42", "limit": 3}
    rule = {"Variable": "$guess", "StringEqualsPath": "$answer"}
    assert evaluate_rule(rule, {}, variables=variables) is True
    rule = {"Variable": "$.n", "NumericLessThanPath": "$limit"}
    assert evaluate_rule(rule, {"n": 2}, variables=variables) is True
    rule = {"Variable": "$.n", "NumericLessThanPath": "$$.Execution.Input.input-value"}
    assert evaluate_rule(rule, {"n": -1}, context=context) is True


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.missing", "NumericEquals": 1},
        {"Variable": "$.missing", "IsNull": True},
        {"Variable": "$.missing", "IsNull": False},
        {"Variable": "$.missing", "IsString": False},
        {"Variable": "$.a.missing", "StringEquals": "x"},
        {"Variable": "$.a.b[5]", "IsNumeric": True},
        {"Variable": "$.missing", "StringMatches": "*"},
    ],
)
def test_missing_variable_is_a_runtime_error(rule: dict[str, Any]) -> None:
    with pytest.raises(WorkflowFailure) as caught:
        evaluate_rule(rule, {"a": {"b": [1]}})
    assert caught.value.error == STATES_RUNTIME
    assert caught.value.cause == (
        f"Invalid path '{rule['Variable']}': "
        "The choice state's condition path references an invalid value."
    )


def test_missing_path_operand_is_a_runtime_error() -> None:
    with pytest.raises(WorkflowFailure) as caught:
        evaluate_rule({"Variable": "$.left", "NumericEqualsPath": "$.right"}, {"left": 8})
    assert caught.value.error == STATES_RUNTIME
    assert caught.value.cause is not None and "Invalid path '$.right'" in caught.value.cause
    with pytest.raises(WorkflowFailure):
        evaluate_rule({"Variable": "$missing", "IsNull": True}, {}, variables={})


def test_is_present_on_missing_paths() -> None:
    data = {"a": {"b": None}}
    assert evaluate_rule({"Variable": "$.x", "IsPresent": False}, data) is True
    assert evaluate_rule({"Variable": "$.x", "IsPresent": True}, data) is False
    assert evaluate_rule({"Variable": "$.a.b", "IsPresent": True}, data) is True
    assert evaluate_rule({"Variable": "$.a.b.c", "IsPresent": False}, data) is True
    assert evaluate_rule({"Variable": "$v", "IsPresent": False}, data, variables={}) is True
    assert evaluate_rule({"Variable": "$v", "IsPresent": True}, data, variables={"v": 0}) is True
    # Not(IsPresent) guards a later comparison: Or stops at the first true rule.
    guarded = {"Or": [{"Not": {"Variable": "$.x", "IsPresent": True}},
                      {"Variable": "$.x", "NumericEquals": 1}]}  # fmt: skip
    assert evaluate_rule(guarded, data) is True
    guarded_and = {"And": [{"Variable": "$.x", "IsPresent": True},
                           {"Variable": "$.x", "NumericEquals": 1}]}  # fmt: skip
    assert evaluate_rule(guarded_and, data) is False


def test_boolean_combinations() -> None:
    data = {"type": "Private", "value": 22}
    twenties = {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20},
                        {"Variable": "$.value", "NumericLessThan": 30}]}  # fmt: skip
    assert evaluate_rule(twenties, data) is True
    assert evaluate_rule(twenties, {"value": 30}) is False
    public = {"Not": {"Variable": "$.type", "StringEquals": "Private"}}
    assert evaluate_rule(public, data) is False
    assert evaluate_rule(public, {"type": "Public"}) is True
    either = {"Or": [{"Variable": "$.value", "NumericEquals": 1},
                     {"Variable": "$.type", "StringMatches": "Pri*"}]}  # fmt: skip
    assert evaluate_rule(either, data) is True
    assert evaluate_rule({"Or": [{"Variable": "$.value", "NumericEquals": 1}]}, data) is False
    singleton = {"And": [{"Variable": "$.type", "StringEquals": "Public"}]}
    assert evaluate_rule(singleton, {"type": "Public", "value": 22}) is True
    nested = {"Not": {"And": [twenties, {"Not": public}]}}
    assert evaluate_rule(nested, data) is False
    # Nested rules may carry a Comment; top-level ones Next, Assign and Comment.
    commented = {"Comment": "c", "Variable": "$.value", "NumericEquals": 22, "Next": "X",
                 "Assign": {"a": 1}}  # fmt: skip
    assert evaluate_rule(commented, data) is True


def test_choose_next_aws_docs_scenario() -> None:
    choices = [
        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
        {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
        {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20},
                 {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"},
    ]  # fmt: skip
    assert choose_next(choices, "DefaultState", {"type": "Private", "value": 22}) == (
        "ValueInTwenties"
    )
    assert choose_next(choices, "DefaultState", {"type": "Public", "value": 22}) == "Public"
    assert choose_next(choices, "DefaultState", {"type": "Private", "value": 0}) == "ValueIsZero"
    assert choose_next(choices, "DefaultState", {"type": "Private", "value": 5}) == "DefaultState"
    assert choose_next(choices, None, {"type": "Private", "value": 5}) is None


def test_choose_next_first_match_wins_and_stops() -> None:
    choices = [
        {"BooleanEquals": True, "Next": "FinishTrue", "Variable": "$.result.done"},
        {"BooleanEquals": False, "Next": "FinishFalse", "Variable": "$.result.done"},
        {"Variable": "$.missing", "IsNull": True, "Next": "Never"},
    ]
    assert choose_next(choices, None, {"result": {"done": True}}) == "FinishTrue"
    assert choose_next(choices, None, {"result": {"done": False}}) == "FinishFalse"
    with pytest.raises(WorkflowFailure):
        choose_next(choices, "D", {"result": {"done": "yes"}})


def test_match_choice_returns_the_rule_for_assign() -> None:
    choices = [
        {"Variable": "$.input_value", "IsPresent": False, "Assign": {"status": "UNKNOWN"},
         "Next": "FinalState"},
        {"Variable": "$.input_value", "NumericEquals": 42, "Assign": {"status": "CORRECT"},
         "Next": "FinalState"},
    ]  # fmt: skip
    assert match_choice(choices, {"input_value": "42"}) is None
    assert match_choice(choices, {"input_value": 42}) is choices[1]
    assert match_choice(choices, {}) is choices[0]


def test_rule_without_operator_is_rejected() -> None:
    with pytest.raises(WorkflowFailure) as caught:
        evaluate_rule({"Variable": "$.a", "Next": "X"}, {"a": 1})
    assert caught.value.error == STATES_RUNTIME


def test_operator_table_is_complete() -> None:
    families = ["String", "Numeric", "Timestamp"]
    comparisons = ["Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"]
    expected = {f + c for f in families for c in comparisons} | {"BooleanEquals"}
    expected |= {name + "Path" for name in expected}
    expected |= {"StringMatches", "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean",
                 "IsTimestamp"}  # fmt: skip
    assert expected == COMPARISON_OPERATORS
