"""Tests of intrinsic function parsing and evaluation (expected values from recorded AWS runs)."""

from __future__ import annotations

import random
import re
import uuid

import pytest

from stackflow.errors import PathNotFoundError, StackflowError, WorkflowFailure
from stackflow.workflow.asl.intrinsics import (
    IntrinsicCall,
    IntrinsicSyntaxError,
    evaluate_intrinsic,
    is_intrinsic,
    parse_intrinsic,
)
from stackflow.workflow.asl.intrinsics_parser import Literal, PathArgument


def run(expr: str, data: object = None, **kwargs: object) -> object:
    return evaluate_intrinsic(expr, {} if data is None else data, **kwargs)  # type: ignore[arg-type]


# --- parsing ----------------------------------------------------------------------------------


def test_is_intrinsic() -> None:
    assert is_intrinsic("States.Format('x')")
    assert is_intrinsic("States.UUID()")
    assert not is_intrinsic("$.x")
    assert not is_intrinsic("States.Format")
    assert not is_intrinsic(3)


def test_parse_builds_a_frozen_tree() -> None:
    call = parse_intrinsic("States.Format('a\\'b {}', $.x, States.MathAdd(1, -2.5), true, null)")
    assert isinstance(call, IntrinsicCall)
    assert call.name == "States.Format"
    first, path, nested, flag, nothing = call.args
    assert first == Literal("a'b {}", "a\\'b {}")
    assert path == PathArgument("$.x")
    assert isinstance(nested, IntrinsicCall) and nested.args == (Literal(1), Literal(-2.5))
    assert flag == Literal(True) and nothing == Literal(None)
    assert parse_intrinsic("States.UUID()") is parse_intrinsic("States.UUID()")  # cached


def test_parse_paths_with_brackets_and_context() -> None:
    call = parse_intrinsic("States.Array($.a[0], $$.Execution.Input, $var.b, $)")
    assert [a.path for a in call.args if isinstance(a, PathArgument)] == [
        "$.a[0]",
        "$$.Execution.Input",
        "$var.b",
        "$",
    ]


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("States.Foo(1)", "unknown intrinsic function 'States.Foo'"),
        ("States.ArrayRange(1, 5)", "takes 3 argument(s) but 2 were given"),
        ("States.MathRandom(1)", "takes 2 to 3 argument(s)"),
        ("States.UUID(1)", "takes 0 argument(s)"),
        ("States.Format()", "takes at least 1 argument(s)"),
        ("States.ArrayGetItem($.arr, )", "expected an argument"),
        ("States.Format('abc)", "unterminated string literal"),
        ("States.Format('a\\nb')", "invalid escape sequence"),
        ("States.Array(1 2)", "expected ',' or ')'"),
        ("States.Array(1) x", "unexpected text after"),
        ("States.Array(foo)", "unexpected character 'f'"),
        ("States.Array($.a[)", "not a valid JSONPath"),
    ],
)
def test_parse_errors_are_precise(expr: str, fragment: str) -> None:
    with pytest.raises(IntrinsicSyntaxError) as info:
        parse_intrinsic(expr)
    assert fragment in str(info.value)
    assert isinstance(info.value, StackflowError)


# --- States.Format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("", "Formatting argument ."),
        ("HelloWorld", "Formatting argument HelloWorld."),
        (None, "Formatting argument null."),
        (1, "Formatting argument 1."),
        (1.1, "Formatting argument 1.1."),
        (True, "Formatting argument true."),
        ('{"Arg1": 1, "Arg2": []}', 'Formatting argument {"Arg1": 1, "Arg2": []}.'),
        ({"Arg1": 1, "Arg2": []}, "Formatting argument {Arg1=1, Arg2=[]}."),
        ([1, "a", {"k": None}], "Formatting argument [1, a, {k=null}]."),
    ],
)
def test_format_renders_values_like_aws(value: object, rendered: str) -> None:
    assert run("States.Format('Formatting argument {}.', $.v)", {"v": value}) == rendered


