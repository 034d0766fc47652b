"""Tests of JSONPath-mode payload templates."""

from __future__ import annotations

import copy
import random

import pytest

from stackflow.errors import WorkflowFailure
from stackflow.workflow.asl.payload import compact_json, evaluate_payload, has_dynamic_keys


def test_compact_json() -> None:
    assert compact_json({"a": [1, 2.5, None, True], "b": "é"}) == '{"a":[1,2.5,null,true],"b":"é"}'


def test_literal_template_is_copied() -> None:
    template = {"x": 1, "y": {"z": [1, "$.not_a_path", "States.Format('{}', 1)"]}, "w": None}
    result = evaluate_payload(template, {"ignored": True})
    assert result == template
    assert result is not template and result["y"] is not template["y"]
    assert not has_dynamic_keys(template)


def test_dynamic_keys_evaluate_paths_and_intrinsics() -> None:
    template = {
        "flagged": True,
        "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[3:]"},
        "list": [{"n.$": "$.name"}],
        "greeting.$": "States.Format('Hello {}', $.name)",
        "ctx.$": "$$.Execution.Id",
        "var.$": "$answer",
        "root.$": "$",
    }
    data = {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50], "name": "Ada"}
    result = evaluate_payload(
        template, data, context={"Execution": {"Id": "arn:e"}}, variables={"answer": 42}
    )
    assert result == {
        "flagged": True,
        "parts": {"first": 0, "last3": [30, 40, 50]},
        "list": [{"n": "Ada"}],
        "greeting": "Hello Ada",
        "ctx": "arn:e",
        "var": 42,
        "root": data,
    }
    assert has_dynamic_keys(template)


def test_results_are_copies_of_the_data() -> None:
    data = {"obj": {"inner": [1, 2]}}
    before = copy.deepcopy(data)
    result = evaluate_payload(
        {"o.$": "$.obj", "m.$": "States.JsonMerge($.obj, $.obj, false)"}, data
    )
    result["o"]["inner"].append(3)
    result["m"]["inner"].append(4)
    assert data == before


def test_filter_path_in_payload() -> None:
    # Recorded AWS case test_state_pass_regex_json_path_base.
    data = {"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]}
    result = evaluate_payload({"FromInput.$": "$.users[?(@.status == 0)]"}, data)
    assert result == {"FromInput": [{"year": 1997, "status": 0}]}


def test_missing_path_fails_with_aws_cause() -> None:
    data = {"a": 1, "b": [1, "x"]}
    with pytest.raises(WorkflowFailure) as info:
        evaluate_payload({"outer": {"value.$": "$.no_such_jsonpath"}}, data)
    assert info.value.error == "States.Runtime"
    assert info.value.cause == (
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be "
        'found in the input \'{"a":1,"b":[1,"x"]}\''
    )


def test_missing_context_path_prints_the_input() -> None:
    data = {"in": True}
    context = {"Execution": {"Input": data}}
    with pytest.raises(WorkflowFailure) as info:
        evaluate_payload({"value.$": "$$.Execution.Input.no_such_jsonpath"}, data, context=context)
    assert info.value.cause == (
        "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' "
        "could not be found in the input '{\"in\":true}'"
    )


def test_missing_path_inside_intrinsic_and_unknown_variable() -> None:
    with pytest.raises(WorkflowFailure) as info:
        evaluate_payload({"v.$": "States.Hash($.missing, 'SHA-256')"}, {})
    assert info.value.cause == (
        "The JSONPath '$.missing' specified for the field 'v.$' could not be found "
        "in the input '{}'"
    )
    with pytest.raises(WorkflowFailure, match="'\\$noSuchVar'"):
        evaluate_payload({"v.$": "$noSuchVar"}, {}, variables={})


def test_intrinsic_failures_propagate() -> None:
    with pytest.raises(WorkflowFailure) as info:
        evaluate_payload({"v.$": "States.MathAdd($.a, 1)"}, {"a": "x"})
    assert (info.value.error, info.value.cause) == (
        "States.Runtime",
        "Invalid arguments in States.MathAdd",
    )


def test_malformed_expressions_fail_at_runtime() -> None:
    for expr in ["States.Nope(1)", "not a path", "$.a["]:
        with pytest.raises(WorkflowFailure) as info:
            evaluate_payload({"v.$": expr}, {"a": 1})
        assert info.value.error == "States.Runtime"
        assert "'v.$'" in (info.value.cause or "")


def test_rng_is_passed_to_intrinsics() -> None:
    template = {"r.$": "States.MathRandom(0, 1000000)", "u.$": "States.UUID()"}
    first = evaluate_payload(template, {}, rng=random.Random(3))
    second = evaluate_payload(template, {}, rng=random.Random(3))
    assert first == second


def test_scalar_and_list_templates() -> None:
    assert evaluate_payload("text", {}) == "text"
    assert evaluate_payload([{"a.$": "$.x"}, 1], {"x": 2}) == [{"a": 2}, 1]
