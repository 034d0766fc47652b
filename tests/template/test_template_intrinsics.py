"""Intrinsic functions through resolve_template, and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from stackflow.errors import TemplateError
from stackflow.testing import resolve_template

PSEUDO = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "s1",
    "AvailabilityZones": {"eu-west-1": ["eu-west-1a", "eu-west-1b"]},
}


def _value(value: Any, **kwargs: Any) -> Any:
    template = {
        "Parameters": {"P": {"Type": "String", "Default": "pv"}},
        "Mappings": {"M": {"k": {"v": "mapped"}}},
        "Conditions": {"Yes": {"Fn::Equals": ["a", "a"]}},
        "Resources": {
            "B": {"Type": "Test::Thing"},
            "R": {"Type": "Test::Thing", "Properties": {"V": value}},
        },
    }
    result = resolve_template(template, pseudo=PSEUDO, **kwargs)
    return result.resources["R"]["Properties"].get("V", "<removed>")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"Ref": "P"}, "pv"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "B"}, "B-physical"),
        ({"Fn::GetAtt": ["B", "Arn"]}, "B.Arn"),
        ({"Fn::GetAtt": "B.Out.Name"}, "B.Out.Name"),
        ({"Fn::Join": ["-", ["a", {"Ref": "P"}, "c"]]}, "a-pv-c"),
        ({"Fn::Join": ["", []]}, ""),
        ({"Fn::Select": ["1", ["a", "b"]]}, "b"),
        ({"Fn::Split": [",", "a,,b"]}, ["a", "", "b"]),
        (
            {"Fn::Sub": "${P}-${AWS::AccountId}-${B}-${B.Arn}-${!Literal}"},
            "pv-123456789012-B-physical-B.Arn-${Literal}",
        ),
        ({"Fn::Sub": ["${x}/${P}", {"x": {"Ref": "P"}}]}, "pv/pv"),
        ({"Fn::If": ["Yes", "t", "f"]}, "t"),
        ({"Fn::If": ["Yes", {"Ref": "AWS::NoValue"}, "f"]}, "<removed>"),
        ([{"Fn::If": ["Yes", {"Ref": "AWS::NoValue"}, "f"]}, "x"], ["x"]),
        ({"Fn::FindInMap": ["M", "k", "v"]}, "mapped"),
        ({"Fn::FindInMap": ["M", "k", "zz", {"DefaultValue": "d"}]}, "d"),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::Cidr": ["10.0.0.0/24", 2, 6]}, ["10.0.0.0/26", "10.0.0.64/26"]),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b"]),
        ({"Fn::Length": ["a", "b", "c"]}, 3),
        ({"Fn::ToJsonString": {"a": [1, "b"]}}, '{"a":[1,"b"]}'),
    ],
)
def test_intrinsic_values(expr: Any, expected: Any) -> None:
    assert _value(expr) == expected


def test_echoed_values_are_used() -> None:
    value = _value(
        {"Fn::Join": [":", [{"Ref": "B"}, {"Fn::GetAtt": ["B", "Arn"]}]]},
        physical_ids={"B": "b-1"},
        attributes={"B": {"Arn": "arn:b"}},
    )
    assert value == "b-1:arn:b"


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ({"Fn::Select": [5, ["a"]]}, "cannot select element 5"),
        ({"Fn::Select": ["x", ["a"]]}, "index must be an integer"),
        ({"Fn::Select": [0, 2]}, "must be a list"),
        ({"Fn::Split": ["", "abc"]}, "non-empty string"),
        ({"Fn::Split": "abc"}, "requires a list of 2"),
        ({"Fn::Join": ["-", [{"a": 1}]]}, "must be a string"),
        ({"Fn::GetAtt": ["B"]}, "requires a list of 2"),
        ({"Fn::GetAtt": ["Nope", "Arn"]}, "Unresolved resource dependencies [Nope]"),
        ({"Ref": "Nope"}, "Unresolved"),
        ({"Fn::FindInMap": ["M", "k", "zz"]}, "Unable to get mapping"),
        ({"Fn::FindInMap": ["Nope", "k", "v"]}, "not defined in Mappings"),
        ({"Fn::If": ["Missing", "a", "b"]}, "not defined in Conditions"),
        ({"Fn::Length": "abc"}, "needs a list"),
        ({"Fn::ToJsonString": "abc"}, "needs an object or a list"),
        ({"Fn::Sub": ["${x}", {"x": None}]}, "must not be null"),
        ({"Fn::Equals": ["a", "a"]}, "only be used in Conditions"),
    ],
)
def test_intrinsic_errors_name_the_place(expr: Any, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        _value(expr)
    assert fragment in str(info.value)
    assert any(
        p.location.pointer.startswith("/Resources/R/Properties/V") for p in info.value.problems
    )


def test_yaml_errors_name_line_and_column() -> None:
    text = "Resources:\n  R:\n    Type: Test::Thing\n    Properties:\n      V: !Ref Nope\n"
    with pytest.raises(TemplateError) as info:
        resolve_template(text)
    loc = info.value.problems[0].location
    assert loc.line == 5
    assert loc.pointer == "/Resources/R/Properties/V/Ref"


def test_outputs_and_exports() -> None:
    template = {
        "Resources": {"B": {"Type": "Test::Thing"}},
        "Outputs": {
            "O": {"Value": {"Fn::Sub": "${B}!"}, "Export": {"Name": "exp"}},
            "Hidden": {"Value": "x", "Condition": "No"},
        },
        "Conditions": {"No": {"Fn::Equals": ["a", "b"]}},
    }
    result = resolve_template(template)
    assert result.outputs == {"O": "B-physical!"}
    assert result.conditions == {"No": False}