def test_format_escapes_and_template_from_path() -> None:
    assert run("States.Format('Name: \\'{}\\', \\{\\} \\\\', 'G')") == "Name: 'G', {} \\"
    assert run("States.Format($.t, $.n)", {"t": "Hello {}", "n": "Ada"}) == "Hello Ada"
    assert run("States.Format('no placeholders')") == "no placeholders"


@pytest.mark.parametrize(
    "expr",
    [
        "States.Format('{} {}', 'x')",
        "States.Format('{}', 'x', 'y')",
        "States.Format('Hello {', 'x')",
        "States.Format('Hello {{}}', 'x')",
        "States.Format('}')",
        "States.Format($.t, 'x')",
    ],
)
def test_format_invalid_arguments(expr: str) -> None:
    with pytest.raises(WorkflowFailure) as info:
        run(expr, {"t": 123})
    assert info.value.error == "States.Runtime"
    assert info.value.cause == "Invalid arguments in States.Format"


# --- JSON functions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        (" ", None),
        ("null", None),
        ("-0", 0),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
    ],
)
def test_string_to_json(text: str, value: object) -> None:
    assert run("States.StringToJson($.s)", {"s": text}) == value


def test_string_to_json_rejects_bad_json() -> None:
    with pytest.raises(
        WorkflowFailure, match=re.escape("Invalid arguments in States.StringToJson")
    ):
        run("States.StringToJson('{nope')")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (1.1, "1.1"),
        (True, "true"),
        ("HelloWorld", '"HelloWorld"'),
        ([1, 2, "HelloWorld"], '[1,2,"HelloWorld"]'),
        ({"Arg1": 1, "Arg2": []}, '{"Arg1":1,"Arg2":[]}'),
    ],
)
def test_json_to_string_is_compact(value: object, text: str) -> None:
    assert run("States.JsonToString($.v)", {"v": value}) == text


def test_json_merge_is_shallow() -> None:
    data = {
        "fst": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3},
        "snd": {"a": {"a3": 1}, "c": 3, "d": 4},
    }
    merged = run("States.JsonMerge($.fst, $.snd, false)", data)
    assert merged == {"a": {"a3": 1}, "b": 2, "c": 3, "d": 4}
    assert data["fst"] == {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}
    nested = 'States.JsonMerge(States.StringToJson(\'{"k": "false"}\'), $.snd, false)'
    assert run(nested, data) == {"k": "false", "a": {"a3": 1}, "c": 3, "d": 4}


@pytest.mark.parametrize(
    "expr",
    [
        "States.JsonMerge($.o, $.o, true)",
        "States.JsonMerge($.o, 1, false)",
        "States.JsonMerge($.o, $.o, 'x')",
    ],
)
def test_json_merge_invalid(expr: str) -> None:
    with pytest.raises(WorkflowFailure, match=re.escape("Invalid arguments in States.JsonMerge")):
        run(expr, {"o": {"a": 1}})


# --- arrays -----------------------------------------------------------------------------------


def test_array_builds_from_any_values() -> None:
    assert run("States.Array()") == []
    assert run("States.Array('a', 1, 1.5, true, null, $.o)", {"o": {"k": []}}) == [
        "a",
        1,
        1.5,
        True,
        None,
        {"k": []},
    ]


@pytest.mark.parametrize(
    ("array", "size", "expected"),
    [
        ([], 1, []),
        ([0], 5, [[0]]),
        ([0, 1, 2], 2, [[0, 1], [2]]),
        ([0, 1, 2, 3], 3, [[0, 1, 2], [3]]),
        ([1, 2, 3, 4, 5], 2.6, [[1, 2], [3, 4], [5]]),  # AWS truncates
    ],
)
def test_array_partition(array: list[int], size: float, expected: list[list[int]]) -> None:
    assert run("States.ArrayPartition($.a, $.n)", {"a": array, "n": size}) == expected


@pytest.mark.parametrize("size", [0, -1, 0.49, "2", None])
def test_array_partition_invalid_size(size: object) -> None:
    with pytest.raises(
        WorkflowFailure, match=re.escape("Invalid arguments in States.ArrayPartition")
    ):
        run("States.ArrayPartition($.a, $.n)", {"a": [1, 2], "n": size})


