"""Tests for the JSONata query language layer (stackflow.workflow.asl.jsonata_query).

Expected values come from the recorded AWS conformance cases (query_language == "JSONata") and
the AWS documentation of the Step Functions JSONata functions.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stackflow.errors import StackflowError, WorkflowFailure
from stackflow.workflow.asl.jsonata_query import (
    UNDEFINED,
    JsonataEvaluationError,
    evaluate_jsonata,
    evaluate_template,
    is_jsonata_template,
    json_type_name,
    template_expression,
    unexpected_type_cause,
    validate_jsonata,
)

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:run", "Name": "run"},
    "State": {"Name": "State0", "EnteredTime": "2024-01-01T00:00:00Z"},
}


def ev(expression: str, input_: Any = None, variables: dict[str, Any] | None = None) -> Any:
    return evaluate_jsonata(
        expression,
        states={"input": {} if input_ is None else input_, "context": CONTEXT},
        variables=variables or {},
    )


def tpl(template: Any, field: str, input_: Any = None, variables: dict[str, Any] | None = None):
    return evaluate_template(
        template,
        states={"input": {} if input_ is None else input_, "context": CONTEXT},
        variables=variables or {},
        field=field,
    )


# --- expression level, from the conformance cases ------------------------------------------

CONFORMANCE = [
    # (expression, input, variables, expected)
    ('$contains("hello$world", /^hello\\$/)', {}, {}, True),
    ("$contains('hello$world', /^hello\\$/)", {}, {}, True),
    ('$contains("hello$world", /^hello\\ /)', {}, {}, False),
    ('$number("2")', {}, {}, 2),
    ("$number('2')", {}, {}, 2),
    ("$variable := 1", {}, {}, 1),
    ("$states.input.input_value", {"input_value": [1, 2, 3]}, {}, [1, 2, 3]),
    (
        "$merge([$states.input.part1, $states.input.part2])",
        {"part1": {"hello": "world"}, "part2": {"foo": "bar"}},
        {},
        {"hello": "world", "foo": "bar"},
    ),
    (
        "$sum($states.input.input_values) + $var_constant_1",
        {"input_values": [1, 2, 3]},
        {"var_constant_1": 1},
        7,
    ),
    ("$var_input_value", {}, {"var_input_value": "string literal"}, "string literal"),
    ("$states.input", {"input_value": "x"}, {}, {"input_value": "x"}),
    ("true", {}, {}, True),
    ("null", {}, {}, None),
    ("[]", {}, {}, []),
    ("[0]", {}, {}, [0]),
    ("[1, 'two', 3]", {}, {}, [1, "two", 3]),
    ("{'foo': 'bar'}", {}, {}, {"foo": "bar"}),
    ("$states.input.items", {"items": [0]}, {}, [0]),
    ("$states.input.items", {"items": []}, {}, []),
    ("$states.input.items", {"items": None}, {}, None),
    ("$not($states.input.type = 'Private')", {"type": "Private", "value": 22}, {}, False),
    ("$states.input.value >= 20 and $states.input.value < 30", {"value": 22}, {}, True),
    ("$states.input.value = 0", {"value": 22}, {}, False),
    ("$states.input.type = 'Public'", {"type": "Public"}, {}, True),
    ('$states.input.str_value = "string literal"', {"str_value": "string literal"}, {}, True),
    ("$not($states.input.result.done)", {"result": {"done": False}}, {}, True),
    ("$var = '\"'", {}, {"var": '"'}, True),
    ("$states.input = '\"'", '"', {}, True),
    ("$theAnswer", {}, {"theAnswer": 42}, 42),
    ("$ItemsVar", {}, {"ItemsVar": ["Item1", "Item2"]}, ["Item1", "Item2"]),
    ("$states.input.waitSeconds", {"waitSeconds": 0}, {}, 0),
    # $partition
    ("$partition($states.input.a, $states.input.n)", {"a": [0], "n": 1}, {}, [[0]]),
    ("$partition($states.input.a, $states.input.n)", {"a": [0], "n": 5}, {}, [[0]]),
    ("$partition($states.input.a, $states.input.n)", {"a": [0, 1], "n": 1}, {}, [[0], [1]]),
    ("$partition($states.input.a, $states.input.n)", {"a": [0, 1, 2], "n": 2}, {}, [[0, 1], [2]]),
    (
        "$partition($states.input.a, $states.input.n)",
        {"a": [0, 1, 2, 3], "n": 3},
        {},
        [[0, 1, 2], [3]],
    ),
    (
        "$partition($states.input.a, $states.input.n)",
        {"a": [0, 1, 2, 3], "n": 4},
        {},
        [[0, 1, 2, 3]],
    ),
    # $range: end is inclusive; a single element is unwrapped
    (
        "$range($states.input.a, $states.input.b, $states.input.c)",
        {"a": 0, "b": 9, "c": 3},
        {},
        [0, 3, 6, 9],
    ),
    (
        "$range($states.input.a, $states.input.b, $states.input.c)",
        {"a": 0, "b": 10, "c": 3},
        {},
        [0, 3, 6, 9],
    ),
    ("$range($states.input.a, $states.input.b, $states.input.c)", {"a": 1, "b": 9, "c": 9}, {}, 1),
    (
        "$range($states.input.a, $states.input.b, $states.input.c)",
        {"a": 1, "b": 9, "c": 2},
        {},
        [1, 3, 5, 7, 9],
    ),
    # $parse
    ("$parse($states.input.s)", {"s": "-0"}, {}, 0),
    ("$parse($states.input.s)", {"s": "1"}, {}, 1),
    ("$parse($states.input.s)", {"s": "1.1"}, {}, 1.1),
    ("$parse($states.input.s)", {"s": "true"}, {}, True),
    ("$parse($states.input.s)", {"s": '"HelloWorld"'}, {}, "HelloWorld"),
    ("$parse($states.input.s)", {"s": '[1, 2, "HelloWorld"]'}, {}, [1, 2, "HelloWorld"]),
    ("$parse($states.input.s)", {"s": '{"Arg1": 1, "Arg2": []}'}, {}, {"Arg1": 1, "Arg2": []}),
]


@pytest.mark.parametrize(("expression", "input_", "variables", "expected"), CONFORMANCE)
def test_conformance_expressions(expression: str, input_: Any, variables: dict, expected: Any):
    result = ev(expression, input_, variables)
    assert result == expected
    assert type(result) is type(expected)


def test_context_is_bound_as_states_context():
    assert ev("$states.context.State.Name") == "State0"
    assert ev("$states.context") == CONTEXT


def test_map_item_value_from_context():
    states = {"input": {}, "context": {"Map": {"Item": {"Value": "Item1", "Index": 0}}}}
    assert (
        evaluate_jsonata("$states.context.Map.Item.Value", states=states, variables={}) == "Item1"
    )


def test_result_and_error_output_are_bound_when_present():
    states = {"input": {}, "context": {}, "result": {"x": 1}, "errorOutput": {"Error": "E"}}
    assert evaluate_jsonata("$states.result.x", states=states, variables={}) == 1
    assert evaluate_jsonata("$states.errorOutput.Error", states=states, variables={}) == "E"
    assert ev("$exists($states.result)") is False


# --- values --------------------------------------------------------------------------------


def test_undefined_is_distinct_from_null():
    assert ev("$doesNotExist") is UNDEFINED
    assert ev("$states.input.missing") is UNDEFINED
    assert ev("$states.input.a", {"a": None}) is None
    assert ev("$states.input.a = null", {"a": None}) is True
    assert ev("$type($states.input.a)", {"a": None}) == "null"
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"


def test_undefined_members_are_dropped_like_jsonata():
    assert ev("{'a': $nope, 'b': 1}") == {"b": 1}
    assert ev("[1, $nope, 2]") == [1, 2]


def test_integral_numbers_come_back_as_int():
    assert ev("6 / 2") == 3 and isinstance(ev("6 / 2"), int)
    assert ev("$states.input.n * 1.0", {"n": 3}) == 3 and isinstance(ev("1.0 + 2"), int)
    assert ev("3 / 2") == 1.5
    assert ev("0.1 + 0.2") == pytest.approx(0.3)
    assert ev("$floor(2.7)") == 2


def test_nested_results_are_plain_json():
    result = ev("{'a': [1..3], 'b': $map([1, 2], function($v) {$v * 2}), 'c': null}")
    assert result == {"a": [1, 2, 3], "b": [2, 4], "c": None}
    assert type(result["a"]) is list and type(result["b"]) is list


def test_input_is_not_modified():
    data = {"o": {"a": 1}, "xs": [3, 1, 2]}
    ev("$states.input.o ~> |$|{'c': 3}|", data)
    ev("$sort($states.input.xs)", data)
    assert data == {"o": {"a": 1}, "xs": [3, 1, 2]}


def test_standard_library_and_lambdas_work():
    assert ev("($f := function($n) {$n <= 1 ? 1 : $n * $f($n - 1)}; $f(5))") == 120
    assert ev("$reduce([1, 2, 3], function($a, $b) {$a + $b})") == 6
    assert ev("$uppercase('abc') & '-' & $string(1)") == "ABC-1"
    assert ev("$keys({'a': 1, 'b': 2})") == ["a", "b"]
    assert ev("$states.input.xs[$ > 1]", {"xs": [3, 1, 2]}) == [3, 2]


def test_variables_shadow_nothing_but_themselves():
    assert ev("$x + $y", variables={"x": 1, "y": 2}) == 3
    assert ev("$x", variables={"x": {"nested": [None]}}) == {"nested": [None]}


# --- errors --------------------------------------------------------------------------------


def test_unknown_function_is_t1006():
    with pytest.raises(JsonataEvaluationError) as info:
        ev("$randomSeeded($states.input.fst)", {"fst": "fst"})
    assert str(info.value) == "T1006: Attempted to invoke a non-function"
    assert info.value.code == "T1006"
    assert isinstance(info.value, StackflowError)


def test_eval_is_not_available():
    with pytest.raises(JsonataEvaluationError, match="T1006"):
        ev("$eval('1 + 1')")


def test_function_result_is_unsupported():
    for expression in ("$fn := function($x){$x}", "{'f': function() {1}}", "/abc/", "$sum"):
        with pytest.raises(JsonataEvaluationError) as info:
            ev(expression)
        assert info.value.unsupported_result


def test_syntax_error_raises():
    with pytest.raises(JsonataEvaluationError) as info:
        ev("1 +")
    assert info.value.code == "S0207"


def test_messages_use_jsonata_js_wording():
    with pytest.raises(JsonataEvaluationError) as info:
        ev("$hash('abc')")
    assert str(info.value) == (
        'T0410: Argument 2 of function "hash" does not match function signature'
    )
    with pytest.raises(JsonataEvaluationError) as info:
        ev("$error('boom')")
    assert str(info.value) == "D3137: boom"
    with pytest.raises(JsonataEvaluationError) as info:
        ev("1 / 0")
    assert info.value.code == "D1001"


# --- Step Functions functions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [
        ("MD5", "md5"),
        ("SHA-1", "sha1"),
        ("SHA-256", "sha256"),
        ("SHA-384", "sha384"),
        ("SHA-512", "sha512"),
    ],
)
def test_hash(algorithm: str, name: str):
    expected = hashlib.new(name, b"input data").hexdigest()
    assert ev(f"$hash('input data', '{algorithm}')") == expected


def test_hash_rejects_unknown_algorithm():
    with pytest.raises(JsonataEvaluationError, match="not supported"):
        ev("$hash('x', 'SHA-3')")


def test_partition_example_and_errors():
    assert ev("$partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)") == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert ev("$partition([], 3)") == []
    for bad in ("0", "-1", "1.5"):
        with pytest.raises(JsonataEvaluationError):
            ev(f"$partition([1, 2], {bad})")


def test_range_examples_and_errors():
    assert ev("$range(0, 10, 2)") == [0, 2, 4, 6, 8, 10]
    assert ev("$range(5, 1, -2)") == [5, 3, 1]
    assert ev("$range(1, 3)") == [1, 2, 3]
    assert ev("$range(5, 1, 1)") is UNDEFINED
    with pytest.raises(JsonataEvaluationError):
        ev("$range(1, 3, 0)")
    with pytest.raises(JsonataEvaluationError):
        ev("$range(0, 10000000, 1)")


def test_random_and_seed():
    value = ev("$random()")
    assert isinstance(value, float) and 0 <= value < 1
    assert ev("$random(42)") == ev("$random(42)")
    assert ev("$random(42) = $random(43)") is False
    with pytest.raises(JsonataEvaluationError):
        ev("$random('x')")


def test_uuid_is_v4():
    value = ev("$uuid()")
    assert uuid.UUID(value).version == 4
    assert ev("$uuid() = $uuid()") is False


def test_parse_errors_and_null():
    assert ev("$parse('{\"a\": null}')") == {"a": None}
    assert ev("$parse('null')") is None
    with pytest.raises(JsonataEvaluationError):
        ev("$parse('{nope')")


# --- templates -----------------------------------------------------------------------------


def test_is_jsonata_template():
    assert is_jsonata_template("{% $x %}")
    assert is_jsonata_template("{%$x%}")
    assert not is_jsonata_template(" {% states.input %} ")
    assert not is_jsonata_template("$states.input")
    assert not is_jsonata_template("{%}")
    assert not is_jsonata_template(1)
    assert template_expression("{% $fn := function($x){$x} %}") == "$fn := function($x){$x}"


def test_template_with_literals_is_copied():
    literal = {
        "constant_null": None,
        "constant_float": 0.1,
        "constant_not_jsonata": " {% states.input %} ",
        "constant_varpath": "$no.such.var.path",
        "constant_jp_input.$": "$",
        "constant_if": "States.Format('Format:{}', 101)",
        "constant_lst": [None, 0, 0.1, True, [], {"constant": 0}],
    }
    result = tpl(literal, "Output")
    assert result == literal
    assert result is not literal and result["constant_lst"] is not literal["constant_lst"]


def test_template_list_rich():
    template = [
        None,
        0,
        0.1,
        True,
        "string",
        [],
        "$nosuchvar",
        "{% $states.input %}",
        {"key": "{% true %}"},
    ]
    result = tpl(template, "Output", {"input_value": "stringliteral"})
    assert result == [
        None,
        0,
        0.1,
        True,
        "string",
        [],
        "$nosuchvar",
        {"input_value": "stringliteral"},
        {"key": True},
    ]


def test_template_object_with_expressions():
    template = {
        "ja_states_input": "{% $states.input %}",
        "ja_var_access": "{% $var_input_value %}",
        "ja_expr": "{% $sum($states.input.input_values) + $var_constant_1 %}",
    }
    result = tpl(
        template,
        "Output",
        {"input_values": [1, 2, 3]},
        {"var_input_value": "v", "var_constant_1": 1},
    )
    assert result == {
        "ja_states_input": {"input_values": [1, 2, 3]},
        "ja_var_access": "v",
        "ja_expr": 7,
    }


def failure(template: Any, field: str, input_: Any = None) -> WorkflowFailure:
    with pytest.raises(WorkflowFailure) as info:
        tpl(template, field, input_)
    assert info.value.error == "States.QueryEvaluationError"
    return info.value


def test_template_undefined_messages():
    assert failure("{% $doesNotExist %}", "Output").cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output' "
        "returned nothing (undefined)."
    )
    assert failure({"result": "{% $doesNotExist %}"}, "Output").cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' "
        "returned nothing (undefined)."
    )
    assert failure({"result": "{% $doesNotExist %}"}, "Assign").cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Assign/result' "
        "returned nothing (undefined)."
    )
    assert "'Arguments/a/1/b'" in failure({"a": [1, {"b": "{% $nope %}"}]}, "Arguments").cause


def test_template_error_message():
    cause = failure(
        {"FunctionResult": "{% $randomSeeded($states.input.FunctionInput.fst) %}"},
        "Output",
        {"FunctionInput": "fst"},
    ).cause
    assert cause == (
        "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for "
        "the field 'Output/FunctionResult' threw an error during evaluation. "
        "T1006: Attempted to invoke a non-function"
    )


def test_template_unsupported_result_message():
    assert failure("{% $fn := function($x){$x} %}", "Items").cause == (
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' "
        "returned an unsupported result type."
    )


def test_template_null_result_is_fine():
    assert tpl("{% null %}", "Items") is None
    assert tpl({"a": "{% $states.input.a %}"}, "Output", {"a": None}) == {"a": None}


# --- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value", "shown"),
    [
        ("1", 1, "'number' for value: 1"),
        ("'string'", "string", "'string' for value: \"string\""),
        ("true", True, "'boolean' for value: true"),
        ("{'foo': 'bar'}", {"foo": "bar"}, '\'object\' for value: {"foo":"bar"}'),
        ("null", None, "'null' for value: null"),
    ],
)
def test_unexpected_type_cause(expression: str, value: Any, shown: str):
    assert unexpected_type_cause(expression, "Items", "array", value) == (
        f"The JSONata expression '{expression}' specified for the field 'Items' returned an "
        f"unexpected result type. Expected 'array', but was {shown}"
    )


def test_json_type_name():
    assert [json_type_name(v) for v in (None, True, 1, 1.5, "s", [], {})] == [
        "null",
        "boolean",
        "number",
        "number",
        "string",
        "array",
        "object",
    ]


def test_validate_jsonata():
    assert validate_jsonata("$states.input.a + 1") is None
    assert validate_jsonata("$fn := function($x){$x}") is None
    message = validate_jsonata("1 +")
    assert message is not None and message.startswith("S0207")
    assert validate_jsonata("  ") is not None
    assert validate_jsonata("(1") is not None


# --- threads -------------------------------------------------------------------------------


def test_concurrent_evaluation_is_isolated():
    expressions = [f"$v + {i} + ($f := function($n) {{$n}}; $f($states.input.k))" for i in range(4)]
    barrier = threading.Barrier(8)

    def work(worker: int) -> bool:
        barrier.wait()
        ok = True
        for k in range(100):
            i = (worker + k) % 4
            result = evaluate_jsonata(
                expressions[i],
                states={"input": {"k": k}, "context": {}},
                variables={"v": worker * 1000},
            )
            ok = ok and result == worker * 1000 + i + k
        return ok

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(8)))


def test_uuid_format():
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", ev("$uuid()")
    )


def test_runaway_tail_recursion_is_stopped(monkeypatch: pytest.MonkeyPatch):
    from stackflow.workflow.asl import jsonata_query as module

    monkeypatch.setattr(module, "MAX_EVALUATION_STEPS", 5_000)
    with pytest.raises(JsonataEvaluationError, match="Check for infinite loop"):
        ev("($f := function($n) {$f($n + 1)}; $f(0))")
    assert ev("$sum([1..100])") == 5050


def test_deep_recursion_is_an_error_not_a_crash():
    with pytest.raises(JsonataEvaluationError) as info:
        ev("($f := function($n) {$n > 0 ? 1 + $f($n - 1) : 0}; $f(20000))")
    assert info.value.code == "U1001"
    assert ev("($f := function($n) {$n > 0 ? 1 + $f($n - 1) : 0}; $f(100))") == 100
