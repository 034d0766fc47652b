"""Parameter values and constraints (NoEcho values never in messages)."""

from __future__ import annotations

from typing import Any

import pytest

from stackflow.errors import TemplateError
from stackflow.testing import resolve_template


def _resolve(declarations: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    template = {
        "Parameters": declarations,
        "Resources": {
            "R": {
                "Type": "Test::Thing",
                "Properties": {name: {"Ref": name} for name in declarations},
            }
        },
    }
    props = resolve_template(template, values).resources["R"]["Properties"]
    assert isinstance(props, dict)
    return props


def test_types_and_defaults() -> None:
    props = _resolve(
        {
            "S": {"Type": "String", "Default": "d"},
            "N": {"Type": "Number", "Default": 3},
            "L": {"Type": "CommaDelimitedList"},
            "LN": {"Type": "List<Number>"},
            "K": {"Type": "AWS::EC2::KeyPair::KeyName"},
        },
        {"L": " a , b,,c ", "LN": "1,2", "K": "key"},
    )
    assert props == {"S": "d", "N": "3", "L": ["a", "b", "", "c"], "LN": ["1", "2"], "K": "key"}


@pytest.mark.parametrize(
    ("declaration", "value", "fragment"),
    [
        ({"Type": "String", "AllowedValues": ["a", "b"]}, "c", "must be one of"),
        ({"Type": "String", "AllowedPattern": "[a-z]+"}, "abc1", "must match pattern"),
        ({"Type": "String", "MinLength": 3}, "ab", "length must be at least 3"),
        ({"Type": "String", "MaxLength": "2"}, "abc", "length must be at most 2"),
        ({"Type": "Number", "MinValue": 10}, "9", "value must be at least 10"),
        ({"Type": "Number", "MaxValue": 10}, "11", "value must be at most 10"),
        ({"Type": "Number"}, "12ab", "must be a number"),
        ({"Type": "List<Number>"}, "1,x", "must be a number"),
        ({"Type": "CommaDelimitedList", "AllowedPattern": "[a-z]+"}, "ab,c1", "must match"),
        ({"Type": "Strin"}, "x", "Invalid parameter type"),
    ],
)
def test_constraint_violations(declaration: dict[str, Any], value: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        _resolve({"P": declaration}, {"P": value})
    assert fragment in str(info.value)
    assert info.value.problems[0].location.pointer.startswith("/Parameters/P")


def test_constraint_description_is_shown() -> None:
    declaration = {
        "Type": "String",
        "AllowedPattern": "[0-9]+",
        "ConstraintDescription": "must contain only digits",
    }
    with pytest.raises(TemplateError) as info:
        _resolve({"P": declaration}, {"P": "x"})
    message = info.value.problems[0].message
    assert message.startswith("Parameter 'P' must contain only digits (")
    assert "[0-9]+" in message


def test_no_echo_value_never_in_errors() -> None:
    declaration = {"Type": "String", "NoEcho": "true", "AllowedPattern": "[a-z]+", "MaxLength": 3}
    for secret in ("Secret-123", "abcdefgh"):
        with pytest.raises(TemplateError) as info:
            _resolve({"Pwd": declaration}, {"Pwd": secret})
        assert secret not in str(info.value)


def test_missing_value_and_unknown_parameter() -> None:
    with pytest.raises(TemplateError, match="must have values"):
        _resolve({"P": {"Type": "String"}}, {})
    with pytest.raises(TemplateError, match="do not exist"):
        _resolve({"P": {"Type": "String", "Default": "x"}}, {"Q": "y"})


def test_rules_assertions() -> None:
    template = {
        "Parameters": {"Env": {"Type": "String"}, "Size": {"Type": "String"}},
        "Rules": {
            "ProdSize": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "Assertions": [
                    {
                        "Assert": {"Fn::Contains": [["large"], {"Ref": "Size"}]},
                        "AssertDescription": "prod needs large",
                    }
                ],
            }
        },
        "Resources": {"R": {"Type": "Test::Thing"}},
    }
    assert resolve_template(template, {"Env": "dev", "Size": "small"}).order == ["R"]
    with pytest.raises(TemplateError, match="prod needs large"):
        resolve_template(template, {"Env": "prod", "Size": "small"})
