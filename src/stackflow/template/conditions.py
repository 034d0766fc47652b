"""Conditions, Mappings and Rules sections: checking and evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackflow.sourcemap import join_pointer
from stackflow.template.intrinsics import CONDITION_FUNCTIONS, Evaluator, Residual, is_opaque
from stackflow.template.model import template_error
from stackflow.template.sub import IntrinsicError, to_text


class ConditionTable:
    """The named conditions of a template, evaluated lazily with cycle detection."""

    def __init__(self, section: Any, evaluator: Evaluator, locate: Callable[[str], Any]) -> None:
        """Prepare the table.

        Args:
            section: The ``Conditions`` section (None when absent).
            evaluator: Evaluates condition bodies.
            locate: Maps a JSON pointer to a SourceLocation.

        Raises:
            TemplateError: If the section is not an object.
        """
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise template_error(locate, "/Conditions", "Conditions must be an object.")
        self.section: dict[str, Any] = section
        self.evaluator = evaluator
        self.locate = locate
        self.values: dict[str, bool | None] = {}
        self.active: list[str] = []

    def value(self, name: str, pointer: str) -> bool | None:
        """Return the value of condition ``name``.

        Args:
            name: The condition's name.
            pointer: Where it is referenced (for errors).

        Returns:
            True or False; None when it cannot be known yet (partial evaluation).

        Raises:
            TemplateError: If the condition is not defined, is circular or is malformed.
        """
        if name in self.values:
            return self.values[name]
        if name not in self.section:
            raise template_error(
                self.locate,
                pointer,
                f"Template format error: Unresolved "
                f"dependencies [{name}]: the condition {name!r} is not defined "
                "in Conditions.",
            )
        if name in self.active:
            cycle = [*self.active[self.active.index(name) :], name]
            raise template_error(
                self.locate,
                join_pointer("/Conditions", name),
                "Template "
                f"format error: Circular dependency between conditions: "
                f"{' -> '.join(cycle)}.",
            )
        self.active.append(name)
        try:
            body = self.section[name]
            body_pointer = join_pointer("/Conditions", name)
            if not (
                isinstance(body, dict)
                and len(body) == 1
                and next(iter(body)) in CONDITION_FUNCTIONS
            ):
                raise template_error(
                    self.locate,
                    body_pointer,
                    f"Condition {name!r} must be a "
                    "condition function (Fn::Equals, Fn::And, Fn::Or, Fn::Not "
                    "or Condition).",
                )
            result = self.evaluator.evaluate(body, body_pointer, True)
        finally:
            self.active.pop()
        if isinstance(result, Residual):
            value: bool | None = None
        elif isinstance(result, bool):
            value = result
        else:
            raise template_error(
                self.locate,
                join_pointer("/Conditions", name),
                f"Condition {name!r} does not evaluate to true or false.",
            )
        self.values[name] = value
        return value

    def evaluate_all(self) -> dict[str, bool | None]:
        """Evaluate every condition (reporting the first bad one).

        Returns:
            Every condition's value by name.
        """
        for name in self.section:
            self.value(name, join_pointer("/Conditions", name))
        return dict(self.values)


def check_mappings(mappings: Any, locate: Callable[[str], Any]) -> None:
    """Check the Mappings section: maps of top-level keys to objects of literal values.

    Args:
        mappings: The section.
        locate: Maps a JSON pointer to a SourceLocation.

    Raises:
        TemplateError: For a map or top-level key that is not an object, or a value that is
            an intrinsic function (mappings cannot contain them).
    """
    if not isinstance(mappings, dict):
        raise template_error(locate, "/Mappings", "Mappings must be an object.")
    for name, mapping in mappings.items():
        pointer = join_pointer("/Mappings", name)
        if not isinstance(mapping, dict):
            raise template_error(
                locate, pointer, f"Mapping {name!r} must be an object of top-level keys."
            )
        for top, values in mapping.items():
            top_pointer = join_pointer(pointer, top)
            if not isinstance(values, dict):
                raise template_error(
                    locate,
                    top_pointer,
                    f"Mapping {name!r}, key {top!r} must be an object of second-level keys.",
                )
            for key, value in values.items():
                if _has_function(value):
                    raise template_error(
                        locate,
                        join_pointer(top_pointer, key),
                        "Mappings cannot contain intrinsic functions or references.",
                    )


def _has_function(value: Any) -> bool:
    if isinstance(value, dict):
        if any(k == "Ref" or k.startswith("Fn::") or k == "Condition" for k in value):
            return True
        return any(_has_function(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_function(v) for v in value)
    return False


# ---------------------------------------------------------------------------------------------
# Rules

_RULE_FUNCTIONS = (
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Fn::Implies",
)


def check_rules(
    section: Any, evaluator: Evaluator, locate: Callable[[str], Any]
) -> list[tuple[str, str]]:
    """Evaluate the Rules section's assertions against the parameter values.

    Args:
        section: The ``Rules`` section (None when absent).
        evaluator: Evaluates references to parameters.
        locate: Maps a JSON pointer to a SourceLocation.

    Returns:
        (pointer, message) of every failed assertion.

    Raises:
        TemplateError: If the section is malformed.
    """
    if section is None:
        return []
    if not isinstance(section, dict):
        raise template_error(locate, "/Rules", "Rules must be an object.")
    failures = []
    for name, rule in section.items():
        pointer = join_pointer("/Rules", name)
        if not isinstance(rule, dict) or not isinstance(rule.get("Assertions"), list):
            raise template_error(locate, pointer, f"Rule {name!r} needs a list of Assertions.")
        if "RuleCondition" in rule and not _rule_value(
            rule["RuleCondition"], join_pointer(pointer, "RuleCondition"), evaluator
        ):
            continue
        for i, assertion in enumerate(rule["Assertions"]):
            a_pointer = join_pointer(pointer, "Assertions", i)
            if not isinstance(assertion, dict) or "Assert" not in assertion:
                raise template_error(locate, a_pointer, "An assertion needs an Assert.")
            if not _rule_value(assertion["Assert"], join_pointer(a_pointer, "Assert"), evaluator):
                description = assertion.get("AssertDescription") or f"Rule {name!r} failed."
                failures.append((a_pointer, str(description)))
    return failures


def _rule_value(node: Any, pointer: str, evaluator: Evaluator) -> Any:
    if isinstance(node, dict) and len(node) == 1:
        key, arg = next(iter(node.items()))
        if key in _RULE_FUNCTIONS:
            return _rule_function(key, arg, pointer, evaluator)
        if key in ("Fn::And", "Fn::Or", "Fn::Not"):
            if not isinstance(arg, list):
                raise evaluator.error(pointer, f"{key} takes a list.")
            values = [
                bool(_rule_value(a, join_pointer(pointer, key, i), evaluator))
                for i, a in enumerate(arg)
            ]
            if key == "Fn::And":
                return all(values)
            if key == "Fn::Or":
                return any(values)
            return not values[0]
        if key == "Fn::Equals":
            args = [
                _rule_value(a, join_pointer(pointer, key, i), evaluator)
                for i, a in enumerate(arg if isinstance(arg, list) else [])
            ]
            if len(args) != 2:
                raise evaluator.error(pointer, "Fn::Equals takes two values.")
            return _texts(args[0]) == _texts(args[1])
    value = evaluator.evaluate(node, pointer, True)
    if is_opaque(value):
        raise evaluator.error(pointer, "Rules can only refer to parameters.")
    return value


def _texts(value: Any) -> Any:
    if isinstance(value, list):
        return [_texts(v) for v in value]
    try:
        return to_text(value)
    except IntrinsicError:
        return value


def _rule_function(key: str, arg: Any, pointer: str, evaluator: Evaluator) -> Any:
    if key in ("Fn::ValueOf", "Fn::ValueOfAll", "Fn::RefAll"):
        raise evaluator.error(
            pointer, f"{key} needs AWS resource lookups, which stackflow does not support in Rules."
        )
    if not isinstance(arg, list) or len(arg) != 2:
        raise evaluator.error(pointer, f"{key} takes two arguments.")
    first = _texts(_rule_value(arg[0], join_pointer(pointer, key, 0), evaluator))
    second = _texts(_rule_value(arg[1], join_pointer(pointer, key, 1), evaluator))
    if key == "Fn::Implies":
        return (not first) or bool(second)
    if key == "Fn::Contains":
        return isinstance(first, list) and second in first
    members = first if isinstance(first, list) else [first]
    if key == "Fn::EachMemberEquals":
        return all(m == second for m in members)
    allowed = second if isinstance(second, list) else [second]
    return all(m in allowed for m in members)
