"""prepare_template: conditions, dependencies, cycles, KNOWN_AFTER_APPLY propagation."""

from __future__ import annotations

from typing import Any

import pytest

from stackflow.errors import TemplateError
from stackflow.template import (
    KNOWN_AFTER_APPLY,
    PseudoParameters,
    load_template,
    prepare_template,
)
from stackflow.testing import resolve_template

PSEUDO = PseudoParameters(stack_name="s", stack_id="id-1", region="local")


def _prepare(template: dict[str, Any] | str, params: dict[str, str] | None = None) -> Any:
    import json

    text = template if isinstance(template, str) else json.dumps(template)
    return prepare_template(load_template(text, file="t.yaml"), params, PSEUDO)


class _Values:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known

    def physical_id(self, logical_id: str) -> Any:
        return self.known.get(logical_id, KNOWN_AFTER_APPLY)

    def attribute(self, logical_id: str, name: str) -> Any:
        if logical_id not in self.known:
            return KNOWN_AFTER_APPLY
        if name == "Missing":
            raise KeyError(name)
        return f"{self.known[logical_id]}.{name}"


TEMPLATE = {
    "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
    },
    "Resources": {
        "C": {"Type": "T::X", "Properties": {"V": {"Fn::Sub": "${B.Arn}"}}},
        "B": {"Type": "T::X", "Properties": {"V": {"Ref": "A"}}, "DependsOn": "D"},
        "A": {"Type": "T::X"},
        "D": {"Type": "T::X"},
        "P": {"Type": "T::X", "Condition": "IsProd", "Properties": {"V": {"Ref": "A"}}},
        "E": {
            "Type": "T::X",
            "Properties": {"V": {"Fn::If": ["IsProd", {"Ref": "P"}, "none"]}},
        },
    },
    "Outputs": {"Out": {"Value": {"Fn::Join": ["-", [{"Ref": "C"}, "x"]]}}},
}


def test_conditions_dependencies_and_order() -> None:
    prepared = _prepare(TEMPLATE)
    assert prepared.conditions == {"IsProd": False, "IsDev": True}
    assert set(prepared.resources) == {"C", "B", "A", "D", "E"}
    assert prepared.dependencies["C"] == frozenset({"B"})
    assert prepared.dependencies["B"] == frozenset({"A", "D"})
    assert prepared.dependencies["E"] == frozenset()
    assert prepared.order == ["A", "D", "B", "C", "E"]
    assert prepared.parameters["Env"].value == "dev"


def test_known_after_apply_propagates_through_functions() -> None:
    prepared = _prepare(TEMPLATE)
    nothing = _Values({})
    assert prepared.resolve_properties("B", nothing) == {"V": KNOWN_AFTER_APPLY}
    assert prepared.resolve_properties("C", nothing) == {"V": KNOWN_AFTER_APPLY}
    assert prepared.resolve_outputs(nothing)["Out"].value is KNOWN_AFTER_APPLY
    assert str(KNOWN_AFTER_APPLY) == "{{changeSet:KNOWN_AFTER_APPLY}}"
    some = _Values({"A": "a-1", "B": "b-1", "C": "c-1"})
    assert prepared.resolve_properties("B", some) == {"V": "a-1"}
    assert prepared.resolve_properties("C", some) == {"V": "b-1.Arn"}
    assert prepared.resolve_outputs(some)["Out"].value == "c-1-x"


def test_missing_attribute_is_an_error() -> None:
    prepared = _prepare(
        {
            "Resources": {
                "A": {"Type": "T"},
                "B": {"Type": "T", "Properties": {"V": {"Fn::GetAtt": ["A", "Missing"]}}},
            }
        }
    )
    with pytest.raises(TemplateError, match="no attribute 'Missing'"):
        prepared.resolve_properties("B", _Values({"A": "a"}))


def test_attribute_names_are_checked_when_known() -> None:
    loaded = load_template(
        '{"Resources": {"A": {"Type": "T"}, "B": {"Type": "T", "Properties": '
        '{"V": {"Fn::GetAtt": ["A", "Arm"]}}}}}'
    )
    with pytest.raises(TemplateError, match='Did you mean "Arn"'):
        prepare_template(loaded, None, PSEUDO, attribute_names=lambda t: frozenset({"Arn"}))


