"""Tests for the ItemReader file formats (stackflow.workflow.mapio_formats)."""

from __future__ import annotations

import pytest

from stackflow.errors import WorkflowFailure
from stackflow.workflow.mapio_formats import csv_items, csv_records, json_items, jsonl_items


def test_csv_records_line_numbers_skip_blank_lines_and_span_quoted_newlines() -> None:
    text = 'a,b\n\n"x\ny",2\r\nlast,3'
    assert list(csv_records(text, ",")) == [(1, ["a", "b"]), (3, ["x\ny", "2"]), (5, ["last", "3"])]


def test_csv_quoted_delimiters_and_doubled_quotes() -> None:
    assert list(csv_records('"a,b","say ""hi""",c""d\n', ",")) == [(1, ["a,b", 'say "hi"', 'c"d'])]


def test_csv_backslash_before_other_characters_is_dropped() -> None:
    assert list(csv_records("a\\nb,c\\|d\n", ",")) == [(1, ["anb", "c|d"])]
    assert list(csv_records("a\\|b|c\n", "|")) == [(1, ["a|b", "c"])]


def test_csv_empty_file_gives_no_items() -> None:
    assert csv_items("", "e.csv", {}, None) == []  # type: ignore[arg-type]


def test_csv_header_over_10_kib_fails() -> None:
    text = ",".join(f"column{i:05d}" for i in range(1000)) + "\n1\n"
    with pytest.raises(WorkflowFailure, match="header row is over 10240 bytes"):
        csv_items(text, "h.csv", {}, None)  # type: ignore[arg-type]


def test_json_items_pointer_misses_and_non_array() -> None:
    with pytest.raises(WorkflowFailure, match="selects nothing"):
        json_items('{"a": {}}', "f.json", "/a/b")  # type: ignore[arg-type]
    with pytest.raises(WorkflowFailure, match="at ItemsPointer '/a'"):
        json_items('{"a": 5}', "f.json", "/a")  # type: ignore[arg-type]
    assert json_items('{"a/b": [[0], [1, 2]]}', "f.json", "/a~1b/1") == [1, 2]  # type: ignore[arg-type]


def test_jsonl_limit_stops_before_bad_lines() -> None:
    assert jsonl_items("1\n2\nnot json\n", "f.jsonl", 2) == [1, 2]  # type: ignore[arg-type]
