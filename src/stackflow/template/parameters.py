"""Template parameters: declarations, values and their constraints (AWS's rules).

Values of ``NoEcho`` parameters never appear in error messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from stackflow.sourcemap import join_pointer
from stackflow.template.model import PSEUDO_PARAMETERS, ParameterValue, Problems
from stackflow.template.sub import IntrinsicError, to_text

_SIMPLE_TYPES = {"String", "Number", "List<Number>", "CommaDelimitedList", "List<String>"}
_KEYS = {
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "MinLength",
    "MaxLength",
    "MinValue",
    "MaxValue",
    "NoEcho",
    "Description",
    "ConstraintDescription",
}
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")


def is_list_type(type_name: str) -> bool:
    """Tell whether parameters of this type are lists.

    Args:
        type_name: A parameter type.

    Returns:
        True for CommaDelimitedList and ``List<...>`` types.
    """
    return (
        type_name == "CommaDelimitedList"
        or type_name.startswith("List<")
        or (type_name.startswith("AWS::SSM::Parameter::Value<List<"))
        or type_name == "AWS::SSM::Parameter::Value<CommaDelimitedList>"
    )


def _known_type(type_name: str) -> bool:
    if type_name in _SIMPLE_TYPES:
        return True
    if type_name.startswith("AWS::SSM::Parameter::") or type_name.startswith("AWS::"):
        return True
    return type_name.startswith("List<AWS::") and type_name.endswith(">")


def _as_text(value: Any) -> str | None:
    if isinstance(value, list):
        try:
            return ",".join(to_text(v) for v in value)
        except IntrinsicError:
            return None
    try:
        return to_text(value)
    except IntrinsicError:
        return None


def _number(value: Any) -> float | None:
    text = _as_text(value)
    if text is None or not _NUMBER.fullmatch(text):
        return None
    return float(text)


def is_no_echo(declaration: Mapping[str, Any]) -> bool:
    """Tell whether a parameter declaration has ``NoEcho`` set.

    Args:
        declaration: The parameter's declaration.

    Returns:
        True for ``NoEcho: true`` (boolean or string).
    """
    flag = declaration.get("NoEcho")
    return flag is True or (isinstance(flag, str) and flag.lower() == "true")


def resolve_parameters(
    declarations: Any,
    given: Mapping[str, str] | None,
    problems: Problems,
) -> dict[str, ParameterValue]:
    """Check parameter declarations and compute each parameter's value.

    Args:
        declarations: The ``Parameters`` section (None when absent).
        given: Values supplied by the user, as strings.
        problems: Where problems are recorded.

    Returns:
        The value of every valid parameter by name.
    """
    result: dict[str, ParameterValue] = {}
    given = dict(given or {})
    if declarations is None:
        declarations = {}
    if not isinstance(declarations, dict):
        problems.add("/Parameters", "Parameters must be an object of parameter declarations.")
        return result
    for name in given:
        if name not in declarations:
            problems.add("/Parameters", f"Parameters: [{name}] do not exist in the template.")
    for name, declaration in declarations.items():
        pointer = join_pointer("/Parameters", name)
        value = _one_parameter(name, declaration, given.get(name), pointer, problems)
        if value is not None:
            result[name] = value
    return result


def _one_parameter(
    name: str, declaration: Any, supplied: str | None, pointer: str, problems: Problems
) -> ParameterValue | None:
    if name in PSEUDO_PARAMETERS or name.startswith("AWS::"):
        problems.add(pointer, f"Parameter name {name!r} is reserved for a pseudo parameter.")
        return None
    if not re.fullmatch(r"[A-Za-z0-9]+", name):
        problems.add(pointer, f"Parameter name {name!r} must be alphanumeric.")
    if not isinstance(declaration, dict):
        problems.add(pointer, "A parameter declaration must be an object with a Type.")
        return None
    for key in declaration:
        if key not in _KEYS:
            problems.add(
                join_pointer(pointer, key),
                f"Unknown parameter attribute {key!r}; expected one of {', '.join(sorted(_KEYS))}.",
            )
    type_name = declaration.get("Type")
    if not isinstance(type_name, str) or not _known_type(type_name):
        problems.add(
            join_pointer(pointer, "Type"),
            f"Invalid parameter type {type_name!r}; "
            "expected String, Number, List<Number>, CommaDelimitedList or an "
            "AWS-specific type.",
        )
        return None
    no_echo = is_no_echo(declaration)
    raw: Any = supplied if supplied is not None else declaration.get("Default")
    if raw is None:
        problems.add(
            pointer,
            f"Parameters: [{name}] must have values (no value was given and there is no Default).",
        )
        return None
    text = _as_text(raw)
    if text is None:
        problems.add(pointer, f"Parameter {name!r} must be a string value.")
        return None
    value: Any = text
    members = [text]
    if is_list_type(type_name):
        members = [m.strip() for m in text.split(",")] if text != "" else []
        value = members
    check = _Checker(name, declaration, no_echo, pointer, problems)
    if type_name in ("Number", "List<Number>"):
        for member in members:
            if _number(member) is None:
                check.fail(f"must be a number{'' if type_name == 'Number' else ' in every member'}")
                return None
    for member in members:
        if not check.member(member, type_name):
            return None
    return ParameterValue(name, type_name, value, no_echo)


class _Checker:
    def __init__(
        self,
        name: str,
        declaration: dict[str, Any],
        no_echo: bool,
        pointer: str,
        problems: Problems,
    ) -> None:
        self.name = name
        self.declaration = declaration
        self.no_echo = no_echo
        self.pointer = pointer
        self.problems = problems

    def fail(self, what: str, value: str | None = None) -> None:
        shown = "" if self.no_echo or value is None else f" (got {value!r})"
        reason = self.declaration.get("ConstraintDescription")
        message = f"Parameter {self.name!r} {what}{shown}."
        if isinstance(reason, str) and reason.strip():
            # As on AWS the description takes the place of the rule; the rule stays in brackets.
            message = f"Parameter {self.name!r} {reason.strip().rstrip('.')} ({what}{shown})."
        self.problems.add(self.pointer, message, "PARAMETER_VALUE_INVALID")

    def member(self, value: str, type_name: str) -> bool:
        decl = self.declaration
        allowed = decl.get("AllowedValues")
        if isinstance(allowed, list):
            texts = [_as_text(a) for a in allowed]
            if value not in texts:
                self.fail(f"must be one of {texts}", value)
                return False
        pattern = decl.get("AllowedPattern")
        if isinstance(pattern, str):
            try:
                ok = re.fullmatch(pattern, value) is not None
            except re.error:
                self.problems.add(
                    join_pointer(self.pointer, "AllowedPattern"),
                    f"AllowedPattern is not a valid regular expression: {pattern}",
                )
                return False
            if not ok:
                self.fail(f"must match pattern {pattern}", value)
                return False
        for key, test in (
            ("MinLength", lambda n: len(value) >= n),
            ("MaxLength", lambda n: len(value) <= n),
        ):
            if not self._bound(key, test, value, "length"):
                return False
        if type_name in ("Number", "List<Number>"):
            number = _number(value)
            assert number is not None
            for key, test in (
                ("MinValue", lambda n: number >= n),
                ("MaxValue", lambda n: number <= n),
            ):
                if not self._bound(key, test, value, "value"):
                    return False
        return True

    def _bound(self, key: str, test: Callable[[float], bool], value: str, what: str) -> bool:
        limit = self.declaration.get(key)
        if limit is None:
            return True
        number = _number(limit)
        if number is None:
            self.problems.add(join_pointer(self.pointer, key), f"{key} must be a number.")
            return False
        if not test(number):
            word = "at least" if key.startswith("Min") else "at most"
            shown = int(number) if number.is_integer() else number
            self.fail(f"{what} must be {word} {shown}", value)
            return False
        return True
