"""Tests of stackflow.workflow.asl.validate: static validation of ASL definitions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stackflow.errors import DefinitionError, Problem
from stackflow.workflow.asl.loader import from_object, load_definition
from stackflow.workflow.asl.validate import check_definition, validate_definition

REPO_ROOT = Path(__file__).resolve().parents[3]
CASES = REPO_ROOT.parent / "shared" / "conformance" / "asl" / "cases.json"


def _problems(text: str, file: str = "wf.json") -> list[tuple[str, str, str]]:
    loaded = load_definition(text, file=file)
    return [(str(p.location), p.code, p.message) for p in validate_definition(loaded)]


def _codes(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.location.pointer, p.code) for p in validate_definition(from_object(document))]


def _messages(document: dict[str, Any]) -> list[str]:
    return [p.message for p in validate_definition(from_object(document))]


def _machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


# ----------------------------------------------------------------------------------------------
# Word-for-word messages with line and column


def test_next_typo_with_did_you_mean() -> None:
    text = """{
  "StartAt": "Start",
  "States": {
    "Start": {"Type": "Pass", "Next": "Proces"},
    "Process": {"Type": "Succeed"}
  }
}"""
    assert _problems(text) == [
        (
            "wf.json:4:31 (/States/Start/Next)",
            "MISSING_TRANSITION_TARGET",
            'State "Start" has Next "Proces" which is not a state in this state machine. '
            'Did you mean "Process"?',
        ),
        (
            "wf.json:5:5 (/States/Process)",
            "UNREACHABLE_STATE",
            'State "Process" is not reachable from StartAt "Start"; no reachable state '
            "transitions to it.",
        ),
    ]


def test_yaml_definition_with_several_mistakes_sorted_by_position() -> None:
    text = """\
StartAt: Begin
States:
  Begin:
    Type: Pass
    Resource: py:mod.fn
    Next: Work
  Work:
    Type: Task
    Resource: py:mod.work
    Seconds: 5
    TimeoutSeconds: 10
    HeartbeatSeconds: 30
    End: true
    Next: Begin