@pytest.mark.parametrize(
    ("array", "needle", "expected"),
    [
        ([], None, False),
        ([[1, 2, 3], 2], None, False),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([{"1": 2, "2": []}], [], False),
        ([{"1": 2, "2": []}], {"1": 2, "2": []}, True),
        ([True, False], False, True),
        ([0, 1], False, False),
        ([1], True, False),
    ],
)
def test_array_contains(array: list[object], needle: object, expected: bool) -> None:
    assert run("States.ArrayContains($.a, $.v)", {"a": array, "v": needle}) is expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("States.ArrayRange(0, 9, 3)", [0, 3, 6, 9]),
        ("States.ArrayRange(0, 10, 3)", [0, 3, 6, 9]),
        ("States.ArrayRange(1, 9, 9)", [1]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayRange(3, 3, -1)", [3]),
        ("States.ArrayRange(5, 1, 1)", []),
        ("States.ArrayRange(1.4, 5.6, 2.2)", [1, 3, 5]),
        ("States.ArrayRange(5.4, -0.6, -2.4)", [5, 3, 1]),
    ],
)
def test_array_range(expr: str, expected: list[int]) -> None:
    assert run(expr) == expected


def test_array_range_limits() -> None:
    assert len(run("States.ArrayRange(1, 1000, 1)")) == 1000  # type: ignore[arg-type]
    assert len(run("States.ArrayRange(1000, 1, -1)")) == 1000  # type: ignore[arg-type]
    for expr in [
        "States.ArrayRange(1, 1001, 1)",
        "States.ArrayRange(1001, 1, -1)",
        "States.ArrayRange(1, 10, 0)",
        "States.ArrayRange(1, 10, 0.49)",
        "States.ArrayRange('a', 5, 1)",
    ]:
        with pytest.raises(
            WorkflowFailure, match=re.escape("Invalid arguments in States.ArrayRange")
        ):
            run(expr)


def test_array_get_item_and_length() -> None:
    data = {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}
    assert run("States.ArrayGetItem($.a, $.i)", data) == 6
    assert run("States.ArrayGetItem($.a, 1.2)", data) == 2
    assert run("States.ArrayGetItem($.e, 999)", {"e": []}) is None
    assert run("States.ArrayLength($.a)", data) == 9
    for expr in [
        "States.ArrayGetItem($.a, 9)",
        "States.ArrayGetItem($.a, -1)",
        "States.ArrayGetItem($.a, '1')",
        "States.ArrayGetItem('x', 0)",
    ]:
        with pytest.raises(
            WorkflowFailure, match=re.escape("Invalid arguments in States.ArrayGetItem")
        ):
            run(expr, data)
    with pytest.raises(WorkflowFailure, match=re.escape("Invalid arguments in States.ArrayLength")):
        run("States.ArrayLength('abc')")


def test_array_unique_keeps_first_occurrences() -> None:
    values = [
        None,
        None,
        True,
        True,
        1,
        1,
        1.0,
        0,
        "a",
        "a",
        [],
        [],
        {"a": 1, "b": 2},
        {"b": 2, "a": 1},
    ]
    assert run("States.ArrayUnique($.v)", {"v": values}) == [
        None,
        True,
        1,
        0,
        "a",
        [],
        {"a": 1, "b": 2},
    ]


# --- encoding, hashing ------------------------------------------------------------------------


def test_base64() -> None:
    assert run("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Encode('')") == ""
    assert run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode"
    assert run("States.Base64Decode('4pyT')") == "✓"
    assert run("States.Base64Decode(' YWJjZA== ')") == "abcd"  # AWS tolerates spaces
    with pytest.raises(
        WorkflowFailure, match=re.escape("Invalid arguments in States.Base64Encode")
    ):
        run("States.Base64Encode($.s)", {"s": "a" * 10_001})
    with pytest.raises(
        WorkflowFailure, match=re.escape("Invalid arguments in States.Base64Decode")
    ):
        run("States.Base64Decode(123)")


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ],
)
def test_hash(algorithm: str, digest: str) -> None:
    assert run("States.Hash($.d, $.a)", {"d": "input data", "a": algorithm}) == digest


