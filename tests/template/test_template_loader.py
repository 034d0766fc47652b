"""Template loader: YAML short forms, JSON, duplicates, anchors, dates and locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackflow.errors import TemplateError
from stackflow.template import load_template, load_template_file

YAML = """\
AWSTemplateFormatVersion: 2010-09-09
Resources:
  A:
    Type: Test::Thing
    Properties:
      Ref: !Ref Param
      Att: !GetAtt B.Outputs.Name
      AttList: !GetAtt [B, Arn]
      Sub: !Sub "${AWS::Region}-x"
      Join: !Join [",", [a, b]]
      Select: !Select [0, !Split [",", "a,b"]]
      If: !If [Cond, !Base64 x, !GetAZs ""]
      Map: !FindInMap [M, k, v]
      Cidr: !Cidr ["10.0.0.0/16", 2, 8]
      Imp: !ImportValue name
      Len: !Length [1, 2]
      Json: !ToJsonString {a: 1}
Conditions:
  Cond: !And [!Equals [a, a], !Or [!Not [!Condition Other], !Equals [b, b]]]
"""


def test_short_forms_become_long_forms() -> None:
    doc = load_template(YAML).document
    props = doc["Resources"]["A"]["Properties"]
    assert props["Ref"] == {"Ref": "Param"}
    assert props["Att"] == {"Fn::GetAtt": ["B", "Outputs.Name"]}
    assert props["AttList"] == {"Fn::GetAtt": ["B", "Arn"]}
    assert props["Sub"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert props["Join"] == {"Fn::Join": [",", ["a", "b"]]}
    assert props["Select"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert props["If"] == {"Fn::If": ["Cond", {"Fn::Base64": "x"}, {"Fn::GetAZs": ""}]}
    assert props["Map"] == {"Fn::FindInMap": ["M", "k", "v"]}
    assert props["Cidr"] == {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}
    assert props["Imp"] == {"Fn::ImportValue": "name"}
    assert props["Len"] == {"Fn::Length": [1, 2]}
    assert props["Json"] == {"Fn::ToJsonString": {"a": 1}}
    cond = doc["Conditions"]["Cond"]
    assert cond["Fn::And"][1]["Fn::Or"][0] == {"Fn::Not": [{"Condition": "Other"}]}


def test_dates_stay_strings() -> None:
    doc = load_template(YAML).document
    assert doc["AWSTemplateFormatVersion"] == "2010-09-09"


def test_duplicate_yaml_key_is_an_error_with_line() -> None:
    text = "Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n"
    with pytest.raises(TemplateError) as info:
        load_template(text, file="t.yaml")
    problem = info.value.problems[0]
    assert problem.location.file == "t.yaml"
    assert problem.location.line == 4
    assert problem.location.pointer == "/Resources/A"
    assert "more than once" in problem.message


def test_duplicate_json_key_is_an_error() -> None:
    with pytest.raises(TemplateError) as info:
        load_template('{"Resources": {"A": {"Type": "X"}, "A": {"Type": "Y"}}}')
    assert info.value.problems[0].location.pointer == "/Resources/A"


def test_anchors_and_aliases_are_errors() -> None:
    text = "Resources:\n  A: &a\n    Type: X\n  B: *a\n"
    with pytest.raises(TemplateError) as info:
        load_template(text, file="t.yaml")
    assert {p.location.line for p in info.value.problems} == {2, 4}
    assert "anchor" in str(info.value)


def test_unknown_tag_is_an_error() -> None:
    with pytest.raises(TemplateError, match="Unknown YAML tag !Reff"):
        load_template("Resources:\n  A:\n    Type: !Reff X\n")


def test_syntax_errors_have_positions() -> None:
    with pytest.raises(TemplateError) as info:
        load_template('{"Resources": {"A": }}', file="t.json")
    loc = info.value.problems[0].location
    assert (loc.file, loc.line, loc.column) == ("t.json", 1, 21)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(TemplateError, match="must be an object"):
        load_template("- a\n- b\n")


def test_locations_of_keys(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(YAML)
    loaded = load_template_file(path)
    loc = loaded.locate("/Resources/A/Properties/Sub")
    assert (loc.file, loc.line, loc.column) == (str(path), 9, 7)
    assert loaded.locate("/Resources/A/Properties/Sub/Fn::Sub").line == 9
