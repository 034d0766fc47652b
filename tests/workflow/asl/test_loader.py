"""Tests of stackflow.workflow.asl.loader: JSON/YAML loading with a source map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackflow.errors import DefinitionError, SourceLocation
from stackflow.workflow.asl.loader import (
    LoadedDefinition,
    SourceMap,
    escape_pointer_token,
    from_object,
    join_pointer,
    load_definition,
    load_definition_file,
)

JSON_TEXT = """{
  "StartAt": "A",
  "States": {
    "A": {"Type": "Pass", "Result": [1, {"x/y": "~"}], "End": true}
  }
}"""

YAML_TEXT = """\
StartAt: A
States:
  A:
    Type: Wait
    Timestamp: 2016-03-14T01:59:00Z
    End: true
"""


def _problem(exc: pytest.ExceptionInfo[DefinitionError]) -> tuple[str, str]:
    assert len(exc.value.problems) == 1
    problem = exc.value.problems[0]
    return str(problem.location), problem.message


def test_json_document_matches_json_loads() -> None:
    loaded = load_definition(JSON_TEXT)
    assert loaded.document == json.loads(JSON_TEXT)


def test_json_positions_of_keys_and_values() -> None:
    loaded = load_definition(JSON_TEXT, file="wf.json")
    assert loaded.locate("/StartAt") == SourceLocation("wf.json", 2, 3, "/StartAt")
    assert loaded.source_map.locate_value("/StartAt") == SourceLocation(
        "wf.json", 2, 14, "/StartAt"
    )
    assert loaded.locate("/States/A/End") == SourceLocation("wf.json", 4, 56, "/States/A/End")
    # Array elements have no key: their value position is used.
    assert loaded.locate("/States/A/Result/1") == SourceLocation(
        "wf.json", 4, 41, "/States/A/Result/1"
    )
    assert loaded.locate("") == SourceLocation("wf.json", 1, 1, "")


def test_pointer_escaping_follows_rfc_6901() -> None:
    loaded = load_definition(JSON_TEXT)
    assert escape_pointer_token("a/b~c") == "a~1b~0c"
    assert join_pointer("/States", "a/b", 0) == "/States/a~1b/0"
    assert loaded.source_map.position("/States/A/Result/1/x~1y") == (4, 42)


def test_locate_falls_back_to_nearest_ancestor_and_keeps_pointer() -> None:
    loaded = load_definition(JSON_TEXT)
    location = loaded.locate("/States/A/Next/deeper")
    assert (location.line, location.column) == (4, 5)
    assert location.pointer == "/States/A/Next/deeper"


def test_yaml_positions_and_timestamps_stay_strings() -> None:
    loaded = load_definition(YAML_TEXT, file="wf.yaml")
    assert loaded.document["States"]["A"]["Timestamp"] == "2016-03-14T01:59:00Z"
    assert loaded.document["States"]["A"]["End"] is True
    assert loaded.locate("/States/A/Timestamp") == SourceLocation(
        "wf.yaml", 5, 5, "/States/A/Timestamp"
    )
    assert loaded.source_map.locate_value("/States/A/Timestamp").column == 16


def test_yaml_keys_are_kept_as_written() -> None:
    loaded = load_definition("StartAt: on\nStates:\n  on: {Type: Succeed}\n  1: {Type: Pass}\n")
    assert loaded.document["StartAt"] is True  # YAML 1.1 value, as PyYAML reads it
    assert set(loaded.document["States"]) == {"on", "1"}


def test_duplicate_json_key_is_reported_at_second_occurrence() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition('{"StartAt": "A",\n "StartAt": "B", "States": {}}', file="d.json")
    assert _problem(exc) == (
        "d.json:2:2 (/StartAt)",
        'Key "StartAt" appears more than once in the same object (first at line 1, column 2).',
    )
    assert exc.value.problems[0].code == "DUPLICATE_KEY"


def test_duplicate_state_name_in_yaml() -> None:
    text = "StartAt: A\nStates:\n  A: {Type: Succeed}\n  A: {Type: Pass, End: true}\n"
    with pytest.raises(DefinitionError) as exc:
        load_definition(text, file="d.yaml")
    assert _problem(exc) == (
        "d.yaml:4:3 (/States/A)",
        'State name "A" appears more than once in the same object (first at line 3, column 3).',
    )
    assert exc.value.problems[0].code == "DUPLICATE_STATE_NAME"


def test_json_syntax_error_has_line_and_column() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition('{\n  "StartAt": "A",\n  "States": {,}\n}', file="bad.json")
    assert _problem(exc) == ("bad.json:3:14 (/)", "Invalid JSON: Expected a key in double quotes.")
    assert exc.value.problems[0].code == "INVALID_JSON_DESCRIPTION"


def test_json_trailing_comma_is_an_error_not_yaml() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition('{"StartAt": "A",}')
    assert _problem(exc) == (
        "<definition>:1:17 (/)",
        "Invalid JSON: Expected a key in double quotes.",
    )


def test_json_bad_string_escape() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition('{"a": "x\\q"}')
    location, message = _problem(exc)
    assert location == "<definition>:1:9 (/)"
    assert message.startswith("Invalid JSON: Invalid \\escape")


def test_yaml_syntax_error_has_line_and_column() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition("StartAt: A\nStates:\n  A: [1, 2\n", file="bad.yaml")
    location, message = _problem(exc)
    assert location == "bad.yaml:4:1 (/)"
    assert message.startswith("Invalid YAML: ")


@pytest.mark.parametrize(
    ("text", "kind"), [("[1, 2]", "an array"), ("- a\n", "an array"), ("42", "a number")]
)
def test_top_level_must_be_an_object(text: str, kind: str) -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition(text)
    assert _problem(exc)[1] == (
        f"The definition must be an object with StartAt and States, not {kind}."
    )


def test_empty_text_is_an_error() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition("  \n")
    assert exc.value.problems[0].code == "MISSING_DESCRIPTION"


def test_json_file_name_forces_json() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_definition("StartAt: A\n", file="wf.json")
    assert _problem(exc)[1] == "Invalid JSON: Expected a value but found 'S'."


def test_from_object_has_no_positions() -> None:
    loaded = from_object({"StartAt": "A", "States": {}})
    assert isinstance(loaded, LoadedDefinition)
    assert loaded.locate("/States/A") == SourceLocation(None, None, None, "/States/A")
    with pytest.raises(DefinitionError):
        from_object([1])  # type: ignore[arg-type]


def test_load_definition_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(YAML_TEXT, encoding="utf-8")
    loaded = load_definition_file(path)
    assert loaded.source_map.file == str(path)
    assert loaded.locate("/States").line == 2


def test_empty_source_map_locates_nothing() -> None:
    assert SourceMap("f").locate("/a/b") == SourceLocation("f", None, None, "/a/b")


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _pointers(value: Any, pointer: str = "") -> list[str]:
    found = [pointer]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _pointers(item, join_pointer(pointer, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _pointers(item, join_pointer(pointer, index))
    return found


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _json_values, max_size=5), st.sampled_from([None, 2]))
def test_json_scanner_agrees_with_json_module(document: dict[str, Any], indent: int | None) -> None:
    text = json.dumps(document, indent=indent)
    loaded = load_definition(text)
    assert loaded.document == json.loads(text)
    lines = text.split("\n")
    for pointer in _pointers(document):
        position = loaded.source_map.values[pointer]
        # The recorded value position points at the first character of the value's JSON text.
        assert lines[position[0] - 1][position[1] - 1] in '{["-0123456789tfnNI'