def test_hash_limits_and_algorithms() -> None:
    assert len(run("States.Hash($.s, 'SHA-512')", {"s": "a" * 10_000})) == 128  # type: ignore[arg-type]
    for expr in [
        "States.Hash($.s, 'SHA-256')",
        "States.Hash('x', 'sha-256')",
        "States.Hash('x', 1)",
    ]:
        with pytest.raises(WorkflowFailure, match=re.escape("Invalid arguments in States.Hash")):
            run(expr, {"s": "a" * 10_001})


# --- math, strings, uuid ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [
        (-9, 3, -6),
        (1.49, 1.5, 3),
        (1.5, 1.51, 4),
        (-1.49, -1.5, -2),
        (-1.5, -1.51, -3),
        (1.49, -1.49, 0),
        (-0.5, 0.5, 1),
        (-0.5, 0, 0),
        (2.5, 0, 3),
        (-2.5, 0, -2),
    ],
)
def test_math_add_rounds_each_operand_half_up(a: float, b: float, total: int) -> None:
    result = run("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == total and isinstance(result, int)


def test_math_add_invalid() -> None:
    with pytest.raises(WorkflowFailure, match=re.escape("Invalid arguments in States.MathAdd")):
        run("States.MathAdd($.a, 1)", {"a": "NOT A NUMBER"})
    with pytest.raises(WorkflowFailure):
        run("States.MathAdd(true, 1)")


def test_math_random_range_and_seed() -> None:
    rng = random.Random(7)
    values = {run("States.MathRandom(1.6, 5.4)", rng=rng) for _ in range(200)}
    assert values == {1, 2, 3, 4}  # truncated bounds, end exclusive
    first = run("States.MathRandom(1, 100, 42)")
    assert first == run("States.MathRandom(1, 100, 42)")
    for expr in [
        "States.MathRandom(1, 1)",
        "States.MathRandom(10, 5)",
        "States.MathRandom(1, 10, null)",
    ]:
        with pytest.raises(
            WorkflowFailure, match=re.escape("Invalid arguments in States.MathRandom")
        ):
            run(expr)


@pytest.mark.parametrize(
    ("text", "separators", "parts"),
    [
        (" ", ",", [" "]),
        (", , ,", ",", [" ", " "]),
        (",,,,", ",", []),
        ("This.is+a,test=string", ".+,=", ["This", "is", "a", "test", "string"]),
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
    ],
)
def test_string_split_on_any_separator_character(
    text: str, separators: str, parts: list[str]
) -> None:
    assert run("States.StringSplit($.t, $.s)", {"t": text, "s": separators}) == parts


def test_uuid_is_v4_and_uses_rng() -> None:
    value = run("States.UUID()")
    assert isinstance(value, str) and uuid.UUID(value).version == 4
    assert run("States.UUID()", rng=random.Random(1)) == run("States.UUID()", rng=random.Random(1))


# --- nesting and paths ------------------------------------------------------------------------


def test_nested_calls_with_context_and_variables() -> None:
    context = {"StateMachine": {"Name": "alpha-beta-gamma"}}
    expr = (
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
        "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))"
    )
    assert run(expr, context=context) == "gamma"
    variables = {"y": 9, "x": 44, "z": 6, "bias": 4.3}
    summed = "States.MathAdd(States.MathAdd(States.MathAdd($y, $x), $z), $bias)"
    assert run(summed, variables=variables) == 63


def test_missing_path_argument_raises_path_not_found() -> None:
    with pytest.raises(PathNotFoundError) as info:
        run("States.Hash($.missing, 'SHA-256')")
    assert info.value.path == "$.missing"


def test_evaluate_accepts_a_parsed_call() -> None:
    call = parse_intrinsic("States.ArrayLength($.a)")
    assert evaluate_intrinsic(call, {"a": [1, 2]}) == 2