def test_cycle_is_reported_whole() -> None:
    template = {
        "Resources": {
            "A": {"Type": "T", "DependsOn": "C"},
            "B": {"Type": "T", "Properties": {"V": {"Ref": "A"}}},
            "C": {"Type": "T", "Properties": {"V": {"Fn::Sub": "${B}"}}},
        }
    }
    with pytest.raises(TemplateError) as info:
        _prepare(template)
    assert "A -> C -> B -> A" in str(info.value)


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ({"Resources": {"A": {"Type": "T", "DependsOn": "Nope"}}}, "Unresolved"),
        (
            {
                "Conditions": {"No": {"Fn::Equals": ["a", "b"]}},
                "Resources": {
                    "A": {"Type": "T", "Condition": "No"},
                    "B": {"Type": "T", "Properties": {"V": {"Ref": "A"}}},
                },
            },
            "Condition is false",
        ),
        ({"Resources": {"A": {"Type": "T", "Propertes": {}}}}, 'Did you mean "Properties"'),
        ({"Resources": {"A": {"Type": "T"}}, "Output": {}}, 'Did you mean "Outputs"'),
        ({"Resources": {}}, "At least one Resources member"),
        ({"Resources": {"A": {"Properties": {}}}}, "needs a Type"),
        ({"Resources": {"A": {"Type": "T"}}, "Outputs": {"O": {}}}, "needs a Value"),
        (
            {
                "Conditions": {
                    "X": {"Fn::Not": [{"Condition": "Y"}]},
                    "Y": {"Fn::Not": [{"Condition": "X"}]},
                },
                "Resources": {"A": {"Type": "T"}},
            },
            "Circular dependency between conditions",
        ),
        (
            {
                "Conditions": {"C": {"Fn::Equals": [{"Ref": "A"}, "x"]}},
                "Resources": {"A": {"Type": "T"}},
            },
            "Conditions cannot refer to resources",
        ),
        (
            {"Mappings": {"M": {"k": {"v": {"Ref": "X"}}}}, "Resources": {"A": {"Type": "T"}}},
            "Mappings cannot contain",
        ),
    ],
)
def test_invalid_templates(template: dict[str, Any], fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        _prepare(template)
    assert fragment in str(info.value)


def test_errors_carry_file_line_and_column() -> None:
    text = "Resources:\n  A:\n    Type: T\n    DependsOn: [Nope]\n"
    with pytest.raises(TemplateError) as info:
        _prepare(text)
    loc = info.value.problems[0].location
    assert (loc.file, loc.line, loc.pointer) == ("t.yaml", 4, "/Resources/A/DependsOn/0")


def test_imports_are_collected_and_checked() -> None:
    template = {"Resources": {"A": {"Type": "T", "Properties": {"V": {"Fn::ImportValue": "e1"}}}}}
    assert _prepare(template).imports == frozenset({"e1"})
    loaded = load_template(
        '{"Resources": {"A": {"Type": "T", "Properties": {"V": {"Fn::ImportValue": "e1"}}}}}'
    )
    with pytest.raises(TemplateError, match="No export named e1"):
        prepare_template(loaded, None, PSEUDO, imports={})
    prepared = prepare_template(loaded, None, PSEUDO, imports={"e1": "v"})
    assert prepared.resolve_properties("A", _Values({})) == {"V": "v"}


def test_foreach_in_resolve_when_transform_declared() -> None:
    template = {
        "Transform": "AWS::LanguageExtensions",
        "Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a,b"}},
        "Resources": {
            "Fn::ForEach::Loop": [
                "N",
                {"Ref": "Names"},
                {"Thing${N}": {"Type": "T", "Properties": {"Name": {"Ref": "N"}}}},
            ]
        },
    }
    result = resolve_template(template)
    assert result.resources == {
        "Thinga": {"Type": "T", "Properties": {"Name": "a"}},
        "Thingb": {"Type": "T", "Properties": {"Name": "b"}},
    }
