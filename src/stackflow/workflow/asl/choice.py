"""Choice rules in JSONPath mode, evaluated exactly as AWS Step Functions does.

A rule is either a boolean combination (``And``, ``Or``, ``Not``) or a comparison of the value at
``Variable`` with a literal operand (``StringEquals``) or with the value at a path operand
(``StringEqualsPath``). The rules AWS applies, confirmed by the recorded conformance cases:

* A type mismatch is not an error, the comparison is simply false: ``NumericEquals`` on the string
  ``"42"`` is false, booleans are not numbers (``true`` is not ``1``), ``BooleanEquals`` on ``0``
  is false, ``Timestamp*`` on a string that is not a valid timestamp is false.
* Numbers compare by value, so ``1`` equals ``1.0`` and ``0`` equals ``-0.0``.
* ``IsPresent`` tests whether ``Variable`` matches anything. For every other operator a
  ``Variable`` (or path operand) that matches nothing fails the state with ``States.Runtime``:
  ``Invalid path '$.x': The choice state's condition path references an invalid value.``
* ``Is*`` operators take a boolean: ``"IsString": false`` is true for every non-string value.
* Strings order as Java's ``String.compareTo`` does (UTF-16 code units), which is what AWS uses.
* ``StringMatches`` matches the whole string; ``*`` matches any run of characters (newlines too),
  ``\\*`` is a literal asterisk and ``\\\\`` a literal backslash.
* ``And`` and ``Or`` stop at the first rule that decides the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from stackflow.errors import STATES_RUNTIME, PathNotFoundError, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.asl.jsonpath import evaluate_path
from stackflow.workflow.asl.timestamps import parse_timestamp_ns

__all__ = ["COMPARISON_OPERATORS", "choose_next", "evaluate_rule", "match_choice"]

_Compare = Callable[[JSON, JSON], bool]


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utf16_less(left: str, right: str) -> bool:
    """Order strings by UTF-16 code units (Java's ``String.compareTo``)."""
    if left.isascii() and right.isascii():
        return left < right
    return left.encode("utf-16-be", "surrogatepass") < right.encode("utf-16-be", "surrogatepass")


def _string_op(test: Callable[[str, str], bool]) -> _Compare:
    def compare(value: JSON, operand: JSON) -> bool:
        return isinstance(value, str) and isinstance(operand, str) and test(value, operand)

    return compare


def _numeric_op(test: Callable[[float, float], bool]) -> _Compare:
    def compare(value: JSON, operand: JSON) -> bool:
        return _is_number(value) and _is_number(operand) and test(value, operand)

    return compare


def _timestamp_op(test: Callable[[int, int], bool]) -> _Compare:
    def compare(value: JSON, operand: JSON) -> bool:
        left = parse_timestamp_ns(value)
        if left is None:
            return False
        right = parse_timestamp_ns(operand)
        return right is not None and test(left, right)

    return compare


@lru_cache(maxsize=1024)
def _wildcard_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a ``StringMatches`` pattern into an anchored regular expression."""
    parts: list[str] = []
    literal: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            literal.append(pattern[index + 1])
            index += 2
            continue
        if char == "*":
            parts.append(re.escape("".join(literal)))
            literal.clear()
            parts.append(".*")
        else:
            literal.append(char)
        index += 1
    parts.append(re.escape("".join(literal)))
    return re.compile("".join(parts), re.DOTALL)


def _string_matches(value: JSON, operand: JSON) -> bool:
    if not isinstance(value, str) or not isinstance(operand, str):
        return False
    return _wildcard_pattern(operand).fullmatch(value) is not None


def _boolean_equals(value: JSON, operand: JSON) -> bool:
    return isinstance(value, bool) and isinstance(operand, bool) and value is operand


def _type_test(test: Callable[[JSON], bool]) -> _Compare:
    def compare(value: JSON, operand: JSON) -> bool:
        return test(value) is (operand is True)

    return compare


_BASE_OPERATORS: dict[str, _Compare] = {
    "StringEquals": _string_op(lambda a, b: a == b),
    "StringLessThan": _string_op(_utf16_less),
    "StringGreaterThan": _string_op(lambda a, b: _utf16_less(b, a)),
    "StringLessThanEquals": _string_op(lambda a, b: a == b or _utf16_less(a, b)),
    "StringGreaterThanEquals": _string_op(lambda a, b: a == b or _utf16_less(b, a)),
    "NumericEquals": _numeric_op(lambda a, b: a == b),
    "NumericLessThan": _numeric_op(lambda a, b: a < b),
    "NumericGreaterThan": _numeric_op(lambda a, b: a > b),
    "NumericLessThanEquals": _numeric_op(lambda a, b: a <= b),
    "NumericGreaterThanEquals": _numeric_op(lambda a, b: a >= b),
    "BooleanEquals": _boolean_equals,
    "TimestampEquals": _timestamp_op(lambda a, b: a == b),
    "TimestampLessThan": _timestamp_op(lambda a, b: a < b),
    "TimestampGreaterThan": _timestamp_op(lambda a, b: a > b),
    "TimestampLessThanEquals": _timestamp_op(lambda a, b: a <= b),
    "TimestampGreaterThanEquals": _timestamp_op(lambda a, b: a >= b),
}

_TYPE_TESTS: dict[str, _Compare] = {
    "IsNull": _type_test(lambda v: v is None),
    "IsNumeric": _type_test(_is_number),
    "IsString": _type_test(lambda v: isinstance(v, str)),
    "IsBoolean": _type_test(lambda v: isinstance(v, bool)),
    "IsTimestamp": _type_test(lambda v: parse_timestamp_ns(v) is not None),
}

#: Operator name -> (comparison, whether the operand is a path to evaluate).
_OPERATORS: dict[str, tuple[_Compare, bool]] = {
    **{name: (compare, False) for name, compare in _BASE_OPERATORS.items()},
    **{name + "Path": (compare, True) for name, compare in _BASE_OPERATORS.items()},
    "StringMatches": (_string_matches, False),
    **{name: (compare, False) for name, compare in _TYPE_TESTS.items()},
}

_IS_PRESENT = "IsPresent"

#: Every comparison operator a rule with ``Variable`` may use.
COMPARISON_OPERATORS: frozenset[str] = frozenset({*_OPERATORS, _IS_PRESENT})


def _invalid_path(path: object) -> WorkflowFailure:
    return WorkflowFailure(
        STATES_RUNTIME,
        f"Invalid path '{path}': The choice state's condition path references an invalid value.",
    )


def _resolve(path: JSON, data: JSON, context: JSON, variables: Mapping[str, JSON] | None) -> JSON:
    if not isinstance(path, str):
        raise _invalid_path(path)
    try:
        return evaluate_path(path, data, context=context, variables=variables)
    except PathNotFoundError:
        raise _invalid_path(path) from None


def _evaluate(
    rule: Mapping[str, JSON], data: JSON, context: JSON, variables: Mapping[str, JSON] | None
) -> bool:
    if "And" in rule:
        return all(_evaluate(sub, data, context, variables) for sub in rule["And"])
    if "Or" in rule:
        return any(_evaluate(sub, data, context, variables) for sub in rule["Or"])
    if "Not" in rule:
        return not _evaluate(rule["Not"], data, context, variables)
    variable = rule.get("Variable")
    for key, operand in rule.items():
        if key == _IS_PRESENT:
            if not isinstance(variable, str):
                raise _invalid_path(variable)
            try:
                evaluate_path(variable, data, context=context, variables=variables)
            except PathNotFoundError:
                return operand is False
            return operand is True
        entry = _OPERATORS.get(key)
        if entry is None:
            continue
        compare, operand_is_path = entry
        value = _resolve(variable, data, context, variables)
        if operand_is_path:
            operand = _resolve(operand, data, context, variables)
        return compare(value, operand)
    raise WorkflowFailure(
        STATES_RUNTIME,
        "A choice rule must have And, Or, Not or a Variable with one comparison operator, "
        f"got the fields {sorted(rule)}.",
    )


def evaluate_rule(
    rule: Mapping[str, JSON],
    data: JSON,
    *,
    context: JSON = None,
    variables: Mapping[str, JSON] | None = None,
) -> bool:
    """Evaluate one JSONPath-mode Choice rule.

    Args:
        rule: A top-level rule (its ``Next``, ``Assign``, ``Output`` and ``Comment`` are ignored)
            or a nested one: ``And``/``Or``/``Not``, or ``Variable`` with one comparison operator.
        data: The state's effective input (after ``InputPath``), what ``$`` refers to.
        context: The context object, what ``$$`` refers to.
        variables: The workflow variables visible to the state, what ``$name`` refers to.

    Returns:
        Whether the rule holds. A type mismatch makes a comparison false, never an error.

    Raises:
        WorkflowFailure: ``States.Runtime`` when ``Variable`` or a path operand matches nothing
            (except for ``IsPresent``), or when the rule has no operator.
    """
    return _evaluate(rule, data, context, variables)


def match_choice(
    choices: Sequence[Mapping[str, JSON]],
    data: JSON,
    *,
    context: JSON = None,
    variables: Mapping[str, JSON] | None = None,
) -> Mapping[str, JSON] | None:
    """Find the first top-level rule that holds (so its ``Assign``/``Output`` can be applied).

    Args:
        choices: The Choice state's ``Choices``, in order.
        data: The state's effective input, what ``$`` refers to.
        context: The context object, what ``$$`` refers to.
        variables: The workflow variables visible to the state.

    Returns:
        The first matching rule, or None when none matches.

    Raises:
        WorkflowFailure: ``States.Runtime`` as :func:`evaluate_rule` raises it.
    """
    for choice in choices:
        if _evaluate(choice, data, context, variables):
            return choice
    return None


def choose_next(
    choices: Sequence[Mapping[str, JSON]],
    default: str | None,
    data: JSON,
    *,
    context: JSON = None,
    variables: Mapping[str, JSON] | None = None,
) -> str | None:
    """Pick the state a Choice state moves to.

    Args:
        choices: The Choice state's ``Choices``, in order.
        default: The Choice state's ``Default``, or None when it has none.
        data: The state's effective input, what ``$`` refers to.
        context: The context object, what ``$$`` refers to.
        variables: The workflow variables visible to the state.

    Returns:
        The ``Next`` of the first matching rule, else ``default``. None means no rule matched and
        there is no default: the caller fails the execution with ``States.NoChoiceMatched``.

    Raises:
        WorkflowFailure: ``States.Runtime`` as :func:`evaluate_rule` raises it.
    """
    matched = match_choice(choices, data, context=context, variables=variables)
    if matched is None:
        return default
    target = matched.get("Next")
    return target if isinstance(target, str) else default
