"""expand_template: AWS::LanguageExtensions processing."""

from __future__ import annotations

import pytest

from stackflow.errors import TemplateError
from stackflow.template import expand_template


def test_foreach_and_resolvable_functions() -> None:
    template = {
        "Parameters": {"Stage": {"Type": "String", "Default": "prod"}, "Free": {"Type": "String"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        "Resources": {
            "Fn::ForEach::Topics": [
                "Name",
                ["a", "b"],
                {
                    "Topic${Name}": {
                        "Type": "AWS::SNS::Topic",
                        "Properties": {
                            "TopicName": {"Fn::Sub": "t-${Name}"},
                            "Size": {"Fn::Length": [1, 2, 3]},
                            "Mode": {"Fn::If": ["IsProd", "p", "d"]},
                            "Free": {"Ref": "Free"},
                            "Other": {"Fn::GetAtt": ["X", "Arn"]},
                            "Json": {"Fn::ToJsonString": {"k": {"Ref": "Stage"}}},
                        },
                    }
                },
            ]
        },
    }
    out = expand_template(template)
    assert out["Conditions"] == template["Conditions"]
    assert out["Resources"]["Topica"]["Properties"] == {
        "TopicName": "t-a",
        "Size": 3,
        "Mode": "p",
        "Free": {"Ref": "Free"},
        "Other": {"Fn::GetAtt": ["X", "Arn"]},
        "Json": '{"k":"prod"}',
    }
    assert set(out["Resources"]) == {"Topica", "Topicb"}


@pytest.mark.parametrize(
    "resources",
    [
        {"Fn::ForEach::L": ["1x-", ["a"], {"T${x}": {"Type": "T"}}]},
        {"Fn::ForEach::L": ["x", None, {"T${x}": {"Type": "T"}}]},
        {"Fn::ForEach::L": []},
        {"Fn::ForEach::L": ["x", ["a", "a"], {"T${x}": {"Type": "T"}}]},
        {"A": {"Type": "T", "Properties": {"V": {"Fn::Length": "abc"}}}},
        {"A": None},
    ],
)
def test_rejected(resources: dict[str, object]) -> None:
    with pytest.raises(TemplateError):
        expand_template({"Resources": resources})


def test_false_condition_resources_are_left_alone() -> None:
    template = {
        "Conditions": {"No": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "A": {
                "Type": "T",
                "Condition": "No",
                "Properties": {"V": {"Fn::FindInMap": ["Missing", "x", "y"]}},
            }
        },
    }
    assert expand_template(template)["Resources"] == template["Resources"]