"""
    assert _problems(text, file="flow.yaml") == [
        (
            "flow.yaml:5:5 (/States/Begin/Resource)",
            "SCHEMA_VALIDATION_FAILED",
            'The field "Resource" is not supported in a Pass state.',
        ),
        (
            "flow.yaml:10:5 (/States/Work/Seconds)",
            "SCHEMA_VALIDATION_FAILED",
            'The field "Seconds" is not supported in a Task state. Did you mean "TimeoutSeconds"?',
        ),
        (
            "flow.yaml:12:5 (/States/Work/HeartbeatSeconds)",
            "SCHEMA_VALIDATION_FAILED",
            'State "Work" "HeartbeatSeconds" (30) must be smaller than its "TimeoutSeconds" (10).',
        ),
        (
            "flow.yaml:13:5 (/States/Work/End)",
            "SCHEMA_VALIDATION_FAILED",
            'State "Work" has both "Next" and "End"; use only one.',
        ),
    ]


def test_missing_start_at_and_states() -> None:
    assert _problems('{\n  "Comment": "x"\n}') == [
        (
            "wf.json:1:1 (/)",
            "SCHEMA_VALIDATION_FAILED",
            'The state machine is missing the required field "States": an object mapping state '
            "names to states.",
        ),
        (
            "wf.json:1:1 (/)",
            "SCHEMA_VALIDATION_FAILED",
            'The state machine is missing the required field "StartAt": the name of the first '
            "state to run.",
        ),
    ]


def test_start_at_typo() -> None:
    text = '{"StartAt": "Frist",\n "States": {"First": {"Type": "Succeed"}}}'
    assert _problems(text) == [
        (
            "wf.json:1:2 (/StartAt)",
            "MISSING_TRANSITION_TARGET",
            'StartAt "Frist" is not a state in this state machine. Did you mean "First"?',
        ),
    ]


def test_jsonata_state_with_jsonpath_field_and_bad_expression() -> None:
    text = """{
  "QueryLanguage": "JSONata",
  "StartAt": "A",
  "States": {
    "A": {
      "Type": "Pass",
      "Parameters": {"x": 1},
      "Output": "{% $states.input. %}",
      "End": true
    }
  }
}"""
    assert _problems(text) == [
        (
            "wf.json:7:7 (/States/A/Parameters)",
            "SCHEMA_VALIDATION_FAILED",
            'State "A" uses QueryLanguage JSONata, which does not support the field '
            '"Parameters"; use "Arguments" instead.',
        ),
        (
            "wf.json:8:7 (/States/A/Output)",
            "INVALID_JSONATA",
            'State "A" "Output" has an invalid JSONata expression "{% $states.input. %}": '
            "S0207: Unexpected end of expression.",
        ),
    ]


def test_choice_rule_mistakes_word_for_word() -> None:
    text = """{
  "StartAt": "C",
  "States": {
    "C": {
      "Type": "Choice",
      "Choices": [
        {"Variable": "$.n", "NumericEquals": "5", "Next": "Done"},
        {"NumericGreaterThan": 1, "StringEquals": "a", "Next": "Done"}
      ],
      "Default": "Done"
    },
    "Done": {"Type": "Succeed"}
  }
}"""
    assert _problems(text) == [
        (
            "wf.json:7:29 (/States/C/Choices/0/NumericEquals)",
            "SCHEMA_VALIDATION_FAILED",
            'State "C" Choices[0] "NumericEquals" needs a number, not a string.',
        ),
        (
            "wf.json:8:9 (/States/C/Choices/1)",
            "SCHEMA_VALIDATION_FAILED",
            'State "C" Choices[1] has more than one comparison operator ("NumericGreaterThan", '
            '"StringEquals"); expected exactly one (combine rules with "And" or "Or").',
        ),
        (
            "wf.json:8:9 (/States/C/Choices/1)",
            "SCHEMA_VALIDATION_FAILED",
            'State "C" Choices[1] uses "NumericGreaterThan" but has no "Variable"; expected the '
            "JSONPath of the value to compare.",
        ),
        (
            "wf.json:8:9 (/States/C/Choices/1)",
            "SCHEMA_VALIDATION_FAILED",
            'State "C" Choices[1] uses "StringEquals" but has no "Variable"; expected the '
            "JSONPath of the value to compare.",
        ),
    ]


def test_retry_mistakes_word_for_word() -> None:
    text = """{
  "StartAt": "T",
  "States": {
    "T": {
      "Type": "Task", "Resource": "py:m.f", "End": true,
      "Retry": [
        {"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5},
        {"ErrorEquals": ["States.Timout"], "JitterStrategy": "SOME"}
      ]
    }
  }
}"""
    assert _problems(text) == [
        (
            "wf.json:7:10 (/States/T/Retry/0/ErrorEquals)",
            "SCHEMA_VALIDATION_FAILED",
            'State "T" Retry[0] has "States.ALL" but is not the last one; a retrier or catcher '
            'with "States.ALL" must be the last of its list.',
        ),
        (
            "wf.json:7:41 (/States/T/Retry/0/BackoffRate)",
            "SCHEMA_VALIDATION_FAILED",
            'State "T" Retry[0] "BackoffRate" must be a number >= 1.0, not 0.5.',
        ),
        (
            "wf.json:8:26 (/States/T/Retry/1/ErrorEquals/0)",
            "SCHEMA_VALIDATION_FAILED",
            'State "T" Retry[1] names "States.Timout", which is not a predefined error. '
            'Did you mean "States.Timeout"?',
        ),
        (
            "wf.json:8:44 (/States/T/Retry/1/JitterStrategy)",
            "SCHEMA_VALIDATION_FAILED",
            'State "T" Retry[1] "JitterStrategy" must be "FULL" or "NONE", not "SOME".',
        ),
    ]


def test_bad_path_and_intrinsic_in_parameters() -> None:
    text = """{
  "StartAt": "P",
  "States": {
    "P": {"Type": "Pass", "End": true, "InputPath": "input",
          "Parameters": {"a.$": "States.Format('x'", "b.$": "name"}}
  }
}"""
    problems = _problems(text)
    assert problems[0] == (
        "wf.json:4:40 (/States/P/InputPath)",
        "INVALID_JSON_PATH",
        'State "P" "InputPath" has "input", which is not a JSONPath: it must start with "$".',
    )
    location, code, message = problems[1]
    assert (location, code) == (
        "wf.json:5:26 (/States/P/Parameters/a.$)",
        "INVALID_INTRINSIC_FUNCTION",
    )
    assert message.startswith(
        'State "P" "Parameters": field "a.$" has "States.Format(\'x\'", which is not a valid '
        "intrinsic function: "
    )
    assert problems[2] == (
        "wf.json:5:54 (/States/P/Parameters/b.$)",
        "INVALID_JSON_PATH",
        'State "P" "Parameters": field "b.$" ends in .$, so its value must be a JSONPath '
        '(starting with "$") or an intrinsic function, not "name".',
    )
    assert len(problems) == 3


def test_check_definition_raises_with_every_problem() -> None:
    loaded = from_object(_machine(A={"Type": "Pass"}, B={"Type": "Bogus"}))
    with pytest.raises(DefinitionError) as exc:
        check_definition(loaded)
    assert [p.location.pointer for p in exc.value.problems] == [
        "/States/A",
        "/States/B/Type",
        "/States/B",
        "/States",
    ]
    assert all(p.location.line is None for p in exc.value.problems)
    assert str(exc.value).startswith("Invalid state machine definition: 4 problem(s) found")


def test_valid_definition_passes_check() -> None:
    check_definition(from_object(_machine(A={"Type": "Pass", "End": True})))


# ----------------------------------------------------------------------------------------------
# One rule at a time (pointer and code)

PASS_END = {"Type": "Pass", "End": True}
TASK = {"Type": "Task", "Resource": "py:m.f", "End": True}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _machine(A={"Type": "Pass", "End": True, "Next": "A"}),
            ("/States/A/End", "SCHEMA_VALIDATION_FAILED"),
        ),
        (_machine(A={"Type": "Task"}), ("/States/A", "SCHEMA_VALIDATION_FAILED")),
        (
            _machine(A={"Type": "Choice", "Default": "B"}, B=PASS_END),
            ("/States/A", "SCHEMA_VALIDATION_FAILED"),
        ),
        (_machine(A={"Type": "Wait", "End": True}), ("/States/A", "SCHEMA_VALIDATION_FAILED")),
        (_machine(A={"Type": "Parallel", "End": True}), ("/States/A", "SCHEMA_VALIDATION_FAILED")),
        (_machine(A={"Type": "Map", "End": True}), ("/States/A", "SCHEMA_VALIDATION_FAILED")),
        (
            _machine(A={"Type": "Fail", "Cause": "c", "CausePath": "$.c"}),
            ("/States/A/CausePath", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={"Type": "Succeed", "Next": "A"}),
            ("/States/A/Next", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={**TASK, "TimeoutSeconds": 0}),
            ("/States/A/TimeoutSeconds", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={**TASK, "HeartbeatSeconds": 1.5}),
            ("/States/A/HeartbeatSeconds", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={**TASK, "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]}),
            ("/States/A/Retry/0/MaxAttempts", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={**TASK, "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]}),
            ("/States/A/Retry/0/IntervalSeconds", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={**TASK, "Retry": [{"ErrorEquals": []}]}),
            ("/States/A/Retry/0/ErrorEquals", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={**TASK, "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "A"}]}),
            ("/States/A/Catch/0/ErrorEquals", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={**TASK, "Catch": [{"ErrorEquals": ["X"], "Next": "Nope"}]}),
            ("/States/A/Catch/0/Next", "MISSING_TRANSITION_TARGET"),
        ),
        (
            _machine(A={**TASK, "ResultPath": "$.a[*]"}),
            ("/States/A/ResultPath", "INVALID_JSON_PATH"),
        ),
        (
            _machine(A={**PASS_END, "Assign": {"states": 1}}),
            ("/States/A/Assign/states", "INVALID_VARIABLE_NAME"),
        ),
        (
            _machine(A={**PASS_END, "Assign": {"1x": 1}}),
            ("/States/A/Assign/1x", "INVALID_VARIABLE_NAME"),
        ),
        (
            _machine(A={**PASS_END, "QueryLanguage": "XPath"}),
            ("/States/A/QueryLanguage", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "MaxConcurrency": -1,
                    "ItemProcessor": _machine(B=PASS_END),
                }
            ),
            ("/States/A/MaxConcurrency", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ToleratedFailurePercentage": 100.5,
                    "ItemProcessor": _machine(B=PASS_END),
                }
            ),
            ("/States/A/ToleratedFailurePercentage", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemProcessor": {**_machine(B=PASS_END), "ProcessorConfig": {"Mode": "FAST"}},
                }
            ),
            ("/States/A/ItemProcessor/ProcessorConfig/Mode", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemProcessor": _machine(B=PASS_END),
                    "Iterator": _machine(C=PASS_END),
                }
            ),
            ("/States/A/Iterator", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={"Type": "Wait", "Timestamp": "2016-03-14 01:59:00", "End": True}),
            ("/States/A/Timestamp", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(A={"Type": "Wait", "SecondsPath": "$.a[?(@.x)]", "End": True}),
            ("/States/A/SecondsPath", "INVALID_JSON_PATH"),
        ),
        (_machine(**{"A" * 81: PASS_END}), ("/States/" + "A" * 81, "INVALID_STATE_NAME")),
        (
            _machine(
                A={
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "StringMatches": 5, "Next": "B"}],
                },
                B=PASS_END,
            ),
            ("/States/A/Choices/0/StringMatches", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "BooleanEquals": "true", "Next": "B"}],
                },
                B=PASS_END,
            ),
            ("/States/A/Choices/0/BooleanEquals", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={"Type": "Choice", "Choices": [{"StringEquals": "x", "Next": "B"}]}, B=PASS_END
            ),
            ("/States/A/Choices/0", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True}]}, B=PASS_END
            ),
            ("/States/A/Choices/0", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={
                    "Type": "Choice",
                    "Choices": [
                        {"Not": {"Variable": "$.a", "IsNull": True, "Next": "B"}, "Next": "B"}
                    ],
                },
                B=PASS_END,
            ),
            ("/States/A/Choices/0/Not/Next", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "StringEqualsPath": "a", "Next": "B"}],
                },
                B=PASS_END,
            ),
            ("/States/A/Choices/0/StringEqualsPath", "INVALID_JSON_PATH"),
        ),
        (
            _machine(
                A={
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "NumericEquals": 1, "Next": "B"}],
                    "Default": "Z",
                },
                B=PASS_END,
            ),
            ("/States/A/Default", "MISSING_TRANSITION_TARGET"),
        ),
        (
            _machine(A={"Type": "Choice", "Choices": []}),
            ("/States/A/Choices", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            _machine(
                A={"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "A"}]}
            ),
            ("/States", "MISSING_END_STATE"),
        ),
        (
            {
                **_machine(A=PASS_END),
                "QueryLanguage": "JSONata",
                "States": {"A": {**PASS_END, "QueryLanguage": "JSONPath"}},
            },
            ("/States/A/QueryLanguage", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            {**_machine(A={**PASS_END, "InputPath": "$"}), "QueryLanguage": "JSONata"},
            ("/States/A/InputPath", "SCHEMA_VALIDATION_FAILED"),
        ),
        (_machine(A={**PASS_END, "Output": {}}), ("/States/A/Output", "SCHEMA_VALIDATION_FAILED")),
        (
            _machine(A={**TASK, "Arguments": {}}),
            ("/States/A/Arguments", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            {
                **_machine(
                    A={"Type": "Choice", "Choices": [{"Condition": "true", "Next": "B"}]},
                    B=PASS_END,
                ),
                "QueryLanguage": "JSONata",
            },
            ("/States/A/Choices/0/Condition", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            {
                **_machine(
                    A={
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "B"}],
                    },
                    B=PASS_END,
                ),
                "QueryLanguage": "JSONata",
            },
            ("/States/A/Choices/0/Variable", "SCHEMA_VALIDATION_FAILED"),
        ),
        (
            {**_machine(A={**TASK, "TimeoutSeconds": "{% 1 + %}"}), "QueryLanguage": "JSONata"},
            ("/States/A/TimeoutSeconds", "INVALID_JSONATA"),
        ),
        (
            {**_machine(A=PASS_END), "TimeoutSeconds": 0},
            ("/TimeoutSeconds", "SCHEMA_VALIDATION_FAILED"),
        ),
        ({**_machine(A=PASS_END), "Extra": 1}, ("/Extra", "SCHEMA_VALIDATION_FAILED")),
    ],
)
def test_single_rule(document: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in _codes(document)


def test_nested_machines_have_their_own_scope() -> None:
    document = _machine(
        Outer={
            "Type": "Parallel",
            "End": True,
            "Branches": [
                _machine(Inner={"Type": "Pass", "Next": "Outer"}),
                _machine(Other=PASS_END),
            ],
        }
    )
    assert _messages(document) == [
        'State "Inner" has Next "Outer" which is not a state in this state machine. "Outer" '
        "belongs to another (nested or enclosing) state machine; a state can only go to states "
        "of its own state machine, Parallel branch or Map processor.",
        "The state machine at /States/Outer/Branches/0 has no terminal state; expected at least "
        'one state with "End": true or of Type Succeed or Fail.',
    ]


def test_state_names_are_unique_across_nested_machines() -> None:
    document = _machine(
        A={"Type": "Map", "End": True, "ItemProcessor": _machine(A=PASS_END)},
    )
    assert ("/States/A/ItemProcessor/States/A", "DUPLICATE_STATE_NAME") in _codes(document)


def test_unreachable_state_behind_catch_is_reachable() -> None:
    document = _machine(
        T={**TASK, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]},
        Handler=PASS_END,
        Orphan=PASS_END,
    )
    assert _codes(document) == [("/States/Orphan", "UNREACHABLE_STATE")]


def test_valid_features_are_accepted() -> None:
    document = {
        "Comment": "many features",
        "StartAt": "Task",
        "TimeoutSeconds": 60,
        "States": {
            "Task": {
                **TASK,
                "End": None,
                "Next": "Choose",
                "TimeoutSeconds": 30,
                "HeartbeatSeconds": 10,
                "Parameters": {"a.$": "$.a", "b.$": "States.Format('{}', $.b)", "c": [1]},
                "ResultSelector": {"r.$": "$"},
                "ResultPath": "$.result",
                "Assign": {"count.$": "$.n", "label": "x"},
                "Retry": [
                    {"ErrorEquals": ["Boom"], "MaxAttempts": 0},
                    {"ErrorEquals": ["States.ALL"], "BackoffRate": 1.5, "JitterStrategy": "FULL"},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fail", "ResultPath": "$.err"}],
            },
            "Choose": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.a", "IsPresent": True},
                            {"Not": {"Variable": "$.a", "StringMatches": "x*"}},
                        ],
                        "Next": "Wait",
                        "Assign": {"seen": True},
                    },
                    {"Variable": "$count", "NumericGreaterThanPath": "$.limit", "Next": "Map"},
                ],
                "Default": "Fail",
            },
            "Wait": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "Next": "Map"},
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                "MaxConcurrency": 0,
                "ToleratedFailurePercentage": 50,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Each",
                    "States": {"Each": PASS_END},
                },
                "Next": "Jsonata",
            },
            "Jsonata": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {"x": "{% $states.input.a %}"},
                "Assign": {"y": "{% 1 + 2 %}"},
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Fail": {"Type": "Fail", "ErrorPath": "$.err.Error", "CausePath": "$$.State.Name"},
        },
    }
    del document["States"]["Task"]["End"]
    assert validate_definition(from_object(document)) == []


def test_problem_values_are_problem_instances() -> None:
    problems = validate_definition(from_object({"StartAt": 1, "States": {}}))
    assert all(isinstance(p, Problem) for p in problems)
    assert [p.location.pointer for p in problems] == ["/States", "/StartAt"]


# ----------------------------------------------------------------------------------------------
# Recorded AWS definitions are all valid


def _conformance_cases() -> list[dict[str, Any]]:
    if not CASES.exists():
        return []
    data = json.loads(CASES.read_text(encoding="utf-8"))
    return [case for case in data if isinstance(case.get("definition"), dict)]


@pytest.mark.skipif(not CASES.exists(), reason="../shared/conformance/asl/cases.json is absent")
def test_every_recorded_aws_definition_is_valid() -> None:
    cases = _conformance_cases()
    assert len(cases) > 100
    false_positives = {}
    for case in cases:
        problems = validate_definition(from_object(copy.deepcopy(case["definition"])))
        if problems:
            false_positives[case["id"]] = [str(p) for p in problems]
    assert false_positives == {}


@pytest.mark.skipif(not CASES.exists(), reason="../shared/conformance/asl/cases.json is absent")
def test_recorded_definitions_also_validate_from_json_text() -> None:
    for case in _conformance_cases()[:200]:
        text = json.dumps(case["definition"], indent=2)
        assert validate_definition(load_definition(text)) == [], case["id"]
