"""Validation of Choice state rules (JSONPath comparison rules and JSONata conditions)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from stackflow.workflow.asl.validate_context import (
    JSONATA,
    Checker,
    check_target,
    child,
    did_you_mean,
    is_number,
    jsonata_body,
    show,
    type_name,
)
from stackflow.workflow.asl.validate_values import (
    check_assign,
    check_jsonata_strings,
    check_path,
)

_STRING_OPS = (
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
)
_NUMERIC_OPS = (
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
)
_TIMESTAMP_OPS = (
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)
_TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")

#: Comparison operator -> expected operand kind.
OPERATORS: dict[str, str] = {
    **{op: "string" for op in _STRING_OPS},
    "StringMatches": "string",
    **{op: "number" for op in _NUMERIC_OPS},
    "BooleanEquals": "boolean",
    **{op: "timestamp" for op in _TIMESTAMP_OPS},
    **{op: "boolean" for op in _TYPE_TESTS},
    **{op + "Path": "path" for op in (*_STRING_OPS, *_NUMERIC_OPS, *_TIMESTAMP_OPS)},
    "BooleanEqualsPath": "path",
}
_COMBINATORS = ("And", "Or", "Not")
_JSONATA_RULE_FIELDS = ("Condition", "Next", "Comment", "Assign", "Output")


def _timestamp_ok(value: str) -> bool:
    try:
        from stackflow.workflow.asl.timestamps import parse_timestamp
    except ImportError:
        return True
    return parse_timestamp(value) is not None


def _check_operand(ck: Checker, op: str, operand: Any, pointer: str, subject: str) -> None:
    kind = OPERATORS[op]
    if kind == "path":
        check_path(ck, operand, pointer, f'{subject} "{op}"', reference_only=False)
    elif kind == "number":
        if not is_number(operand):
            ck.add(pointer, f'{subject} "{op}" needs a number, not {type_name(operand)}.')
    elif kind == "boolean":
        if not isinstance(operand, bool):
            ck.add(pointer, f'{subject} "{op}" needs true or false, not {type_name(operand)}.')
    elif not isinstance(operand, str):
        ck.add(pointer, f'{subject} "{op}" needs a string, not {type_name(operand)}.')
    elif kind == "timestamp" and not _timestamp_ok(operand):
        ck.add(
            pointer,
            f'{subject} "{op}" needs a timestamp such as "2016-03-14T01:59:00Z", '
            f"not {show(operand)}.",
        )


def _check_rule(
    ck: Checker, rule: Any, pointer: str, subject: str, top: bool, names: Collection[str]
) -> None:
    if not isinstance(rule, dict):
        ck.add(pointer, f"{subject} must be an object, not {type_name(rule)}.")
        return
    allowed = {"Variable", "Comment", *OPERATORS, *_COMBINATORS}
    if top:
        allowed |= {"Next", "Assign"}
    for key in rule:
        if key in allowed:
            continue
        if key in ("Next", "Assign"):
            message = f'{subject} has "{key}", which is only allowed in a top-level choice rule.'
        elif key == "Condition":
            message = (
                f'{subject} has "Condition", which is only supported when QueryLanguage is '
                '"JSONata"; in JSONPath use "Variable" with a comparison operator.'
            )
        else:
            message = f'{subject} has an unknown field "{key}".' + did_you_mean(key, allowed)
        ck.add(child(pointer, key), message)
    operators = [key for key in rule if key in OPERATORS or key in _COMBINATORS]
    if not operators:
        ck.add(
            pointer,
            f"{subject} has no comparison operator; expected exactly one of a comparison "
            '(such as "StringEquals" or "NumericGreaterThan"), "And", "Or" or "Not".',
        )
    elif len(operators) > 1:
        listed = ", ".join(f'"{op}"' for op in operators)
        ck.add(
            pointer,
            f"{subject} has more than one comparison operator ({listed}); "
            'expected exactly one (combine rules with "And" or "Or").',
        )
    for op in operators:
        op_pointer = child(pointer, op)
        value = rule[op]
        if op in ("And", "Or"):
            if not isinstance(value, list) or not value:
                ck.add(op_pointer, f'{subject} "{op}" must be a non-empty array of rules.')
                continue
            for index, sub in enumerate(value):
                _check_rule(
                    ck, sub, child(op_pointer, index), f"{subject}.{op}[{index}]", False, names
                )
        elif op == "Not":
            _check_rule(ck, value, op_pointer, f"{subject}.Not", False, names)
        else:
            _check_operand(ck, op, value, op_pointer, subject)
            if "Variable" not in rule:
                ck.add(
                    pointer,
                    f'{subject} uses "{op}" but has no "Variable"; expected the JSONPath of '
                    "the value to compare.",
                )
    if "Variable" in rule:
        check_path(
            ck,
            rule["Variable"],
            child(pointer, "Variable"),
            f'{subject} "Variable"',
            reference_only=False,
        )
    if top:
        _check_next(ck, rule, pointer, subject, names)
        if "Assign" in rule:
            check_assign(ck, rule["Assign"], child(pointer, "Assign"), subject, "JSONPath")


def _check_next(
    ck: Checker, rule: dict[str, Any], pointer: str, subject: str, names: Collection[str]
) -> None:
    if "Next" not in rule:
        ck.add(
            pointer,
            f'{subject} has no "Next"; every top-level choice rule must name the state to go to.',
        )
    else:
        check_target(ck, rule["Next"], child(pointer, "Next"), subject, "Next", names)


def _check_jsonata_rule(
    ck: Checker, rule: Any, pointer: str, subject: str, names: Collection[str]
) -> None:
    if not isinstance(rule, dict):
        ck.add(pointer, f"{subject} must be an object, not {type_name(rule)}.")
        return
    for key in rule:
        if key in _JSONATA_RULE_FIELDS:
            continue
        if key in OPERATORS or key in _COMBINATORS or key == "Variable":
            message = (
                f'{subject} has "{key}", which is not supported when QueryLanguage is '
                '"JSONata"; write the test as a "Condition" such as "{% $states.input.x > 1 %}".'
            )
        else:
            message = f'{subject} has an unknown field "{key}".' + did_you_mean(
                key, _JSONATA_RULE_FIELDS
            )
        ck.add(child(pointer, key), message)
    if "Condition" not in rule:
        ck.add(
            pointer, f'{subject} has no "Condition"; expected a JSONata expression "{{% ... %}}".'
        )
    else:
        condition = rule["Condition"]
        cond_pointer = child(pointer, "Condition")
        if isinstance(condition, bool):
            pass
        elif jsonata_body(condition) is None:
            ck.add(
                cond_pointer,
                f'{subject} "Condition" must be a JSONata expression "{{% ... %}}" or a boolean, '
                f"not {show(condition)}.",
            )
        else:
            check_jsonata_strings(ck, condition, cond_pointer, f'{subject} "Condition"')
    _check_next(ck, rule, pointer, subject, names)
    if "Output" in rule:
        check_jsonata_strings(ck, rule["Output"], child(pointer, "Output"), f'{subject} "Output"')
    if "Assign" in rule:
        check_assign(ck, rule["Assign"], child(pointer, "Assign"), subject, JSONATA)


def check_choices(
    ck: Checker,
    state_name: str,
    state: dict[str, Any],
    pointer: str,
    language: str,
    names: Collection[str],
) -> None:
    """Check the ``Choices`` and ``Default`` of a Choice state.

    Args:
        ck: Where problems go.
        state_name: The state's name.
        state: The Choice state.
        pointer: The state's pointer.
        language: The state's query language.
        names: State names of the enclosing state machine.
    """
    subject = f'State "{state_name}"'
    if "Default" in state:
        check_target(ck, state["Default"], child(pointer, "Default"), subject, "Default", names)
    if "Choices" not in state:
        ck.add(
            pointer,
            f'{subject} (Choice) is missing the required field "Choices": a non-empty array '
            "of rules.",
        )
        return
    choices = state["Choices"]
    choices_pointer = child(pointer, "Choices")
    if not isinstance(choices, list) or not choices:
        ck.add(
            choices_pointer,
            f'{subject} "Choices" must be a non-empty array of rules, not {show(choices)}.',
        )
        return
    for index, rule in enumerate(choices):
        rule_pointer = child(choices_pointer, index)
        rule_subject = f'State "{state_name}" Choices[{index}]'
        if language == JSONATA:
            _check_jsonata_rule(ck, rule, rule_pointer, rule_subject, names)
        else:
            _check_rule(ck, rule, rule_pointer, rule_subject, True, names)
